module ringo/perf/go/million

go 1.19
