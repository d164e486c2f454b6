// hello: a statically linked Go program for heron's third-party guest tests. It uses
// the Go runtime's threads and signals (goroutine preemption), goroutines with channels
// and a WaitGroup, maps, fmt, sort, strings, strconv and a little math. Its output is
// deterministic.
package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
)

func worker(id int, jobs <-chan int, results chan<- [2]int, wg *sync.WaitGroup) {
	defer wg.Done()
	for n := range jobs {
		// sum of the digits of n^3, computed the slow way
		s := 0
		for _, c := range strconv.Itoa(n * n * n) {
			s += int(c - '0')
		}
		results <- [2]int{n, s}
	}
	_ = id
}

func primes(limit int) []int {
	sieve := make([]bool, limit+1)
	var ps []int
	for i := 2; i <= limit; i++ {
		if !sieve[i] {
			ps = append(ps, i)
			for j := i * i; j <= limit; j += i {
				sieve[j] = true
			}
		}
	}
	return ps
}

func main() {
	fmt.Println("hello from Go on", runtime.GOARCH, runtime.GOOS)
	fmt.Println("args:", len(os.Args)-1, strings.Join(os.Args[1:], ","))

	jobs := make(chan int, 16)
	results := make(chan [2]int, 16)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go worker(w, jobs, results, &wg)
	}
	go func() {
		for i := 1; i <= 2000; i++ {
			jobs <- i
		}
		close(jobs)
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	digitSums := map[int]int{}
	for r := range results {
		digitSums[r[0]] = r[1]
	}
	hist := map[int]int{}
	for _, s := range digitSums {
		hist[s]++
	}
	keys := make([]int, 0, len(hist))
	for k := range hist {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var sb strings.Builder
	for _, k := range keys[:10] {
		fmt.Fprintf(&sb, "%d:%d ", k, hist[k])
	}
	fmt.Println("digit-sum histogram (first 10):", strings.TrimSpace(sb.String()))
	fmt.Println("entries:", len(digitSums))

	ps := primes(100000)
	fmt.Println("primes below 100000:", len(ps), "last:", ps[len(ps)-1])

	words := strings.Fields("the quick brown fox jumps over the lazy dog the end")
	count := map[string]int{}
	for _, w := range words {
		count[strings.ToUpper(w)]++
	}
	type kv struct {
		k string
		v int
	}
	var kvs []kv
	for k, v := range count {
		kvs = append(kvs, kv{k, v})
	}
	sort.Slice(kvs, func(i, j int) bool {
		if kvs[i].v != kvs[j].v {
			return kvs[i].v > kvs[j].v
		}
		return kvs[i].k < kvs[j].k
	})
	fmt.Println("word counts:", kvs)

	fmt.Printf("math: sqrt2=%.12f pi=%.10f exp1=%.10f sin1=%.10f log10(2)=%.10f\n",
		math.Sqrt(2), math.Pi, math.Exp(1), math.Sin(1), math.Log10(2))
	fmt.Printf("float formatting: %g %e %v %v\n", 1.0/3.0, 123456.789, math.Inf(1), -0.0)
	fmt.Println("int64 overflow wraps:", int64(math.MaxInt64)+int64(len(os.Args)))
	fmt.Println("strconv:", strconv.Quote("tab\there"), strconv.FormatInt(-255, 16))

	// a channel ping-pong between two goroutines
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()
	v := 0
	for i := 0; i < 10000; i++ {
		ping <- v
		v = <-pong
	}
	close(ping)
	fmt.Println("ping-pong:", v)
	var mu sync.Mutex
	total := 0
	var wg2 sync.WaitGroup
	for g := 0; g < 50; g++ {
		wg2.Add(1)
		go func(g int) {
			defer wg2.Done()
			for i := 0; i < 1000; i++ {
				mu.Lock()
				total += g
				mu.Unlock()
			}
		}(g)
	}
	wg2.Wait()
	fmt.Println("mutex total:", total)
	runtime.GC()
	fmt.Println("done")
}
