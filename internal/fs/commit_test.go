package fs

import (
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/tandemfs/tandem/internal/content"
	"github.com/tandemfs/tandem/internal/meta"
)

// syncCounter counts the flushes asked of the stores.
type syncCounter struct {
	meta.Store
	metaSyncs atomic.Int64
}

func (s *syncCounter) Sync() error {
	s.metaSyncs.Add(1)
	return s.Store.Sync()
}

type contentCounter struct {
	content.Store
	syncs atomic.Int64
}

func (c *contentCounter) Sync(id uint64) error {
	c.syncs.Add(1)
	return c.Store.Sync(id)
}

// TestCommitFlushesOnlyWhatIsPending checks that Commit flushes the
// metadata log only when an UNSTABLE write's metadata is not yet durable,
// and always asks the content store (which skips clean files itself).
func TestCommitFlushesOnlyWhatIsPending(t *testing.T) {
	base := newEnv(t)
	m := &syncCounter{Store: base.meta}
	c := &contentCounter{Store: base.content}
	f, err := New(m, c, Options{Now: base.clock.now, Logger: slog.New(slog.NewTextHandler(base.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	base.fs = f
	h := base.create(alice, base.root, "f", 0o644)

	commit := func(what string, wantMeta int64) {
		t.Helper()
		m.metaSyncs.Store(0)
		c.syncs.Store(0)
		if _, err := f.Commit(base.ctx, alice, h, 0, 0); err != nil {
			t.Fatalf("%s: Commit: %v", what, err)
		}
		if got := m.metaSyncs.Load(); got != wantMeta {
			t.Errorf("%s: %d metadata flushes, want %d", what, got, wantMeta)
		}
		if got := c.syncs.Load(); got != 1 {
			t.Errorf("%s: %d content flushes, want 1", what, got)
		}
	}
	write := func(stable Stability) {
		t.Helper()
		n, got, _, err := f.Write(base.ctx, alice, h, 0, []byte("data"), stable)
		if err != nil || n != 4 {
			t.Fatalf("Write: %d, %v", n, err)
		}
		if stable != Unstable && got != FileSync {
			t.Fatalf("Write %v answered %v", stable, got)
		}
	}

	write(Unstable)
	commit("after an UNSTABLE write", 1)
	commit("again", 0)
	write(FileSync)
	commit("after a FILE_SYNC write", 0)
	write(Unstable)
	write(DataSync)
	// The DATA_SYNC write's durable commit also covered the UNSTABLE
	// write's metadata, which went to the log before it.
	commit("after UNSTABLE then DATA_SYNC", 0)
	write(Unstable)
	commit("after another UNSTABLE write", 1)
	if got := base.read(alice, h); got != "data" {
		t.Fatalf("read %q", got)
	}
}
