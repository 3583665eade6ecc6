package fs

import (
	"context"
	"errors"
	"strings"

	"github.com/tandemfs/tandem/internal/meta"
)

// Extended attributes are named blobs kept with a file in the metadata
// store, in two namespaces told apart by the name's prefix, as on Linux:
//
//   - "user." names hold what clients store (SMB extended attributes).
//     Reading them needs read permission, changing them write
//     permission, the owner and root always may; only regular files and
//     directories have them (ErrPerm otherwise).
//   - "system." names hold what the protocols keep for themselves (an SMB
//     security descriptor). Anyone who reaches the file may read them;
//     only the owner and root may change them (ErrPerm).
//
// Any other name is ErrNotSupp. A file's attributes go with its last link.
// Changing one moves ctime, as any change of a file's metadata does.
const (
	XattrUser   = "user."
	XattrSystem = "system."
)

// Limits of extended attributes.
const (
	MaxXattrName = 255      // bytes of a name, prefix included
	MaxXattrSize = 64 << 10 // bytes of one value
)

// Xattr is one extended attribute. A nil Value in SetXattrs removes it.
type Xattr struct {
	Name  string
	Value []byte
}

// xattrClass checks a name and tells whether it is a system one.
func xattrClass(name string) (system bool, err error) {
	switch {
	case len(name) > MaxXattrName:
		return false, ErrNameTooLong
	case strings.HasPrefix(name, XattrSystem) && len(name) > len(XattrSystem):
		return true, nil
	case strings.HasPrefix(name, XattrUser) && len(name) > len(XattrUser):
		return false, nil
	}
	return false, ErrNotSupp
}

// mayXattr applies the namespace rules to reading (write false) or
// changing attributes of ino.
func (cr *cred) mayXattr(ino *meta.Inode, system, write bool) error {
	switch {
	case system && write && !cr.owns(ino):
		return ErrPerm
	case system:
		return nil
	case ino.Type != meta.TypeRegular && ino.Type != meta.TypeDir:
		return ErrPerm
	case cr.owns(ino):
		return nil
	case write && !cr.may(ino, mayWrite):
		return ErrAccess
	case !write && !cr.may(ino, mayRead):
		return ErrAccess
	}
	return nil
}

// GetXattr returns the value of h's attribute name (ErrNotExist if it has
// none).
func (f *FS) GetXattr(ctx context.Context, c *Caller, h Handle, name string) ([]byte, error) {
	_, cr, err := f.begin(h, c)
	if err != nil {
		return nil, err
	}
	system, err := xattrClass(name)
	if err != nil {
		return nil, err
	}
	var v []byte
	err = f.viewXattrs(ctx, h, &cr, system, func(tx meta.Tx, id uint64) error {
		var err error
		v, err = tx.Xattr(id, name)
		if errors.Is(err, meta.ErrNotFound) {
			return ErrNotExist
		}
		return err
	})
	return v, f.result("getxattr", err)
}

// ListXattrs calls fn, in name order, for each of h's attributes whose
// name starts with prefix (XattrUser or XattrSystem) until fn returns
// false. value is valid only during the call.
func (f *FS) ListXattrs(ctx context.Context, c *Caller, h Handle, prefix string, fn func(name string, value []byte) bool) error {
	_, cr, err := f.begin(h, c)
	if err != nil {
		return err
	}
	var system bool
	switch prefix {
	case XattrSystem:
		system = true
	case XattrUser:
	default:
		return ErrNotSupp
	}
	err = f.viewXattrs(ctx, h, &cr, system, func(tx meta.Tx, id uint64) error {
		return tx.Xattrs(id, func(name string, v []byte) bool {
			if !strings.HasPrefix(name, prefix) {
				return true
			}
			return fn(name, v)
		})
	})
	return f.result("listxattr", err)
}

// viewXattrs runs read in a read transaction once the caller may read h's
// attributes of the class system says.
func (f *FS) viewXattrs(ctx context.Context, h Handle, cr *cred, system bool, read func(tx meta.Tx, id uint64) error) error {
	return f.meta.View(ctx, func(tx meta.Tx) error {
		ino, err := inodeOf(tx, h)
		if err != nil {
			return err
		}
		if err := cr.mayXattr(&ino, system, false); err != nil {
			return err
		}
		return read(tx, ino.ID)
	})
}

// SetXattr sets h's attribute name to value.
func (f *FS) SetXattr(ctx context.Context, c *Caller, h Handle, name string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	return f.SetXattrs(ctx, c, h, []Xattr{{name, value}})
}

// RemoveXattr removes h's attribute name; removing one it does not have
// is not an error.
func (f *FS) RemoveXattr(ctx context.Context, c *Caller, h Handle, name string) error {
	return f.SetXattrs(ctx, c, h, []Xattr{{Name: name}})
}

// SetXattrs sets (or, for a nil Value, removes) several attributes of h in
// one transaction: all of them change or none. Values over MaxXattrSize
// are ErrFBig.
func (f *FS) SetXattrs(ctx context.Context, c *Caller, h Handle, xs []Xattr) error {
	s, cr, err := f.begin(h, c)
	if err != nil {
		return err
	}
	if s.cfg.ReadOnly {
		return ErrROFS
	}
	var anySystem, anyUser bool
	for _, x := range xs {
		system, err := xattrClass(x.Name)
		if err != nil {
			return err
		}
		if len(x.Value) > MaxXattrSize {
			return ErrFBig
		}
		anySystem = anySystem || system
		anyUser = anyUser || !system
	}
	now := f.now()
	err = f.change(ctx, s, func(tx meta.Tx) error {
		ino, err := inodeOf(tx, h)
		if err != nil {
			return err
		}
		if anySystem {
			if err := cr.mayXattr(&ino, true, true); err != nil {
				return err
			}
		}
		if anyUser {
			if err := cr.mayXattr(&ino, false, true); err != nil {
				return err
			}
		}
		for _, x := range xs {
			if x.Value == nil {
				err = tx.DeleteXattr(ino.ID, x.Name)
			} else {
				err = tx.PutXattr(ino.ID, x.Name, x.Value)
			}
			if err != nil {
				return err
			}
		}
		ino.Ctime = now
		ino.CreateVerf = [8]byte{}
		return tx.PutInode(&ino)
	})
	return f.result("setxattr", err)
}
