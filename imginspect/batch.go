package imginspect

import (
	"context"
	"sync"
)

// Outcome is one file's result in a Batch: its verdict, or the error that
// kept it from one.
type Outcome struct {
	Verdict Verdict
	Err     error
}

// Batch inspects every path with up to jobs guests at once (at least
// one), and calls emit for each path in the order given, as soon as it
// and every path before it are done. inspect is Inspect, or a stand-in in
// tests.
func Batch(ctx context.Context, paths []string, jobs int, inspect func(ctx context.Context, path string) (Verdict, error), emit func(i int, o Outcome)) {
	if jobs < 1 {
		jobs = 1
	}
	if jobs > len(paths) {
		jobs = len(paths)
	}
	done := make([]chan Outcome, len(paths))
	for i := range done {
		done[i] = make(chan Outcome, 1)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				v, err := inspect(ctx, paths[i])
				done[i] <- Outcome{v, err}
			}
		}()
	}
	go func() {
		for i := range paths {
			next <- i
		}
		close(next)
	}()
	for i := range paths {
		emit(i, <-done[i])
	}
	wg.Wait()
}
