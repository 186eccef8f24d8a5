package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"reflect"
	"testing"
	"time"
)

// TestVirtualKeys runs the virtual key table on both backends: a key reads
// back as written, updates bump the generation, a revocation is kept
// through later updates, and a second handle (another replica) sees it all.
func TestVirtualKeys(t *testing.T) {
	for name, fresh := range map[string]fresher{"sqlite": sqliteFresh, "postgres": postgresFresh} {
		t.Run(name, func(t *testing.T) {
			_, base := fresh(t)
			ctx := context.Background()
			st, err := OpenVirtualKeys(ctx, base, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			g0, err := st.Generation(ctx)
			if err != nil || g0 != 0 {
				t.Fatalf("empty generation = %d, %v", g0, err)
			}
			k := &VirtualKey{ID: "vk_1", Name: "ci", Prefix: "qk-abc", Hash: sha256.Sum256([]byte("secret")),
				Owner: "ana", Team: "search", Labels: map[string]string{"env": "prod"}, Models: []string{"nova-*", "titan-embed"},
				RPM: 60, TPM: 1000, BudgetUSD: 12.5, BudgetPeriod: "month", ExpiresAt: time.Unix(1_900_000_000, 0).UTC()}
			if err := st.Create(ctx, k); err != nil {
				t.Fatal(err)
			}
			if err := st.Create(ctx, &VirtualKey{ID: "vk_2", Hash: k.Hash}); err == nil {
				t.Error("a second key with the same hash was stored")
			}
			st2, err := OpenVirtualKeys(ctx, base, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer st2.Close()
			got, err := st2.Get(ctx, "vk_1")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, k) {
				t.Errorf("read back\n%+v\nwant\n%+v", got, k)
			}
			g1, _ := st2.Generation(ctx)
			k.Name, k.Models = "ci-2", nil
			if err := st.Update(ctx, k); err != nil || k.Version != 2 {
				t.Fatalf("update: %v, version %d", err, k.Version)
			}
			revoked, err := st.Revoke(ctx, "vk_1")
			if err != nil || revoked.RevokedAt.IsZero() || revoked.Name != "ci-2" || len(revoked.Models) != 0 {
				t.Fatalf("revoke: %v %+v", err, revoked)
			}
			// An update that read the key before the revocation keeps it revoked.
			k.Name = "late"
			if err := st.Update(ctx, k); err != nil || k.RevokedAt.IsZero() {
				t.Errorf("update after revoke: %v, revoked at %v", err, k.RevokedAt)
			}
			g2, _ := st2.Generation(ctx)
			if !(g0 < g1 && g1 < g2) {
				t.Errorf("generations %d, %d, %d do not grow", g0, g1, g2)
			}
			all, err := st2.List(ctx)
			if err != nil || len(all) != 1 || all[0].RevokedAt.IsZero() {
				t.Errorf("list: %v %+v", err, all)
			}
			if _, err := st.Get(ctx, "nope"); !errors.Is(err, ErrKeyNotFound) {
				t.Errorf("missing Get: %v", err)
			}
			if _, err := st.Revoke(ctx, "nope"); !errors.Is(err, ErrKeyNotFound) {
				t.Errorf("missing Revoke: %v", err)
			}
			if err := st.Update(ctx, &VirtualKey{ID: "nope"}); !errors.Is(err, ErrKeyNotFound) {
				t.Errorf("missing Update: %v", err)
			}
		})
	}
}
