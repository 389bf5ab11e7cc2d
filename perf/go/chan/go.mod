module ringo/perf/go/chan

go 1.19
