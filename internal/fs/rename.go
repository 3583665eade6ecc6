package fs

import (
	"context"
	"errors"

	"github.com/tandemfs/tandem/internal/meta"
)

// maxDepth bounds the walk up a share's tree; a longer chain of parents can
// only be a cycle, which is a corrupt store.
const maxDepth = 1 << 20

// Rename renames atomically, replacing a compatible existing target. It
// returns the wcc data of the source and the target directory.
//
// Both directories must be in one share (ErrXDev); "." and ".." are not
// renamable names (ErrInval). The checks, in the order Linux makes them:
// search permission on both directories (ErrAccess); the source exists
// (ErrNotExist); if source and target are links to one file, nothing
// happens and the rename succeeds; write permission on both directories
// (ErrAccess) and their sticky rules (ErrPerm); a directory moving to
// another parent needs write permission on itself (to change its "..");
// a directory cannot move into its own subtree (ErrInval); an existing
// target must be of a compatible type (a directory over a file is
// ErrNotDir, a file over a directory ErrIsDir) and, if a directory, empty
// (ErrNotEmpty). A directory moving into a directory at MaxLinks is
// ErrMLink. The moved file's ctime changes; a directory's parent becomes
// the target directory and the link counts of both parents follow.
func (f *FS) Rename(ctx context.Context, c *Caller, fromDir Handle, fromName string, toDir Handle, toName string) (Wcc, Wcc, error) {
	return f.rename(ctx, c, fromDir, fromName, toDir, toName, false)
}

// RenameNoReplace is Rename that refuses to replace an existing target
// (ErrExist), decided in the same transaction as the rename, as SMB asks
// when ReplaceIfExists is false and renameat2's RENAME_NOREPLACE does. A
// target that is a link to the source file is no obstacle: the rename
// then does nothing, as Rename does.
func (f *FS) RenameNoReplace(ctx context.Context, c *Caller, fromDir Handle, fromName string, toDir Handle, toName string) (Wcc, Wcc, error) {
	return f.rename(ctx, c, fromDir, fromName, toDir, toName, true)
}

func (f *FS) rename(ctx context.Context, c *Caller, fromDir Handle, fromName string, toDir Handle, toName string, noReplace bool) (Wcc, Wcc, error) {
	s, cr, err := f.begin(fromDir, c)
	if err != nil {
		return Wcc{}, Wcc{}, err
	}
	if _, err := f.shareOf(toDir); err != nil {
		return Wcc{}, Wcc{}, err
	}
	if toDir.Share != fromDir.Share {
		return Wcc{}, Wcc{}, ErrXDev
	}
	if s.cfg.ReadOnly {
		return Wcc{}, Wcc{}, ErrROFS
	}
	if err := checkOldName(fromName); err != nil {
		return Wcc{}, Wcc{}, err
	}
	if err := checkOldName(toName); err != nil {
		return Wcc{}, Wcc{}, err
	}
	now := f.now()
	var fromWcc, toWcc Wcc
	var drop uint64
	var moved meta.Inode
	err = f.change(ctx, s, func(tx meta.Tx) error {
		drop = 0
		r := renamer{fs: f, tx: tx, cr: &cr, root: s.root.ID, now: now, noReplace: noReplace}
		defer func() { moved = r.moved }()
		err := r.load(fromDir, toDir)
		fromWcc, toWcc = r.wccs()
		if err != nil {
			return err
		}
		if drop, err = r.rename(fromName, toName); err != nil {
			return err
		}
		fromWcc.Post, toWcc.Post = attrOf(r.from), attrOf(r.to)
		return nil
	})
	if err != nil {
		return fromWcc, toWcc, f.result("rename", err)
	}
	f.dropContent(drop)
	f.emitRename(fromDir, fromName, toDir, toName, &moved)
	return fromWcc, toWcc, nil
}

// renamer is one Rename inside its transaction. from and to point to the
// same inode when the directories are one, so that link count and time
// changes made through either are not lost.
type renamer struct {
	fs        *FS
	tx        meta.Tx
	cr        *cred
	root      uint64
	now       int64
	noReplace bool // an existing target is ErrExist
	fromIno   meta.Inode
	toIno     meta.Inode
	from, to  *meta.Inode
	fromWcc   Wcc
	toWcc     Wcc
	moved     meta.Inode // the file renamed, once it was
}

