// Package storetest is the conformance suite every meta.Store backend
// passes.
//
// Run checks the transactional contract on a fresh store per subtest:
// inode and directory-entry records, the exact sentinel errors, id
// allocation, cookie order and stability, buckets, rollback, read-your-
// writes, isolation of Views from Updates and a directory of 100,000
// entries. RunPersistent adds what only a persistent backend can promise:
// data survives Close and reopen, and every Update that returned survives a
// kill -9 of the process in the middle of later Updates.
package storetest

import (
	"context"
	"os"
	"testing"

	"github.com/tandemfs/tandem/internal/meta"
)

// Run runs the conformance suite. open returns a new, empty store for each
// subtest; Run closes it.
func Run(t *testing.T, open func(t *testing.T) meta.Store) {
	if os.Getenv(crashEnv) != "" {
		// A crash writer re-executed by RunPersistent has nothing to
		// check here.
		return
	}
	tests := []struct {
		name string
		fn   func(*testing.T, meta.Store)
	}{
		{"Inode", testInode},
		{"DeleteInode", testDeleteInode},
		{"AllocID", testAllocID},
		{"AllocIDConcurrent", testAllocIDConcurrent},
		{"Dirents", testDirents},
		{"CookieStability", testCookieStability},
		{"ReadDirFrom", testReadDirFrom},
		{"DirIsolation", testDirIsolation},
		{"Rollback", testRollback},
		{"ReadYourWrites", testReadYourWrites},
		{"WriteInView", testWriteInView},
		{"TxAfterReturn", testTxAfterReturn},
		{"Buckets", testBuckets},
		{"BucketIsolation", testBucketIsolation},
		{"BucketScan", testBucketScan},
		{"Xattrs", testXattrs},
		{"WriteWhileIterating", testWriteWhileIterating},
		{"ConcurrentViews", testConcurrentViews},
		{"Context", testContext},
		{"LargeDir", testLargeDir},
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
	t.Run("Closed", func(t *testing.T) { testClosed(t, open(t)) })
}

var ctx = context.Background()

func update(t *testing.T, s meta.Store, fn func(meta.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, s meta.Store, fn func(meta.Tx) error) {
	t.Helper()
	if err := s.View(ctx, fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// sampleInode has every field set to something its encoding must keep.
func sampleInode(id uint64) meta.Inode {
	return meta.Inode{
		ID:         id,
		Gen:        0x1122334455667788,
		Type:       meta.TypeSymlink,
		Mode:       0o7755,
		Nlink:      3,
		UID:        1000,
		GID:        4294967294,
		Size:       1 << 62,
		Major:      8,
		Minor:      17,
		Parent:     99,
		Atime:      1_700_000_000_123_456_789,
		Mtime:      -1, // before the epoch
		Ctime:      0,
		Btime:      1<<63 - 1,
		DOSAttrs:   0x20,
		CreateVerf: [8]byte{1, 2, 3, 4, 5, 6, 7, 8},
		Target:     "../some/where/\x00odd",
	}
}

func putInode(tx meta.Tx, ino meta.Inode) error { return tx.PutInode(&ino) }

func getInode(t *testing.T, s meta.Store, id uint64) (meta.Inode, error) {
	t.Helper()
	var ino meta.Inode
	var err error
	view(t, s, func(tx meta.Tx) error {
		ino, err = tx.Inode(id)
		return nil
	})
	return ino, err
}

// listDir returns every entry of dir after cookie after.
func listDir(t *testing.T, s meta.Store, dir, after uint64) []meta.Dirent {
	t.Helper()
	var out []meta.Dirent
	view(t, s, func(tx meta.Tx) error {
		return tx.ReadDir(dir, after, func(e meta.Dirent) bool {
			out = append(out, e)
			return true
		})
	})
	return out
}
