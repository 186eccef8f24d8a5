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
