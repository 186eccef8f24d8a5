package offstack

import (
	"errors"
	"runtime"
	"testing"
)

func TestRun(t *testing.T) {
	type pair struct {
		n   int
		err error
	}
	boom := errors.New("boom")
	if got := Run(func() pair { return pair{42, boom} }); got.n != 42 || got.err != boom {
		t.Errorf("Run = %v, want {42 boom}", got)
	}
	if n, err := Run2(func() (int, error) { return 7, boom }); n != 7 || err != boom {
		t.Errorf("Run2 = %d, %v, want 7, boom", n, err)
	}
}

// TestRunOnAnotherGoroutine: the work runs on a goroutine of its own, which
// has ended when Run returns.
func TestRunOnAnotherGoroutine(t *testing.T) {
	caller := goid()
	if got := Run(goid); got == caller {
		t.Errorf("fn ran on the caller's goroutine (%d)", got)
	}
}

// TestPanicRaisedInCaller: a panic in fn reaches the caller's recover with
// its value, as the server's panic recovery expects.
func TestPanicRaisedInCaller(t *testing.T) {
	defer func() {
		if p := recover(); p != "deep" {
			t.Errorf("recovered %v, want \"deep\"", p)
		}
	}()
	Run(func() int { panic("deep") })
	t.Error("Run returned after a panic")
}

// goid is the calling goroutine's ID, from its stack trace header
// ("goroutine 7 [running]:").
func goid() int {
	var buf [32]byte
	b := buf[:runtime.Stack(buf[:], false)]
	n := 0
	for _, c := range b[len("goroutine "):] {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}
