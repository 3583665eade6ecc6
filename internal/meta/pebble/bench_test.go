package pebble_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/tandemfs/tandem/internal/meta"
	"github.com/tandemfs/tandem/internal/meta/pebble"
)

// create is what a CREATE does to the store: a new id and inode, an entry
// in the parent and the parent's new mtime.
func create(tx meta.Tx, dir uint64, name string) error {
	id, err := tx.AllocID()
	if err != nil {
		return err
	}
	ino := meta.Inode{ID: id, Gen: 1, Type: meta.TypeRegular, Mode: 0o644, Nlink: 1, UID: 1000, GID: 1000,
		Atime: 1, Mtime: 1, Ctime: 1, Btime: 1}
	if err := tx.PutInode(&ino); err != nil {
		return err
	}
	if _, err := tx.AddEntry(dir, name, id); err != nil {
		return err
	}
	parent, err := tx.Inode(dir)
	if err != nil {
		return err
	}
	parent.Mtime++
	parent.Ctime = parent.Mtime
	return tx.PutInode(&parent)
}

func benchStore(b *testing.B) *pebble.Store {
	s, err := pebble.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	root := meta.Inode{ID: 1, Type: meta.TypeDir, Mode: 0o755, Nlink: 2}
	if err := s.Update(context.Background(), func(tx meta.Tx) error { return tx.PutInode(&root) }); err != nil {
		b.Fatal(err)
	}
	return s
}

func benchCreate(b *testing.B, parallel, lazy bool) {
	s := benchStore(b)
	update := s.Update
	if lazy {
		update = s.UpdateLazy
	}
	var n atomic.Uint64
	one := func() {
		name := "f" + strconv.FormatUint(n.Add(1), 10)
		if err := update(context.Background(), func(tx meta.Tx) error { return create(tx, 1, name) }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		// Many more goroutines than cores: NFS servers run one per request,
		// and most of them wait for a sync, not for the CPU.
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				one()
			}
		})
		return
	}
	for b.Loop() {
		one()
	}
}

func BenchmarkCreate(b *testing.B)             { benchCreate(b, false, false) }
func BenchmarkCreateParallel(b *testing.B)     { benchCreate(b, true, false) }
func BenchmarkCreateLazy(b *testing.B)         { benchCreate(b, false, true) }
func BenchmarkCreateLazyParallel(b *testing.B) { benchCreate(b, true, true) }

// BenchmarkLookupGetattr is the read side of a LOOKUP: the entry, then
// the inode, in one View.
func BenchmarkLookupGetattr(b *testing.B) {
	s := benchStore(b)
	const files = 10000
	if err := s.UpdateLazy(context.Background(), func(tx meta.Tx) error {
		for i := range files {
			if err := create(tx, 1, "f"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	names := make([]string, files)
	for i := range names {
		names[i] = "f" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var n atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			name := names[n.Add(1)%files]
			err := s.View(context.Background(), func(tx meta.Tx) error {
				e, err := tx.Lookup(1, name)
				if err != nil {
					return err
				}
				_, err = tx.Inode(e.ID)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}
