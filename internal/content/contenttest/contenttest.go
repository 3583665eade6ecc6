// Package contenttest is the conformance suite every content.Store backend
// passes: exact bytes back for what was written, zeros for holes and for
// what lies past the end, Truncate and Remove, and concurrent use.
package contenttest

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"github.com/tandemfs/tandem/internal/content"
)

// Run runs the suite. open returns a new, empty store for each subtest; Run
// closes it.
func Run(t *testing.T, open func(t *testing.T) content.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, content.Store)
	}{
		{"ReadMissing", testReadMissing},
		{"WriteRead", testWriteRead},
		{"Sparse", testSparse},
		{"Overwrite", testOverwrite},
		{"Truncate", testTruncate},
		{"Remove", testRemove},
		{"SyncStat", testSyncStat},
		{"BadOffset", testBadOffset},
		{"Concurrent", testConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			defer func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			tt.fn(t, s)
		})
	}
	t.Run("Closed", func(t *testing.T) {
		s := open(t)
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if _, err := s.WriteAt(1, []byte("x"), 0); err == nil {
			t.Errorf("WriteAt after Close succeeded")
		}
		if _, err := s.ReadAt(1, make([]byte, 1), 0); err == nil {
			t.Errorf("ReadAt after Close succeeded")
		}
	})
}

func write(t *testing.T, s content.Store, id uint64, p []byte, off int64) {
	t.Helper()
	n, err := s.WriteAt(id, p, off)
	if n != len(p) || err != nil {
		t.Fatalf("WriteAt(%d, %d bytes, %d) = %d, %v", id, len(p), off, n, err)
	}
}

