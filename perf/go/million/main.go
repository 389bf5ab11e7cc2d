// Command million spawns N goroutines, then lets them all go at once: each
// waits for the start (a channel closed once all N are spawned), then
// sleeps MS milliseconds; it waits for all of them. All N are alive at
// the same time however long spawning takes. This is the Go side of
// ringo's "one million sleeping tasks" comparison (perf/million_compare).
// Run it with GOMAXPROCS=1.
//
//	million N MS
//
// Prints go_tasks, go_spawn_s (time to start all N), go_wall_s (start of
// spawning to the last one finishing) and go_peak_rss_kb (VmHWM).
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

func peakRSSKB() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "VmHWM:") {
			fields := strings.Fields(line)
			if len(fields) >= 2 {
				v, err := strconv.ParseInt(fields[1], 10, 64)
				if err == nil {
					return v
				}
			}
		}
	}
	return -1
}

func main() {
	// The comparison is single-threaded; honour an explicit GOMAXPROCS.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: million N MS")
		os.Exit(2)
	}
	n, err1 := strconv.Atoi(os.Args[1])
	ms, err2 := strconv.Atoi(os.Args[2])
	if err1 != nil || err2 != nil || n <= 0 || ms < 0 {
		fmt.Fprintln(os.Stderr, "usage: million N MS")
		os.Exit(2)
	}
	d := time.Duration(ms) * time.Millisecond
	var wg sync.WaitGroup
	wg.Add(n)
	begin := make(chan struct{})
	start := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			<-begin
			time.Sleep(d)
			wg.Done()
		}()
	}
	spawn := time.Since(start)
	close(begin)
	wg.Wait()
	wall := time.Since(start)
	fmt.Printf("go_tasks %d\n", n)
	fmt.Printf("go_spawn_s %.3f\n", spawn.Seconds())
	fmt.Printf("go_wall_s %.3f\n", wall.Seconds())
	fmt.Printf("go_peak_rss_kb %d\n", peakRSSKB())
}
