package storetest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/meta"
)

func testRollback(t *testing.T, s meta.Store) {
	update(t, s, func(tx meta.Tx) error {
		if err := putInode(tx, sampleInode(20)); err != nil {
			return err
		}
		if _, err := tx.AddEntry(1, "kept", 20); err != nil {
			return err
		}
		return tx.Put("b", []byte("kept"), []byte("1"))
	})
	before := listDir(t, s, 1, 0)

	boom := errors.New("boom")
	err := s.Update(ctx, func(tx meta.Tx) error {
		if _, err := tx.AllocID(); err != nil {
			return err
		}
		ino := sampleInode(21)
		if err := tx.PutInode(&ino); err != nil {
			return err
		}
		changed := sampleInode(20)
		changed.Size = 1
		if err := tx.PutInode(&changed); err != nil {
			return err
		}
		if _, err := tx.AddEntry(1, "lost", 21); err != nil {
			return err
		}
		if err := tx.RemoveEntry(1, "kept"); err != nil {
			return err
		}
		if err := tx.Put("b", []byte("lost"), []byte("1")); err != nil {
			return err
		}
		if err := tx.Delete("b", []byte("kept")); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Update returned %v, want fn's error", err)
	}
	if _, err := getInode(t, s, 21); err != meta.ErrNotFound {
		t.Errorf("rolled-back inode visible: %v", err)
	}
	if ino, _ := getInode(t, s, 20); ino != sampleInode(20) {
		t.Errorf("rolled-back inode change visible: size %d", ino.Size)
	}
	if after := listDir(t, s, 1, 0); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("rolled-back entries visible: %v, want %v", after, before)
	}
	if _, err := getKey(t, s, "b", "lost"); err != meta.ErrNotFound {
		t.Errorf("rolled-back Put visible: %v", err)
	}
	if v, err := getKey(t, s, "b", "kept"); err != nil || string(v) != "1" {
		t.Errorf("rolled-back Delete visible: %q, %v", v, err)
	}
	// The rolled-back AddEntry did not use up a cookie that a committed
	// one could then skip or repeat.
	c := addEntries(t, s, 1, "next")
	if c[0] != 4 {
		t.Errorf("cookie after rollback = %d, want 4", c[0])
	}
}

func testReadYourWrites(t *testing.T, s meta.Store) {
	update(t, s, func(tx meta.Tx) error {
		ino := sampleInode(20)
		if err := tx.PutInode(&ino); err != nil {
			return err
		}
		if got, err := tx.Inode(20); err != nil || got != ino {
			t.Errorf("Inode in tx = %+v, %v", got, err)
		}
		c, err := tx.AddEntry(2, "new", 20)
		if err != nil {
			return err
		}
		if e, err := tx.Lookup(2, "new"); err != nil || e != (meta.Dirent{Name: "new", ID: 20, Cookie: c}) {
			t.Errorf("Lookup in tx = %+v, %v", e, err)
		}
		var seen []string
		if err := tx.ReadDir(2, 0, func(e meta.Dirent) bool { seen = append(seen, e.Name); return true }); err != nil {
			return err
		}
		if fmt.Sprint(seen) != "[new]" {
			t.Errorf("ReadDir in tx = %q", seen)
		}
		if empty, err := tx.DirEmpty(2); empty || err != nil {
			t.Errorf("DirEmpty in tx = %v, %v", empty, err)
		}
		if err := tx.RemoveEntry(2, "new"); err != nil {
			return err
		}
		if _, err := tx.Lookup(2, "new"); err != meta.ErrNotFound {
			t.Errorf("Lookup of removed entry in tx = %v", err)
		}
		if err := tx.DeleteInode(20); err != nil {
			return err
		}
		if _, err := tx.Inode(20); err != meta.ErrNotFound {
			t.Errorf("Inode of deleted inode in tx = %v", err)
		}
		if err := tx.Put("b", []byte("k"), []byte("v")); err != nil {
			return err
		}
		if v, err := tx.Get("b", []byte("k")); err != nil || string(v) != "v" {
			t.Errorf("Get in tx = %q, %v", v, err)
		}
		n := 0
		if err := tx.Scan("b", nil, func(k, v []byte) bool { n++; return true }); err != nil || n != 1 {
			t.Errorf("Scan in tx saw %d, %v", n, err)
		}
		if err := tx.Delete("b", []byte("k")); err != nil {
			return err
		}
		if _, err := tx.Get("b", []byte("k")); err != meta.ErrNotFound {
			t.Errorf("Get of deleted key in tx = %v", err)
		}
		return nil
	})
}

