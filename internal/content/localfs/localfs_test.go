package localfs

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/tandemfs/tandem/internal/content"
	"github.com/tandemfs/tandem/internal/content/contenttest"
)

func TestConformance(t *testing.T) {
	contenttest.Run(t, func(t *testing.T) content.Store {
		s, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestSmallCache runs the suite with a cache so small that nearly every
// call opens a file and evicts another, some of them still in use.
func TestSmallCache(t *testing.T) {
	contenttest.Run(t, func(t *testing.T) content.Store {
		s, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		s.maxOpen = 2
		return s
	})
}

func TestLayout(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.WriteAt(0x1234abcd, []byte("data"), 3); err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(dir, "content", "34", "ab", "000000001234abcd")
	got, err := os.ReadFile(name)
	if err != nil || !bytes.Equal(got, []byte("\x00\x00\x00data")) {
		t.Fatalf("host file %s = %q, %v", name, got, err)
	}
	// Reads and truncation to zero of a missing file create nothing.
	if _, err := s.ReadAt(7, make([]byte, 10), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Truncate(7, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(7); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "content", "07")); !os.IsNotExist(err) {
		t.Fatalf("read of a missing file created its directory: %v", err)
	}
	if err := s.Remove(0x1234abcd); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(name); !os.IsNotExist(err) {
		t.Fatalf("host file after Remove: %v", err)
	}
}

// TestLayoutLow checks that a store made before the layout was recorded
// keeps finding its files where it put them, and that the recorded layout
// survives reopening.
func TestLayoutLow(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "content", "cd", "ab", "000000001234abcd")
	if err := os.MkdirAll(filepath.Dir(old), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(old, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 3)
	if _, err := s.ReadAt(0x1234abcd, buf, 0); err != nil || string(buf) != "old" {
		t.Fatalf("file of the old layout reads %q, %v", buf, err)
	}
	s.Close()

	fresh := t.TempDir()
	for range 2 {
		s, err := Open(fresh)
		if err != nil {
			t.Fatal(err)
		}
		if s.layout != layoutBlock {
			t.Fatalf("fresh store has layout %d", s.layout)
		}
		if _, err := s.WriteAt(1, []byte("x"), 0); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
}

func TestSparse(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.WriteAt(1, []byte("x"), 1<<40); err != nil {
		t.Fatal(err)
	}
	name, _, _ := s.path(1)
	fi, err := os.Stat(name)
	if err != nil || fi.Size() != 1<<40+1 {
		t.Fatalf("Stat = %v, %v", fi, err)
	}
	if used := fi.Sys().(*syscall.Stat_t).Blocks * 512; used > 1<<20 {
		t.Fatalf("a 1 TiB sparse file uses %d bytes", used)
	}
}

func TestCacheBound(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.maxOpen = 4
	for id := range uint64(20) {
		if _, err := s.WriteAt(id, []byte{byte(id)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.open) != 4 {
		t.Fatalf("%d files open, want 4", len(s.open))
	}
	// The most recently used stay.
	for id := range uint64(16) {
		if s.open[id] != nil {
			t.Fatalf("file %d still open", id)
		}
	}
	// A file held while evicted stays usable until released.
	h, err := s.acquire(100, true)
	if err != nil {
		t.Fatal(err)
	}
	for id := range uint64(8) {
		if _, err := s.WriteAt(200+id, []byte{1}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if s.open[100] != nil || h.cached {
		t.Fatalf("held file not evicted")
	}
	if _, err := h.f.WriteAt([]byte("still"), 0); err != nil {
		t.Fatalf("write through an evicted, held handle: %v", err)
	}
	s.release(h)
	if _, err := h.f.WriteAt([]byte("x"), 0); err == nil {
		t.Fatalf("evicted handle not closed by its last user")
	}
	buf := make([]byte, 5)
	if _, err := s.ReadAt(100, buf, 0); err != nil || string(buf) != "still" {
		t.Fatalf("ReadAt = %q, %v", buf, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(s.open) != 0 {
		t.Fatalf("%d files open after Close", len(s.open))
	}
}

func TestSyncDirs(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.WriteAt(0x0101, []byte("a"), 0); err != nil {
		t.Fatal(err)
	}
	_, leaf, mid := s.path(0x0101)
	for _, d := range []string{leaf, mid, s.root} {
		if st := s.dirty[d]; st == nil || st.synced >= st.added {
			t.Fatalf("%s not marked for fsync after creation", d)
		}
	}
	if err := s.Sync(0x0101); err != nil {
		t.Fatal(err)
	}
	if len(s.dirty) != 0 {
		t.Fatalf("directories left unsynced: %v", s.dirty)
	}
	// A second file in the same directories marks only the leaf.
	if _, err := s.WriteAt(0x0201, []byte("b"), 0); err != nil {
		t.Fatal(err)
	}
	_, leaf2, _ := s.path(0x0201)
	if len(s.dirty) != 2 || s.dirty[leaf2] == nil {
		t.Fatalf("dirty = %v", s.dirty)
	}
}

// TestSyncLateFinish checks that an fsync that started before a directory
// gained an entry does not count as covering it when it finishes, even if
// the directory was forgotten and marked again meanwhile.
func TestSyncLateFinish(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.WriteAt(0x0101, []byte("a"), 0); err != nil {
		t.Fatal(err)
	}
	early := s.dirsToSync(0x0101) // an fsync about to start
	if err := s.Sync(0x0101); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteAt(0x0102, []byte("b"), 0); err != nil {
		t.Fatal(err)
	}
	if err := s.syncDirs(early); err != nil { // the early fsync finishes now
		t.Fatal(err)
	}
	if d := s.dirsToSync(0x0102); len(d) != 1 {
		t.Fatalf("after a late fsync, directories to sync for a new file in the same leaf: %v", d)
	}
}

// TestSyncSkipsClean checks that Sync fsyncs a file again only after it
// changed, and always after it was reopened.
func TestSyncSkipsClean(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.WriteAt(1, []byte("a"), 0); err != nil {
		t.Fatal(err)
	}
	h := s.open[1]
	if h.synced.Load() >= h.written.Load() {
		t.Fatal("written file counts as synced")
	}
	if err := s.Sync(1); err != nil {
		t.Fatal(err)
	}
	if h.synced.Load() < h.written.Load() {
		t.Fatal("synced file counts as written")
	}
	if err := s.Truncate(1, 10); err != nil {
		t.Fatal(err)
	}
	if h.synced.Load() >= h.written.Load() {
		t.Fatal("truncated file counts as synced")
	}
	s.mu.Lock()
	s.evict(h)
	s.mu.Unlock()
	if _, err := s.ReadAt(1, make([]byte, 1), 0); err != nil {
		t.Fatal(err)
	}
	if h := s.open[1]; h.synced.Load() >= h.written.Load() {
		t.Fatal("reopened file counts as synced")
	}
}

func TestRemoveWhileWriting(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.maxOpen = 3
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := uint64(i % 5)
				switch (w + i) % 3 {
				case 0:
					s.WriteAt(id, []byte("abc"), int64(i))
				case 1:
					s.ReadAt(id, make([]byte, 8), 0)
				case 2:
					s.Remove(id)
				}
			}
		}()
	}
	wg.Wait()
	// After the dust settles every cached handle names a live file.
	for id := range uint64(5) {
		s.Remove(id)
		buf := make([]byte, 4)
		if _, err := s.ReadAt(id, buf, 0); err != nil || !bytes.Equal(buf, make([]byte, 4)) {
			t.Fatalf("file %d after Remove = %q, %v", id, buf, err)
		}
		if _, err := s.WriteAt(id, []byte("new"), 0); err != nil {
			t.Fatal(err)
		}
		name, _, _ := s.path(id)
		if got, err := os.ReadFile(name); err != nil || string(got) != "new" {
			t.Fatalf("host file %d = %q, %v", id, got, err)
		}
	}
}
