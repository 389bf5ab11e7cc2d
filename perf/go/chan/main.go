// Command chan measures a buffered channel (capacity 1024) between one
// producer and one consumer goroutine passing 10,000,000 ints
// (GOMAXPROCS=1). The counterpart of ringo's queue benchmark.
//
// Prints go_chan_ns_per_item.
package main

import (
	"fmt"
	"os"
	"runtime"
	"time"
)

const items = 10000000

func main() {
	// The comparison is single-threaded; honour an explicit GOMAXPROCS.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	ch := make(chan int, 1024)
	done := make(chan int)
	start := time.Now()
	go func() {
		sum := 0
		for v := range ch {
			sum += v
		}
		done <- sum
	}()
	for i := 0; i < items; i++ {
		ch <- i
	}
	close(ch)
	sum := <-done
	el := time.Since(start)
	if sum != items*(items-1)/2 {
		fmt.Fprintln(os.Stderr, "chan: wrong sum", sum)
		os.Exit(1)
	}
	fmt.Printf("go_chan_ns_per_item %.2f\n", float64(el.Nanoseconds())/items)
}