// expect reads len(want) bytes at off and compares them exactly.
func expect(t *testing.T, s content.Store, id uint64, off int64, want []byte) {
	t.Helper()
	got := bytes.Repeat([]byte{0xee}, len(want)) // stale bytes must be overwritten
	n, err := s.ReadAt(id, got, off)
	if n != len(want) || err != nil {
		t.Fatalf("ReadAt(%d, %d bytes, %d) = %d, %v", id, len(want), off, n, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("ReadAt(%d, %d bytes, %d):\n got %q\nwant %q", id, len(want), off, trim(got), trim(want))
	}
}

func trim(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

func zeros(n int) []byte { return make([]byte, n) }

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func testReadMissing(t *testing.T, s content.Store) {
	expect(t, s, 42, 0, zeros(100))
	expect(t, s, 42, 1<<30, zeros(10))
	expect(t, s, 42, 0, nil)
}

func testWriteRead(t *testing.T, s content.Store) {
	write(t, s, 1, []byte("hello, world"), 0)
	expect(t, s, 1, 0, []byte("hello, world"))
	expect(t, s, 1, 7, []byte("world"))
	// Past the end reads zeros for the rest of the buffer.
	expect(t, s, 1, 7, append([]byte("world"), zeros(20)...))
	expect(t, s, 1, 100, zeros(5))
	// Another id is untouched.
	expect(t, s, 2, 0, zeros(12))

	// A large write crossing many internal boundaries.
	big := pattern(300<<10+17, 3)
	write(t, s, 3, big, 65536-5)
	expect(t, s, 3, 65536-5, big)
	expect(t, s, 3, 0, zeros(65536-5))
}

func testSparse(t *testing.T, s content.Store) {
	write(t, s, 5, []byte("head"), 0)
	write(t, s, 5, []byte("tail"), 1<<33)
	expect(t, s, 5, 0, append([]byte("head"), zeros(4096)...))
	expect(t, s, 5, 1<<32, zeros(8192))
	expect(t, s, 5, 1<<33-3, append(zeros(3), []byte("tail\x00\x00")...))
}

func testOverwrite(t *testing.T, s content.Store) {
	write(t, s, 1, []byte("aaaaaaaaaa"), 0)
	write(t, s, 1, []byte("BBB"), 4)
	expect(t, s, 1, 0, []byte("aaaaBBBaaa"))
	write(t, s, 1, []byte("cc"), 9)
	expect(t, s, 1, 0, []byte("aaaaBBBaacc"))
}

func testTruncate(t *testing.T, s content.Store) {
	data := pattern(200<<10, 9)
	write(t, s, 1, data, 0)

	// Shrink into the middle of the data, then write past the cut: the
	// gap must read as zeros, not as the old bytes.
	if err := s.Truncate(1, 1000); err != nil {
		t.Fatalf("Truncate: %v", err)
	}
	expect(t, s, 1, 0, data[:1000])
	expect(t, s, 1, 1000, zeros(5000))
	write(t, s, 1, []byte("X"), 150<<10)
	expect(t, s, 1, 990, append(append(data[990:1000:1000], zeros(150<<10-1000)...), 'X'))

	// Shrink to zero and grow by truncation: all zeros.
	if err := s.Truncate(1, 0); err != nil {
		t.Fatalf("Truncate 0: %v", err)
	}
	if err := s.Truncate(1, 70000); err != nil {
		t.Fatalf("Truncate grow: %v", err)
	}
	expect(t, s, 1, 0, zeros(70000))

	// Truncating a file never written creates an all-zero file.
	if err := s.Truncate(9, 4096); err != nil {
		t.Fatalf("Truncate missing: %v", err)
	}
	expect(t, s, 9, 0, zeros(4096))

	// Shrinking exactly to a boundary.
	write(t, s, 2, pattern(131072, 1), 0)
	if err := s.Truncate(2, 65536); err != nil {
		t.Fatal(err)
	}
	write(t, s, 2, []byte("z"), 131071)
	expect(t, s, 2, 65536-1, append(append(pattern(65536, 1)[65535:], zeros(65535)...), 'z'))
}

func testRemove(t *testing.T, s content.Store) {
	write(t, s, 1, []byte("gone soon"), 0)
	write(t, s, 2, []byte("stays"), 0)
	if err := s.Remove(1); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	expect(t, s, 1, 0, zeros(9))
	expect(t, s, 2, 0, []byte("stays"))
	if err := s.Remove(1); err != nil {
		t.Fatalf("Remove again: %v", err)
	}
	if err := s.Remove(12345); err != nil {
		t.Fatalf("Remove missing: %v", err)
	}
	// Writing after removal starts a fresh file.
	write(t, s, 1, []byte("new"), 3)
	expect(t, s, 1, 0, []byte("\x00\x00\x00new\x00"))
}

func testSyncStat(t *testing.T, s content.Store) {
	write(t, s, 1, []byte("durable"), 0)
	if err := s.Sync(1); err != nil {
		t.Fatalf("Sync: %v", err)
	}
	if err := s.Sync(77); err != nil {
		t.Fatalf("Sync of a file never written: %v", err)
	}
	total, free, err := s.StatFS()
	if err != nil {
		t.Fatalf("StatFS: %v", err)
	}
	if total == 0 || free == 0 || free > total {
		t.Fatalf("StatFS = %d total, %d free", total, free)
	}
}

func testBadOffset(t *testing.T, s content.Store) {
	if _, err := s.WriteAt(1, []byte("x"), -1); err == nil {
		t.Errorf("WriteAt at -1 succeeded")
	}
	if _, err := s.ReadAt(1, make([]byte, 1), -1); err == nil {
		t.Errorf("ReadAt at -1 succeeded")
	}
	if err := s.Truncate(1, -1); err == nil {
		t.Errorf("Truncate to -1 succeeded")
	}
}

func testConcurrent(t *testing.T, s content.Store) {
	const workers, rounds, block = 8, 50, 1000
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every worker writes its own blocks of a shared file and of
			// a file of its own, reading each back at once.
			own := uint64(100 + w)
			for r := range rounds {
				p := pattern(block, byte(w*rounds+r))
				off := int64((r*workers + w) * block)
				for _, id := range []uint64{1, own} {
					if _, err := s.WriteAt(id, p, off); err != nil {
						errs <- err
						return
					}
					got := make([]byte, block)
					if _, err := s.ReadAt(id, got, off); err != nil {
						errs <- err
						return
					}
					if !bytes.Equal(got, p) {
						errs <- fmt.Errorf("worker %d round %d id %d: read back differs", w, r, id)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for w := range workers {
		for r := range rounds {
			off := int64((r*workers + w) * block)
			expect(t, s, 1, off, pattern(block, byte(w*rounds+r)))
		}
	}
}