func testWriteInView(t *testing.T, s meta.Store) {
	view(t, s, func(tx meta.Tx) error {
		ino := sampleInode(20)
		checks := map[string]error{
			"PutInode": tx.PutInode(&ino),
			"Put":      tx.Put("b", []byte("k"), []byte("v")),
			"Delete":   tx.Delete("b", []byte("k")),
		}
		_, checks["AllocID"] = tx.AllocID()
		_, checks["AddEntry"] = tx.AddEntry(1, "x", 20)
		for name, err := range checks {
			if err == nil {
				t.Errorf("%s in a View succeeded", name)
			}
		}
		return nil
	})
	if _, err := getInode(t, s, 20); err != meta.ErrNotFound {
		t.Fatalf("a View wrote an inode: %v", err)
	}
	if got := listDir(t, s, 1, 0); len(got) != 0 {
		t.Fatalf("a View wrote an entry: %v", got)
	}
}

func testTxAfterReturn(t *testing.T, s meta.Store) {
	var kept meta.Tx
	update(t, s, func(tx meta.Tx) error { kept = tx; return nil })
	if ino := sampleInode(20); kept.PutInode(&ino) == nil {
		t.Errorf("PutInode on a finished Update tx succeeded")
	}
	view(t, s, func(tx meta.Tx) error { kept = tx; return nil })
	if _, err := kept.Inode(20); err == nil || err == meta.ErrNotFound {
		t.Errorf("Inode on a finished View tx = %v, want a misuse error", err)
	}
	if _, err := getInode(t, s, 20); err != meta.ErrNotFound {
		t.Fatalf("finished tx wrote: %v", err)
	}
}

// testConcurrentViews moves a count between two records in every Update
// while Views check that they always see both halves of the same Update.
func testConcurrentViews(t *testing.T, s meta.Store) {
	const total, updates, readers = 1000, 200, 3
	put := func(tx meta.Tx, a, round uint64) error {
		var v [16]byte
		binary.BigEndian.PutUint64(v[:], a)
		binary.BigEndian.PutUint64(v[8:], round)
		if err := tx.Put("acct", []byte("a"), v[:]); err != nil {
			return err
		}
		ino := meta.Inode{ID: 20, Size: total - a, Gen: round}
		return tx.PutInode(&ino)
	}
	update(t, s, func(tx meta.Tx) error { return put(tx, total, 0) })

	var done atomic.Bool
	var views atomic.Int64
	var wg sync.WaitGroup
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				err := s.View(ctx, func(tx meta.Tx) error {
					v, err := tx.Get("acct", []byte("a"))
					if err != nil {
						return err
					}
					ino, err := tx.Inode(20)
					if err != nil {
						return err
					}
					a, round := binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])
					if a+ino.Size != total || round != ino.Gen {
						return fmt.Errorf("torn view: a=%d (round %d) size=%d (round %d)", a, round, ino.Size, ino.Gen)
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
				views.Add(1)
			}
		}()
	}
	// At least `updates` rounds, and on until the readers have had a fair
	// share of the machine (bounded, should they never get it).
	deadline := time.Now().Add(5 * time.Second)
	for round := uint64(1); round <= updates || (views.Load() < 100 && time.Now().Before(deadline)); round++ {
		// Mostly lazy: the point is interleaving, not fsync.
		update := s.UpdateLazy
		if round%4 == 0 {
			update = s.Update
		}
		if err := update(ctx, func(tx meta.Tx) error { return put(tx, round*7%total, round) }); err != nil {
			t.Error(err)
			break
		}
	}
	done.Store(true)
	wg.Wait()
	if views.Load() < 100 {
		t.Fatalf("only %d Views ran", views.Load())
	}
}

func testContext(t *testing.T, s meta.Store) {
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	called := false
	fn := func(meta.Tx) error { called = true; return nil }
	if err := s.Update(cctx, fn); err != context.Canceled {
		t.Errorf("Update with canceled context = %v", err)
	}
	if err := s.View(cctx, fn); err != context.Canceled {
		t.Errorf("View with canceled context = %v", err)
	}
	if called {
		t.Errorf("fn ran under a canceled context")
	}
}

func testClosed(t *testing.T, s meta.Store) {
	update(t, s, func(tx meta.Tx) error { return tx.Put("b", []byte("k"), nil) })
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	fn := func(meta.Tx) error { return nil }
	if err := s.Update(ctx, fn); err != meta.ErrClosed {
		t.Errorf("Update after Close = %v, want ErrClosed", err)
	}
	if err := s.UpdateLazy(ctx, fn); err != meta.ErrClosed {
		t.Errorf("UpdateLazy after Close = %v, want ErrClosed", err)
	}
	if err := s.View(ctx, fn); err != meta.ErrClosed {
		t.Errorf("View after Close = %v, want ErrClosed", err)
	}
	if err := s.Sync(); err != meta.ErrClosed {
		t.Errorf("Sync after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != meta.ErrClosed {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
}
