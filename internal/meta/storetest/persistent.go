package storetest

import (
	"fmt"
	"os"
	"reflect"
	"testing"

	"github.com/tandemfs/tandem/internal/meta"
)

// RunPersistent runs the checks only a persistent backend passes. open
// opens (creating when missing) the store kept in dir; RunPersistent closes
// what it opens.
//
// The crash check re-executes the test binary to run a writer in a child
// process, selecting the calling top-level test with -test.run; call
// RunPersistent from a top-level test of its own.
func RunPersistent(t *testing.T, open func(t *testing.T, dir string) meta.Store) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(t, open, dir)
		return
	}
	t.Run("Reopen", func(t *testing.T) { testReopen(t, open) })
	t.Run("LazyThenClose", func(t *testing.T) { testLazyThenClose(t, open) })
	t.Run("Crash", func(t *testing.T) { testCrash(t, open) })
}

func closeStore(t *testing.T, s meta.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func testReopen(t *testing.T, open func(*testing.T, string) meta.Store) {
	dir := t.TempDir()
	s := open(t, dir)
	ids := make(map[uint64]bool)
	var dirents []meta.Dirent
	update(t, s, func(tx meta.Tx) error {
		for i := range 100 {
			id, err := tx.AllocID()
			if err != nil {
				return err
			}
			ids[id] = true
			ino := sampleInode(id)
			ino.Size = uint64(i)
			if err := tx.PutInode(&ino); err != nil {
				return err
			}
			name := fmt.Sprintf("e%03d", i)
			c, err := tx.AddEntry(1, name, id)
			if err != nil {
				return err
			}
			dirents = append(dirents, meta.Dirent{Name: name, ID: id, Cookie: c})
			if err := tx.Put("b", []byte(name), []byte(fmt.Sprint(id))); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx meta.Tx) error { return tx.RemoveEntry(1, "e050") })
	dirents = append(dirents[:50], dirents[51:]...)
	closeStore(t, s)

	s = open(t, dir)
	defer closeStore(t, s)
	if got := listDir(t, s, 1, 0); !reflect.DeepEqual(got, dirents) {
		t.Fatalf("entries after reopen differ:\n got %v\nwant %v", got, dirents)
	}
	for _, e := range dirents {
		ino, err := getInode(t, s, e.ID)
		want := sampleInode(e.ID)
		fmt.Sscanf(e.Name, "e%d", &want.Size)
		if err != nil || ino != want {
			t.Fatalf("inode %d after reopen = %+v, %v", e.ID, ino, err)
		}
		if v, err := getKey(t, s, "b", e.Name); err != nil || string(v) != fmt.Sprint(e.ID) {
			t.Fatalf("bucket key %s after reopen = %q, %v", e.Name, v, err)
		}
	}
	// Ids and cookies carry on where they were.
	update(t, s, func(tx meta.Tx) error {
		for range 100 {
			id, err := tx.AllocID()
			if err != nil {
				return err
			}
			if ids[id] {
				t.Fatalf("AllocID after reopen repeated %d", id)
			}
		}
		c, err := tx.AddEntry(1, "after", 1)
		if err != nil || c != 103 {
			t.Fatalf("AddEntry after reopen = %d, %v; want cookie 103", c, err)
		}
		return nil
	})
}

func testLazyThenClose(t *testing.T, open func(*testing.T, string) meta.Store) {
	dir := t.TempDir()
	s := open(t, dir)
	for i := range 10 {
		if err := s.UpdateLazy(ctx, func(tx meta.Tx) error {
			return tx.Put("lazy", []byte{byte(i)}, []byte{byte(i)})
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Sync(); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if err := s.UpdateLazy(ctx, func(tx meta.Tx) error {
		return tx.Put("lazy", []byte("last"), nil)
	}); err != nil {
		t.Fatal(err)
	}
	closeStore(t, s)

	s = open(t, dir)
	defer closeStore(t, s)
	if got := scan(t, s, "lazy", ""); len(got) != 11 {
		t.Fatalf("after reopen: %q, want 11 records", got)
	}
}
