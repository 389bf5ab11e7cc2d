// Command spawn measures the cost of starting a goroutine that returns at
// once and waiting for it, one at a time, 1,000,000 times (GOMAXPROCS=1).
// The counterpart of ringo's spawn+join benchmark.
//
// Prints go_spawn_join_ns: nanoseconds per spawn+join.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func main() {
	// The comparison is single-threaded; honour an explicit GOMAXPROCS.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	n := 1000000
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v <= 0 {
			fmt.Fprintln(os.Stderr, "usage: spawn [COUNT]")
			os.Exit(2)
		}
		n = v
	}
	var wg sync.WaitGroup
	// Warm the scheduler's free lists so the first spawns do not pay for
	// stack allocation that later ones reuse.
	for i := 0; i < 1000; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
		wg.Wait()
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
		wg.Wait()
	}
	el := time.Since(start)
	fmt.Printf("go_spawn_join_ns %.1f\n", float64(el.Nanoseconds())/float64(n))
}
