package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/tandemfs/tandem/internal/meta"
)

func testInode(t *testing.T, s meta.Store) {
	if _, err := getInode(t, s, 20); err != meta.ErrNotFound {
		t.Fatalf("Inode(missing) error = %v, want ErrNotFound", err)
	}
	want := sampleInode(20)
	update(t, s, func(tx meta.Tx) error { return putInode(tx, want) })
	got, err := getInode(t, s, 20)
	if err != nil || got != want {
		t.Fatalf("Inode = %+v, %v\nwant %+v", got, err, want)
	}

	// Replace with a mostly-zero inode: no field of the old may linger.
	small := meta.Inode{ID: 20, Type: meta.TypeRegular, Mode: 0o644, Nlink: 1}
	update(t, s, func(tx meta.Tx) error { return putInode(tx, small) })
	if got, err := getInode(t, s, 20); err != nil || got != small {
		t.Fatalf("Inode after replace = %+v, %v\nwant %+v", got, err, small)
	}

	// Extremes of every id.
	for _, id := range []uint64{0, 1, 255, 256, 1<<64 - 1} {
		ino := sampleInode(id)
		update(t, s, func(tx meta.Tx) error { return putInode(tx, ino) })
		if got, err := getInode(t, s, id); err != nil || got != ino {
			t.Fatalf("Inode(%d) = %+v, %v", id, got, err)
		}
	}
	if got, err := getInode(t, s, 20); err != nil || got != small {
		t.Fatalf("Inode(20) changed by other ids: %+v, %v", got, err)
	}
}

func testDeleteInode(t *testing.T, s meta.Store) {
	update(t, s, func(tx meta.Tx) error {
		if err := tx.DeleteInode(30); err != meta.ErrNotFound {
			t.Errorf("DeleteInode(missing) = %v, want ErrNotFound", err)
		}
		return putInode(tx, sampleInode(30))
	})
	update(t, s, func(tx meta.Tx) error { return putInode(tx, sampleInode(31)) })
	update(t, s, func(tx meta.Tx) error { return tx.DeleteInode(30) })
	if _, err := getInode(t, s, 30); err != meta.ErrNotFound {
		t.Fatalf("Inode after delete: %v, want ErrNotFound", err)
	}
	if _, err := getInode(t, s, 31); err != nil {
		t.Fatalf("neighbour deleted: %v", err)
	}

	// Deleting a directory inode works after its entries are gone.
	dir := meta.Inode{ID: 40, Type: meta.TypeDir, Mode: 0o755, Nlink: 2}
	update(t, s, func(tx meta.Tx) error {
		if err := putInode(tx, dir); err != nil {
			return err
		}
		if _, err := tx.AddEntry(40, "x", 41); err != nil {
			return err
		}
		return tx.RemoveEntry(40, "x")
	})
	update(t, s, func(tx meta.Tx) error { return tx.DeleteInode(40) })
	if _, err := getInode(t, s, 40); err != meta.ErrNotFound {
		t.Fatalf("directory inode after delete: %v, want ErrNotFound", err)
	}
}

func testAllocID(t *testing.T, s meta.Store) {
	seen := make(map[uint64]bool)
	for range 20 {
		update(t, s, func(tx meta.Tx) error {
			for range 50 {
				id, err := tx.AllocID()
				if err != nil {
					return err
				}
				if id < meta.FirstAllocID || seen[id] {
					t.Fatalf("AllocID = %d (seen before: %v)", id, seen[id])
				}
				seen[id] = true
			}
			return nil
		})
	}
	if len(seen) != 1000 {
		t.Fatalf("%d ids, want 1000", len(seen))
	}
	// A failed transaction does not give its ids back: one may already
	// have escaped (into a content store, say).
	var lost uint64
	boom := errors.New("boom")
	if err := s.Update(ctx, func(tx meta.Tx) error {
		var err error
		if lost, err = tx.AllocID(); err != nil {
			return err
		}
		return boom
	}); err != boom {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	if seen[lost] {
		t.Fatalf("failed tx got id %d, already seen", lost)
	}
	seen[lost] = true
	update(t, s, func(tx meta.Tx) error {
		id, err := tx.AllocID()
		if seen[id] {
			t.Errorf("AllocID after a failed tx = %d, seen before", id)
		}
		seen[id] = true
		return err
	})
	// Also through UpdateLazy.
	if err := s.UpdateLazy(ctx, func(tx meta.Tx) error {
		id, err := tx.AllocID()
		if err == nil && seen[id] {
			t.Errorf("UpdateLazy AllocID repeated %d", id)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func testAllocIDConcurrent(t *testing.T, s meta.Store) {
	const workers, each = 4, 100
	var mu sync.Mutex
	seen := make(map[uint64]bool)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				var id uint64
				err := s.UpdateLazy(ctx, func(tx meta.Tx) error {
					var err error
					id, err = tx.AllocID()
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[id] {
					t.Errorf("id %d allocated twice", id)
				}
				seen[id] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != workers*each {
		t.Fatalf("%d distinct ids, want %d", len(seen), workers*each)
	}
}
