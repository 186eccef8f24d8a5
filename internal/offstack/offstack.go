// Package offstack runs deep work on a goroutine of its own, for the
// goroutines that serve long streams.
//
// A goroutine keeps, for as long as it lives, the stack its deepest call
// grew: the collector halves a stack only when less than a quarter of it
// is in use. A goroutine serving a stream lives as long as the stream, so
// the deep work before the stream's first event (decoding the request,
// encoding Bedrock's, signing it, the HTTP/2 round trip, net/http writing
// the response header) runs through Run, and the stream's goroutine keeps
// 8 KiB of stack instead of 16: 8 MiB per 1,000 open streams (see the
// open-streams section of docs/benchmarks.md). It costs a goroutine start
// per stream, about a microsecond.
package offstack

// Run runs fn on a new goroutine and returns its result once fn returns. A
// panic in fn is raised again in the caller, where the server's recovery
// sees it.
func Run[T any](fn func() T) T {
	type result struct {
		v        T
		panicked any
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{panicked: p}
			}
		}()
		done <- result{v: fn()}
	}()
	r := <-done
	if r.panicked != nil {
		panic(r.panicked)
	}
	return r.v
}

// Run2 is Run for a function of two results.
func Run2[A, B any](fn func() (A, B)) (A, B) {
	type pair struct {
		a A
		b B
	}
	r := Run(func() pair {
		a, b := fn()
		return pair{a, b}
	})
	return r.a, r.b
}
