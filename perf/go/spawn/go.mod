module ringo/perf/go/spawn

go 1.19
