package fs

import (
	"context"
	"errors"
	"maps"

	"github.com/tandemfs/tandem/internal/meta"
)

// bucketShareRemoved keeps the records of removed shares, so that their
// files are not lost: adding the name again serves the same tree, as a
// Samba share removed from smb.conf and added back finds its directory.
const bucketShareRemoved = "share.removed"

// RemoveShare stops exporting the named share: new mounts and tree
// connects no longer find it, and handles into it are stale from now on.
// Its files stay in the store; AddShare of the same name serves them again.
func (f *FS) RemoveShare(ctx context.Context, name string) error {
	f.shareMu.Lock()
	defer f.shareMu.Unlock()
	err := f.meta.Update(ctx, func(tx meta.Tx) error {
		v, err := tx.Get(bucketShare, []byte(name))
		if err != nil {
			return err
		}
		if err := tx.Put(bucketShareRemoved, []byte(name), v); err != nil {
			return err
		}
		return tx.Delete(bucketShare, []byte(name))
	})
	if errors.Is(err, meta.ErrNotFound) {
		return ErrNotExist
	}
	if err != nil {
		return f.result("removeshare", err)
	}
	old := f.shares.Load()
	t := &shareTable{byID: maps.Clone(old.byID), byName: maps.Clone(old.byName)}
	if s, ok := t.byName[name]; ok {
		delete(t.byID, s.id)
		delete(t.byName, name)
	}
	f.shares.Store(t)
	return nil
}

// reviveShare brings back the tree of a removed share of cfg's name with
// cfg's options, or returns nil if there was none.
func reviveShare(tx meta.Tx, cfg ShareConfig) (*share, error) {
	v, err := tx.Get(bucketShareRemoved, []byte(cfg.Name))
	if errors.Is(err, meta.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	old, err := decodeShare(cfg.Name, v)
	if err != nil {
		return nil, err
	}
	if err := tx.Delete(bucketShareRemoved, []byte(cfg.Name)); err != nil {
		return nil, err
	}
	return &share{id: old.id, root: old.root, cfg: cfg}, nil
}
