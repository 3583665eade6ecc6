package fs

import (
	"context"
	"errors"
	"strings"

	"github.com/tandemfs/tandem/internal/meta"
)

// LookupFold is Lookup for clients that expect names to be found without
// regard to case, as Windows does: an entry named exactly name wins;
// otherwise the first entry, in directory order, whose name equals name
// under Unicode simple case folding. It returns the entry's own spelling
// with its handle and attributes. Names are still stored as given, so the
// same directory may hold "a" and "A" (made over NFS); such a name then
// finds the one spelled exactly, and a folded query finds the earlier.
//
// The folded match reads the directory, so it costs a scan of it when no
// entry is spelled exactly; like Lookup it needs only search permission,
// because the caller could have guessed the spelling anyway.
func (f *FS) LookupFold(ctx context.Context, c *Caller, dir Handle, name string) (string, Handle, Attr, error) {
	s, cr, err := f.begin(dir, c)
	if err != nil {
		return "", Handle{}, Attr{}, err
	}
	if isDot(name) {
		h, a, _, err := f.Lookup(ctx, c, dir, name)
		return name, h, a, err
	}
	if err := checkName(name); err != nil {
		return "", Handle{}, Attr{}, err
	}
	var ino meta.Inode
	found := name
	err = f.meta.View(ctx, func(tx meta.Tx) error {
		found = name
		d, _, err := searchDir(tx, &cr, dir)
		if err != nil {
			return err
		}
		ino, err = lookupEntry(tx, &d, name)
		if !errors.Is(err, ErrNotExist) || !hasCase(name) {
			return err
		}
		var id uint64
		err = tx.ReadDir(d.ID, cookieDotDot, func(e meta.Dirent) bool {
			if strings.EqualFold(e.Name, name) {
				found, id = e.Name, e.ID
				return false
			}
			return true
		})
		if err != nil {
			return err
		}
		if id == 0 {
			return ErrNotExist
		}
		ino, err = inodeByID(tx, id)
		return err
	})
	if err != nil {
		return "", Handle{}, Attr{}, f.result("lookup", err)
	}
	return found, Handle{Share: s.id, ID: ino.ID, Gen: ino.Gen}, attrOf(&ino), nil
}

// hasCase reports whether name has a letter that folds to another: only
// such a name can match an entry spelled differently.
func hasCase(name string) bool {
	for _, r := range name {
		if r < 0x80 {
			if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
				return true
			}
			continue
		}
		return true // outside ASCII, let EqualFold decide
	}
	return false
}

// DirEmpty reports whether the directory h has no entries but "." and
// "..". It needs no permission: a protocol asks it about a directory it
// holds open, before marking it for deletion (ErrNotDir for other files).
func (f *FS) DirEmpty(ctx context.Context, h Handle) (bool, error) {
	if _, err := f.shareOf(h); err != nil {
		return false, err
	}
	var empty bool
	err := f.meta.View(ctx, func(tx meta.Tx) error {
		d, err := inodeOf(tx, h)
		if err != nil {
			return err
		}
		if d.Type != meta.TypeDir {
			return ErrNotDir
		}
		empty, err = tx.DirEmpty(d.ID)
		return err
	})
	return empty, f.result("diremptiness", err)
}
