package fs

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"

	"github.com/tandemfs/tandem/internal/meta"
)

// # Files kept open after their last name went
//
// A protocol with opens (SMB) holds each file it has open (Hold, Release).
// When the last link of a held non-directory goes (Remove, or a rename
// over it), the file stays, with no name: an orphan. Its handle still
// reads, writes, sets attributes and commits, as an open file does on
// POSIX after unlink(2), while the name is free for a new file at once.
// The release of the last hold deletes it and its content.
//
// An orphan is recorded in the metadata store in the transaction that
// takes its last link, so that a crash, which ends every open, cannot leak
// it: New deletes the orphans a previous run left. Holds live in memory;
// the check of a hold by a removal and the deletion by a release are
// each made inside a metadata update, and updates are serialized, so a
// removal racing with the last release either deletes the file itself or
// leaves an orphan that the release then finds.

// bucketOrphan holds one record per orphan, under its file id (8 bytes,
// big-endian), with no value.
const bucketOrphan = "orphan"

// holds counts the holds of each file, by id, and remembers which held
// files became orphans, so that only their last release costs a metadata
// update.
type holds struct {
	mu      sync.Mutex
	n       map[uint64]int
	orphans map[uint64]bool // may name a file whose orphaning did not commit
}

// markOrphan reports whether id is held, and if so remembers that its
// last release must look whether it still has a name.
func (hs *holds) markOrphan(id uint64) bool {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.n[id] == 0 {
		return false
	}
	if hs.orphans == nil {
		hs.orphans = map[uint64]bool{}
	}
	hs.orphans[id] = true
	return true
}

// Hold keeps the file h from being deleted when its last name goes, until
// a Release of h matches this Hold. Directories are not kept: removing a
// directory needs it empty, and an open one is the caller's business.
func (f *FS) Hold(h Handle) {
	f.holds.mu.Lock()
	defer f.holds.mu.Unlock()
	if f.holds.n == nil {
		f.holds.n = map[uint64]int{}
	}
	f.holds.n[h.ID]++
}

// Release ends a Hold of h. The last release of a file that has no name
// left deletes it and its content.
func (f *FS) Release(ctx context.Context, h Handle) {
	f.holds.mu.Lock()
	n := f.holds.n[h.ID] - 1
	if n > 0 {
		f.holds.n[h.ID] = n
		f.holds.mu.Unlock()
		return
	}
	delete(f.holds.n, h.ID)
	orphaned := f.holds.orphans[h.ID]
	delete(f.holds.orphans, h.ID)
	f.holds.mu.Unlock()
	if !orphaned {
		return
	}
	var drop uint64
	err := f.meta.Update(ctx, func(tx meta.Tx) error {
		drop = 0
		ino, err := tx.Inode(h.ID)
		switch {
		case errors.Is(err, meta.ErrNotFound):
			return nil
		case err != nil:
			return err
		case ino.Gen != h.Gen || ino.Nlink > 0 || ino.Type == meta.TypeDir:
			return nil
		case f.holds.markOrphan(h.ID):
			return nil // held again meanwhile: its release deletes it
		}
		drop, err = deleteOrphan(tx, &ino)
		return err
	})
	if err != nil {
		f.log.Error("fs: deleting a released file with no name", "id", h.ID, "err", err)
		return
	}
	f.dropContent(drop)
}

// orphan keeps ino, whose last link just went, as an orphan if it is
// held, and reports whether it did.
func (f *FS) orphan(tx meta.Tx, ino *meta.Inode, now int64) (bool, error) {
	if ino.Type == meta.TypeDir || !f.holds.markOrphan(ino.ID) {
		return false, nil
	}
	ino.Ctime = now
	if err := tx.PutInode(ino); err != nil {
		return false, err
	}
	return true, tx.Put(bucketOrphan, orphanKey(ino.ID), nil)
}

// deleteOrphan deletes an orphan's inode and record and returns the id
// whose content to remove after the commit, or 0.
func deleteOrphan(tx meta.Tx, ino *meta.Inode) (uint64, error) {
	if err := tx.DeleteInode(ino.ID); err != nil {
		return 0, err
	}
	if err := tx.Delete(bucketOrphan, orphanKey(ino.ID)); err != nil {
		return 0, err
	}
	if err := addFiles(tx, -1); err != nil {
		return 0, err
	}
	if ino.Type == meta.TypeRegular {
		return ino.ID, nil
	}
	return 0, nil
}

func orphanKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// dropOrphans deletes the orphans a previous run left: nothing holds a
// file when the file system starts.
func (f *FS) dropOrphans(ctx context.Context) error {
	var drop []uint64
	err := f.meta.Update(ctx, func(tx meta.Tx) error {
		drop = drop[:0]
		var ids []uint64
		err := tx.Scan(bucketOrphan, nil, func(k, _ []byte) bool {
			if len(k) == 8 {
				ids = append(ids, binary.BigEndian.Uint64(k))
			}
			return true
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			ino, err := tx.Inode(id)
			switch {
			case errors.Is(err, meta.ErrNotFound):
				if err := tx.Delete(bucketOrphan, orphanKey(id)); err != nil {
					return err
				}
				continue
			case err != nil:
				return err
			case ino.Nlink > 0: // linked again: no orphan
				if err := tx.Delete(bucketOrphan, orphanKey(id)); err != nil {
					return err
				}
				continue
			}
			d, err := deleteOrphan(tx, &ino)
			if err != nil {
				return err
			}
			if d != 0 {
				drop = append(drop, d)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range drop {
		f.dropContent(id)
	}
	return nil
}
