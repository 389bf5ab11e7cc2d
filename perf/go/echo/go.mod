module ringo/perf/go/echo

go 1.19
