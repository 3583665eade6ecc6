package nfs3

import (
	"context"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
)

// opensBelow refuses (with refuse) the rename or removal of directory dir
// while an SMB open of a file or directory anywhere below it stays.
// Windows refuses to rename a directory with open files below it,
// whatever their share modes (MS-FSA 2.1.5.14.11 through 2.1.4.2): those
// opens know their files by a path through it. It first breaks the handle
// caching of those opens' clients, which keep opens their applications
// closed and would reopen them by their old paths, and judges the opens
// that stay; while the clients take long to answer, or the opens are prior
// state not yet reclaimed, the client is told to retry. Without refuse
// (a share whose locking is unix) it only breaks.
//
// The lock manager has no paths: it knows which files SMB holds open, and
// the file system places each in the tree by the directories its inodes
// record. That costs nothing while no file has lock state, and one read of
// each directory above an open file otherwise, for directory renames only.
func (g *crossGuard) opensBelow(ctx context.Context, dir fs.Handle, refuse bool) error {
	keys := g.locks.OpenFiles(dir.Share, nil)
	if len(keys) == 0 {
		return nil
	}
	ids := make([]uint64, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	below, err := g.fs.Below(ctx, dir.Share, dir.ID, ids)
	if err != nil || len(below) == 0 {
		return nil // a directory gone meanwhile: the operation says so
	}
	keys = keys[:0]
	for _, id := range below {
		keys = append(keys, lock.FileKey{Share: dir.Share, ID: id})
	}
	if err := g.contendKeys(keys, lock.ContendRemove); err != nil || !refuse {
		return err
	}
	var prior *lock.Owner
	for _, k := range keys {
		r, open := g.locks.Opened(k)
		switch {
		case !open:
		case !r.Owner.Prior:
			return fs.ErrLocked
		default:
			prior = &r.Owner
		}
	}
	if prior != nil {
		return refusal(*prior)
	}
	return nil
}
