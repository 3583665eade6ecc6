package fs

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/tandemfs/tandem/internal/meta"
)

// updateCounter counts durable and lazy transactions.
type updateCounter struct {
	syncCounter
	durable, lazy atomic.Int64
}

func (u *updateCounter) Update(ctx context.Context, fn func(meta.Tx) error) error {
	u.durable.Add(1)
	return u.syncCounter.Update(ctx, fn)
}

func (u *updateCounter) UpdateLazy(ctx context.Context, fn func(meta.Tx) error) error {
	u.lazy.Add(1)
	return u.syncCounter.UpdateLazy(ctx, fn)
}

// TestAsyncShare: on an Async share namespace and attribute changes commit
// without waiting for the log, and the next COMMIT flushes the log; on the
// default share each waits for it.
func TestAsyncShare(t *testing.T) {
	for _, async := range []bool{false, true} {
		base := newEnv(t)
		u := &updateCounter{syncCounter: syncCounter{Store: base.meta}}
		f, err := New(u, base.content, Options{Now: base.clock.now, Logger: slog.New(slog.NewTextHandler(base.logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		base.fs = f
		root, err := f.AddShare(base.ctx, ShareConfig{Name: "export", Async: async})
		if err != nil {
			t.Fatal(err)
		}
		u.durable.Store(0)
		d := base.mkdir(alice, root, "d", 0o755)
		h := base.create(alice, d, "f", 0o644)
		if _, _, err := f.Rename(base.ctx, alice, d, "f", d, "g"); err != nil {
			t.Fatal(err)
		}
		if _, err := f.SetAttr(base.ctx, alice, h, SetAttr{Mask: SetMode, Mode: 0o600}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Remove(base.ctx, alice, d, "g"); err != nil {
			t.Fatal(err)
		}
		durable, lazy := u.durable.Load(), u.lazy.Load()
		switch {
		case !async && (durable != 5 || lazy != 0):
			t.Errorf("default share: %d durable and %d lazy changes, want 5 and 0", durable, lazy)
		case async && (durable != 0 || lazy != 5):
			t.Errorf("async share: %d durable and %d lazy changes, want 0 and 5", durable, lazy)
		}
		if _, _, _, err := f.Lookup(base.ctx, alice, d, "g"); err != ErrNotExist {
			t.Errorf("async %v: Lookup of the removed name: %v, want ErrNotExist", async, err)
		}
		u.metaSyncs.Store(0)
		if _, err := f.Commit(base.ctx, alice, root, 0, 0); err != ErrIsDir {
			t.Fatalf("Commit of a directory: %v", err)
		}
		h2 := base.create(alice, root, "x", 0o644)
		u.metaSyncs.Store(0)
		if _, err := f.Commit(base.ctx, alice, h2, 0, 0); err != nil {
			t.Fatal(err)
		}
		want := int64(0)
		if async {
			want = 1 // the changes above
		}
		if got := u.metaSyncs.Load(); got != want {
			t.Errorf("async %v: COMMIT flushed the log %d times, want %d", async, got, want)
		}
	}
}
