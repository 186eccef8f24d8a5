package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestResponses runs the stored-response table on both backends: owners
// are isolated, records expire after the retention, and the oldest go when
// the total size is over the cap.
func TestResponses(t *testing.T) {
	for name, fresh := range map[string]fresher{"sqlite": sqliteFresh, "postgres": postgresFresh} {
		t.Run(name, func(t *testing.T) {
			_, base := fresh(t)
			ctx := context.Background()
			now := time.Unix(1_800_000_000, 0)
			st, err := OpenResponses(ctx, base, ResponsesConfig{Retention: time.Hour, MaxBytes: 250}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			st.nowFn = func() time.Time { return now }
			put := func(id, owner string, size int) {
				t.Helper()
				if err := st.Put(ctx, &Response{ID: id, Owner: owner, CreatedAt: now, Data: []byte(strings.Repeat("x", size))}); err != nil {
					t.Fatal(err)
				}
			}
			put("resp_a", "alice", 100)
			if _, err := st.Get(ctx, "resp_a", "bob"); !errors.Is(err, ErrResponseNotFound) {
				t.Errorf("another owner's Get: %v", err)
			}
			if err := st.Delete(ctx, "resp_a", "bob"); !errors.Is(err, ErrResponseNotFound) {
				t.Errorf("another owner's Delete: %v", err)
			}
			// Another owner cannot overwrite it either.
			if err := st.Put(ctx, &Response{ID: "resp_a", Owner: "bob", Data: []byte("mine")}); err != nil {
				t.Fatal(err)
			}
			r, err := st.Get(ctx, "resp_a", "alice")
			if err != nil || len(r.Data) != 100 {
				t.Fatalf("Get: %v %d bytes", err, len(r.Data))
			}
			// A second handle (a restart, another replica) sees it.
			st2, err := OpenResponses(ctx, base, ResponsesConfig{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			st2.nowFn = st.nowFn
			if _, err := st2.Get(ctx, "resp_a", "alice"); err != nil {
				t.Errorf("second handle: %v", err)
			}
			st2.Close()

			// Over the cap (250 bytes): the oldest goes.
			now = now.Add(time.Minute)
			put("resp_b", "alice", 100)
			now = now.Add(time.Minute)
			put("resp_c", "alice", 100)
			if err := st.Purge(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Get(ctx, "resp_a", "alice"); !errors.Is(err, ErrResponseNotFound) {
				t.Errorf("the oldest survived the size cap: %v", err)
			}
			for _, id := range []string{"resp_b", "resp_c"} {
				if _, err := st.Get(ctx, id, "alice"); err != nil {
					t.Errorf("%s: %v", id, err)
				}
			}
			// Past the retention, nothing is found, and Purge removes it.
			now = now.Add(2 * time.Hour)
			if _, err := st.Get(ctx, "resp_c", "alice"); !errors.Is(err, ErrResponseNotFound) {
				t.Errorf("expired response found: %v", err)
			}
			if err := st.Purge(ctx); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := st.db.QueryRow(`SELECT COUNT(*) FROM responses`).Scan(&n); err != nil || n != 0 {
				t.Errorf("%d rows after purging expired ones (%v)", n, err)
			}
			if err := st.Delete(ctx, "resp_b", "alice"); !errors.Is(err, ErrResponseNotFound) {
				t.Errorf("Delete of a purged response: %v", err)
			}
		})
	}
}

// TestResponsesWriteBehind checks the batched writer on both backends: a
// queued record is found at once on its own handle, reaches the database
// (another replica) at the flush, not before; a Delete of a queued record
// sticks; and Close commits what is still queued.
func TestResponsesWriteBehind(t *testing.T) {
	for name, fresh := range map[string]fresher{"sqlite": sqliteFresh, "postgres": postgresFresh} {
		t.Run(name, func(t *testing.T) {
			_, base := fresh(t)
			ctx := context.Background()
			// An hour: only Flush and Close commit, so the test controls when.
			st, err := OpenResponses(ctx, base, ResponsesConfig{FlushInterval: time.Hour}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			other, err := OpenResponses(ctx, base, ResponsesConfig{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			for _, id := range []string{"resp_q1", "resp_q2", "resp_q3"} {
				if err := st.Put(ctx, &Response{ID: id, Owner: "alice", Data: []byte("data of " + id)}); err != nil {
					t.Fatal(err)
				}
			}
			if r, err := st.Get(ctx, "resp_q1", "alice"); err != nil || string(r.Data) != "data of resp_q1" {
				t.Fatalf("own handle, queued: %v %+v", err, r)
			}
			// (A miss looks again after the flush window: an hour here, so
			// the deadline ends the wait.)
			short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			if _, err := st.Get(short, "resp_q1", "bob"); !errors.Is(err, ErrResponseNotFound) {
				t.Errorf("another owner sees a queued record: %v", err)
			}
			if _, err := other.Get(ctx, "resp_q1", "alice"); !errors.Is(err, ErrResponseNotFound) {
				t.Fatalf("committed before the flush: %v", err)
			}
			// Deleting a queued record commits the queue first, so the
			// insert cannot bring it back.
			if err := st.Delete(ctx, "resp_q2", "alice"); err != nil {
				t.Fatalf("Delete of a queued record: %v", err)
			}
			if _, err := other.Get(ctx, "resp_q1", "alice"); err != nil {
				t.Errorf("after the Delete's flush, another handle: %v", err)
			}
			if err := st.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			for _, h := range []*Responses{st, other} {
				if _, err := h.Get(ctx, "resp_q2", "alice"); !errors.Is(err, ErrResponseNotFound) {
					t.Errorf("deleted record came back: %v", err)
				}
			}
			// What is queued at Close is committed.
			if err := st.Put(ctx, &Response{ID: "resp_q4", Owner: "alice", Data: []byte("last")}); err != nil {
				t.Fatal(err)
			}
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}
			if r, err := other.Get(ctx, "resp_q4", "alice"); err != nil || string(r.Data) != "last" {
				t.Errorf("queued at Close: %v %+v", err, r)
			}
			// A replica's miss looks again after its flush window, so a
			// response another replica answered a moment ago is found: here
			// the writer commits after 5 ms, the reader looks again at 550.
			quick, err := OpenResponses(ctx, base, ResponsesConfig{FlushInterval: 5 * time.Millisecond}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer quick.Close()
			patient, err := OpenResponses(ctx, base, ResponsesConfig{FlushInterval: 250 * time.Millisecond}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer patient.Close()
			if err := quick.Put(ctx, &Response{ID: "resp_q6", Owner: "alice", Data: []byte("next turn")}); err != nil {
				t.Fatal(err)
			}
			if r, err := patient.Get(ctx, "resp_q6", "alice"); err != nil || string(r.Data) != "next turn" {
				t.Errorf("another replica, right after the answer: %v %+v", err, r)
			}
			// The interval alone commits too.
			fast, err := OpenResponses(ctx, base, ResponsesConfig{FlushInterval: time.Millisecond}, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer fast.Close()
			if err := fast.Put(ctx, &Response{ID: "resp_q5", Owner: "alice", Data: []byte("timed")}); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); ; {
				if _, err := other.Get(ctx, "resp_q5", "alice"); err == nil {
					break
				} else if time.Now().After(deadline) {
					t.Fatalf("not committed by the interval: %v", err)
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}
