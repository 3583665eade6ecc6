package fs

import (
	"context"
	"strings"

	"github.com/tandemfs/tandem/internal/meta"
)

// ToSymlink turns the file h, an empty regular file or an empty
// directory, into a symbolic link to target, in place: the handle, the
// name and the owner stay, the mode becomes 0777 as any link's. A link
// whose target is set again gets the new one.
//
// This is how an SMB client makes a link: it creates a file or directory
// and then sets a symbolic link reparse point on it (mklink). The caller
// must own the file or may write it (ErrAccess); a file with data is
// ErrNotSupp, since a link has none, a directory with entries ErrNotEmpty,
// other types ErrInval. The target follows Symlink's rules.
func (f *FS) ToSymlink(ctx context.Context, c *Caller, h Handle, target string) (Attr, error) {
	switch {
	case target == "" || strings.IndexByte(target, 0) >= 0:
		return Attr{}, ErrInval
	case len(target) > MaxPathLen:
		return Attr{}, ErrNameTooLong
	}
	s, cr, err := f.begin(h, c)
	if err != nil {
		return Attr{}, err
	}
	if s.cfg.ReadOnly {
		return Attr{}, ErrROFS
	}
	if h == s.root {
		return Attr{}, ErrAccess
	}
	now := f.now()
	var pre, post meta.Inode
	err = f.change(ctx, s, func(tx meta.Tx) error {
		ino, err := inodeOf(tx, h)
		if err != nil {
			return err
		}
		pre = ino
		if !cr.owns(&ino) && !cr.may(&ino, mayWrite) {
			return ErrAccess
		}
		switch ino.Type {
		case meta.TypeSymlink:
		case meta.TypeRegular:
			if ino.Size != 0 {
				return ErrNotSupp
			}
		case meta.TypeDir:
			if ino.Nlink == 0 {
				return ErrStale
			}
			empty, err := tx.DirEmpty(ino.ID)
			if err != nil {
				return err
			}
			if !empty {
				return ErrNotEmpty
			}
			// The directory's ".." no longer links its parent.
			parent, err := inodeByID(tx, ino.Parent)
			if err != nil {
				return err
			}
			parent.Nlink--
			parent.Ctime = now
			if err := tx.PutInode(&parent); err != nil {
				return err
			}
			ino.Nlink, ino.Parent = 1, 0
		default:
			return ErrInval
		}
		ino.Type, ino.Target, ino.Size = meta.TypeSymlink, target, uint64(len(target))
		ino.Mode = 0o777
		ino.Mtime, ino.Ctime = now, now
		post = ino
		return tx.PutInode(&ino)
	})
	if err != nil {
		return Attr{}, f.result("tosymlink", err)
	}
	if pre.Type == meta.TypeRegular {
		f.dropContent(pre.ID) // none was written, or it was cut to nothing
	}
	f.emitModify(h, &pre, &post)
	return attrOf(&post), nil
}
