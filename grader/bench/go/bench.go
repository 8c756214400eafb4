// The benchmark workloads as Go programs, for the Go column of `just bench`.
//
// Usage: bench-go spawn|pingpong|idle|cpu|alive|timers N   (GOMAXPROCS from the environment)
//
// Each workload mirrors the Rust one in ../src/ours.rs line for line and
// prints the same one-line report: `value=<float> [csw=<int>]`.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// cpuIters matches CPU_ITERS in ../src/workload.rs.
const cpuIters = 40_000_000

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: bench-go spawn|pingpong|idle|cpu|alive|timers N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "bad N:", os.Args[2])
		os.Exit(2)
	}
	switch os.Args[1] {
	case "spawn":
		spawn(n)
	case "pingpong":
		pingpong(n)
	case "idle":
		idle(n)
	case "cpu":
		cpu(n)
	case "alive":
		alive(n)
	case "timers":
		timers(n)
	default:
		fmt.Fprintln(os.Stderr, "unknown workload:", os.Args[1])
		os.Exit(2)
	}
}

func perOp(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / float64(n) }

func spawn(n int) {
	var wg sync.WaitGroup
	t0 := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	fmt.Printf("value=%v\n", perOp(time.Since(t0), n))
}

func contextSwitches() int64 {
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return u.Nvcsw + u.Nivcsw
}

func pingpong(n int) {
	ping, pong := make(chan uint64), make(chan uint64)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	t0, c0 := time.Now(), contextSwitches()
	for i := uint64(0); i < uint64(n); i++ {
		ping <- i
		if <-pong != i {
			panic("lost a message")
		}
	}
	d, c := time.Since(t0), contextSwitches()-c0
	close(ping)
	fmt.Printf("value=%v csw=%d\n", perOp(d, n), c)
}

// rss reads the resident set size from /proc/self/statm, as the Rust side does.
func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		panic(err)
	}
	pages, _ := strconv.ParseInt(strings.Fields(string(b))[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func idle(n int) {
	var started, block sync.WaitGroup
	before := rss()
	block.Add(1)
	started.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			block.Wait()
		}()
	}
	started.Wait()
	runtime.Gosched()
	after := rss()
	fmt.Printf("value=%v\n", float64(after-before)/float64(n))
}

func cpuWork(iters int) uint64 {
	x := uint64(0x9E3779B97F4A7C15)
	for i := 0; i < iters; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

var sink uint64

func cpu(n int) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	t0 := time.Now()
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			x := cpuWork(cpuIters)
			mu.Lock()
			sink ^= x
			mu.Unlock()
			wg.Done()
		}()
	}
	wg.Wait()
	fmt.Printf("value=%v\n", time.Since(t0).Seconds())
}

// peakRSS is getrusage's ru_maxrss in bytes (KiB on Linux), as the Rust side reads it.
func peakRSS() int64 {
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return u.Maxrss * 1024
}

// pageTableBytes is VmPTE from /proc/self/status: the page tables, which
// the resident size leaves out (0 where there is no such file).
func pageTableBytes() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmPTE:" {
			kib, _ := strconv.ParseInt(f[1], 10, 64)
			return kib * 1024
		}
	}
	return 0
}

func alive(n int) {
	var started, release, finished sync.WaitGroup
	t0 := time.Now()
	release.Add(1)
	started.Add(n)
	finished.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			started.Done()
			release.Wait()
			finished.Done()
		}()
	}
	started.Wait()
	// All alive: the most page tables the run needs.
	pte := pageTableBytes()
	release.Done()
	finished.Wait()
	fmt.Printf("value=%v peak=%d pte=%d\n", time.Since(t0).Seconds(), peakRSS(), pte)
}

// maxSleepUs and sleepUs match ../src/timer_storm.rs: the same durations.
const maxSleepUs = 5000

func sleepUs(i uint64) uint64 {
	z := i + 0x9E3779B97F4A7C15
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return (z ^ (z >> 31)) % (maxSleepUs + 1)
}

// timers: n goroutines sleep a random 0-5 ms at once; median and 99th
// percentile lateness in microseconds, and the early wake-ups.
func timers(n int) {
	late := make([]int64, n)
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			d := time.Duration(sleepUs(uint64(i))) * time.Microsecond
			deadline := time.Now().Add(d)
			time.Sleep(d)
			late[i] = int64(time.Since(deadline))
			wg.Done()
		}(i)
	}
	wg.Wait()
	sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
	at := func(q float64) float64 {
		return float64(late[int(float64(n-1)*q+0.5)]) / 1e3
	}
	early := 0
	for _, l := range late {
		if l < 0 {
			early++
		}
	}
	fmt.Printf("value=%v p99=%v early=%d\n", at(0.50), at(0.99), early)
}
