package fs

import (
	"context"
	"errors"
	"sync"

	"github.com/tandemfs/tandem/internal/meta"
)

// Where files are. A directory has one parent; every other file records
// the directory of its link made or renamed last (meta.Inode.Parent), or
// none once that link went while others stay. That is enough to place a
// file in the tree without a reverse index of directory entries: a front
// end that knows a file only by its handle (a lock manager's entry, a
// change made through a handle) asks here whether it lies below a
// directory, and by which name its directory holds it.

// Below reports which of the files ids of a share lie below directory
// dir: in it, or in a directory below it, as their recorded directories
// say. dir is not below itself; a file that is gone, or whose directory is
// unknown, is below nothing. The answer keeps the order of ids. It is one
// read-only transaction that reads each directory on the way up once.
func (f *FS) Below(ctx context.Context, share uint32, dir uint64, ids []uint64) ([]uint64, error) {
	s, err := f.shareOf(Handle{Share: share, Gen: uint64(share) << 32})
	if err != nil {
		return nil, err
	}
	var out []uint64
	err = f.meta.View(ctx, func(tx meta.Tx) error {
		out = out[:0]
		w := walker{tx: tx, known: map[uint64]bool{s.root.ID: false, dir: true}}
		for _, id := range ids {
			if id == dir {
				continue
			}
			ino, err := tx.Inode(id)
			if errors.Is(err, meta.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			below, err := w.below(ino.Parent)
			if err != nil {
				return err
			}
			if below {
				out = append(out, id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, f.result("below", err)
	}
	return out, nil
}

// walker answers, for directories, whether they are the directory asked
// about or below it, remembering every directory it passed.
type walker struct {
	tx    meta.Tx
	known map[uint64]bool
	path  []uint64
}

func (w *walker) below(dir uint64) (bool, error) {
	w.path = w.path[:0]
	cur, below := dir, false
	for range maxDepth {
		if cur == 0 {
			break
		}
		if v, ok := w.known[cur]; ok {
			below = v
			break
		}
		w.path = append(w.path, cur)
		ino, err := w.tx.Inode(cur)
		if errors.Is(err, meta.ErrNotFound) {
			break
		}
		if err != nil {
			return false, err
		}
		if ino.Type != meta.TypeDir || ino.Parent == cur {
			break
		}
		cur = ino.Parent
	}
	if len(w.path) == maxDepth {
		return false, ErrServerFault
	}
	for _, id := range w.path {
		w.known[id] = below
	}
	return below, nil
}

// maxNames bounds the names remembered for EntryName.
const maxNames = 4096

// nameCache remembers by which name a directory held a file when last asked
// or told, so that EntryName does not read a whole directory for every
// change of a file that changes often. An entry is only a guess: it is
// checked against the directory before it is believed.
type nameCache struct {
	mu sync.Mutex
	m  map[uint64]nameOf
}

type nameOf struct {
	dir  uint64
	name string
}

func (n *nameCache) get(id uint64) (nameOf, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	e, ok := n.m[id]
	return e, ok
}

func (n *nameCache) put(id, dir uint64, name string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil || len(n.m) >= maxNames {
		n.m = make(map[uint64]nameOf) // forget all: refilled by use
	}
	n.m[id] = nameOf{dir, name}
}

// EntryName reports the name by which directory dir of a share holds the
// file id (ErrNotExist if none). The name remembered from an earlier call
// or a change is checked with one lookup; else the directory is read.
func (f *FS) EntryName(ctx context.Context, share uint32, dir, id uint64) (string, error) {
	if _, err := f.shareOf(Handle{Share: share, Gen: uint64(share) << 32}); err != nil {
		return "", err
	}
	guess, guessed := f.names.get(id)
	var name string
	err := f.meta.View(ctx, func(tx meta.Tx) error {
		if guessed && guess.dir == dir {
			if ent, err := tx.Lookup(dir, guess.name); err == nil && ent.ID == id {
				name = guess.name
				return nil
			}
		}
		found := false
		err := tx.ReadDir(dir, 0, func(d meta.Dirent) bool {
			if d.ID == id {
				name, found = d.Name, true
				return false
			}
			return true
		})
		if err != nil {
			return err
		}
		if !found {
			return ErrNotExist
		}
		return nil
	})
	if err != nil {
		return "", f.result("entryname", err)
	}
	if !guessed || guess.dir != dir || guess.name != name {
		f.names.put(id, dir, name)
	}
	return name, nil
}