// load reads and checks both directories.
func (r *renamer) load(fromDir, toDir Handle) error {
	var err error
	r.fromIno, r.fromWcc, err = searchDir(r.tx, r.cr, fromDir)
	if err != nil {
		return err
	}
	r.from = &r.fromIno
	if toDir.ID == fromDir.ID && toDir.Gen == fromDir.Gen {
		r.to, r.toWcc = r.from, r.fromWcc
		return nil
	}
	r.toIno, r.toWcc, err = searchDir(r.tx, r.cr, toDir)
	r.to = &r.toIno
	return err
}

func (r *renamer) wccs() (Wcc, Wcc) { return r.fromWcc, r.toWcc }

// rename does the checks and changes once both directories are loaded.
func (r *renamer) rename(fromName, toName string) (uint64, error) {
	tx, cr := r.tx, r.cr
	src, err := lookupEntry(tx, r.from, fromName)
	if err != nil {
		return 0, err
	}
	dst, err := lookupEntry(tx, r.to, toName)
	exists := err == nil
	if err != nil && !errors.Is(err, ErrNotExist) {
		return 0, err
	}
	if exists && dst.ID == src.ID {
		return 0, nil // links to one file: POSIX says do nothing
	}
	if exists && r.noReplace {
		return 0, ErrExist
	}
	switch {
	case !cr.may(r.from, mayWrite|mayExec):
		return 0, ErrAccess
	case !cr.mayUnlink(r.from, &src):
		return 0, ErrPerm
	case !cr.may(r.to, mayWrite|mayExec):
		return 0, ErrAccess
	case exists && !cr.mayUnlink(r.to, &dst):
		return 0, ErrPerm
	}
	isDir := src.Type == meta.TypeDir
	moving := isDir && r.from.ID != r.to.ID
	if moving {
		if !cr.may(&src, mayWrite) {
			return 0, ErrAccess
		}
		if err := r.checkNotUnder(src.ID); err != nil {
			return 0, err
		}
	}
	if exists {
		switch {
		case isDir && dst.Type != meta.TypeDir:
			return 0, ErrNotDir
		case !isDir && dst.Type == meta.TypeDir:
			return 0, ErrIsDir
		case dst.Type == meta.TypeDir:
			empty, err := tx.DirEmpty(dst.ID)
			if err != nil {
				return 0, err
			}
			if !empty {
				return 0, ErrNotEmpty
			}
		}
	} else if moving && r.to.Nlink >= MaxLinks {
		return 0, ErrMLink
	}

	var drop uint64
	if exists {
		if err := tx.RemoveEntry(r.to.ID, toName); err != nil {
			return 0, err
		}
		if drop, err = r.fs.dropLink(tx, r.to, &dst, r.now); err != nil {
			return 0, err
		}
	}
	if err := tx.RemoveEntry(r.from.ID, fromName); err != nil {
		return 0, err
	}
	if _, err := tx.AddEntry(r.to.ID, toName, src.ID); err != nil {
		return 0, err
	}
	src.Ctime, src.Parent = r.now, r.to.ID
	if moving {
		r.from.Nlink--
		r.to.Nlink++
	}
	if err := tx.PutInode(&src); err != nil {
		return 0, err
	}
	touch(r.from, r.now)
	touch(r.to, r.now)
	if err := tx.PutInode(r.from); err != nil {
		return 0, err
	}
	if r.to != r.from {
		if err := tx.PutInode(r.to); err != nil {
			return 0, err
		}
	}
	r.moved = src
	return drop, nil
}

// checkNotUnder refuses to move directory id into the target directory if
// that directory is id or below it (ErrInval, as rename(2)).
func (r *renamer) checkNotUnder(id uint64) error {
	cur := r.to.ID
	for range maxDepth {
		if cur == id {
			return ErrInval
		}
		if cur == r.root {
			return nil
		}
		ino, err := inodeByID(r.tx, cur)
		if err != nil {
			return err
		}
		if ino.Parent == cur {
			return nil
		}
		cur = ino.Parent
	}
	return ErrServerFault
}
