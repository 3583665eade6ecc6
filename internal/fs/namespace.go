package fs

import (
	"context"
	"errors"
	"strings"

	"github.com/tandemfs/tandem/internal/meta"
)

// checkName validates a name to look up or remove: not empty, without '/'
// or NUL (ErrInval), at most MaxNameLen bytes (ErrNameTooLong).
func checkName(name string) error {
	switch {
	case name == "":
		return ErrInval
	case len(name) > MaxNameLen:
		return ErrNameTooLong
	case strings.ContainsAny(name, "/\x00"):
		return ErrInval
	}
	return nil
}

func isDot(name string) bool { return name == "." || name == ".." }

// checkNewName validates a name to create: "." and ".." always exist
// (ErrExist), as mkdir(2) says.
func checkNewName(name string) error {
	if isDot(name) {
		return ErrExist
	}
	return checkName(name)
}

// checkOldName validates a name to remove or rename: "." and ".." are not
// entries one can remove (ErrInval).
func checkOldName(name string) error {
	if isDot(name) {
		return ErrInval
	}
	return checkName(name)
}

// searchDir reads the directory h names and checks that the caller may
// search it, returning its wcc data for the reply in every case it was read.
func searchDir(tx meta.Tx, cr *cred, h Handle) (meta.Inode, Wcc, error) {
	d, err := inodeOf(tx, h)
	if err != nil {
		return d, Wcc{}, err
	}
	wcc := wccOf(&d)
	if d.Type != meta.TypeDir {
		return d, wcc, ErrNotDir
	}
	if !cr.may(&d, mayExec) {
		return d, wcc, ErrAccess
	}
	return d, wcc, nil
}

// lookupEntry finds name in d: ErrNotExist if it is not there.
func lookupEntry(tx meta.Tx, d *meta.Inode, name string) (meta.Inode, error) {
	ent, err := tx.Lookup(d.ID, name)
	if errors.Is(err, meta.ErrNotFound) {
		return meta.Inode{}, ErrNotExist
	}
	if err != nil {
		return meta.Inode{}, err
	}
	return inodeByID(tx, ent.ID)
}

// Lookup finds name in dir ("." and ".." included; the share root's ".."
// is the root). It returns the file's handle and attributes and the
// directory's attributes, which are valid also on error once the
// directory was read.
func (f *FS) Lookup(ctx context.Context, c *Caller, dir Handle, name string) (Handle, Attr, Attr, error) {
	s, cr, err := f.begin(dir, c)
	if err != nil {
		return Handle{}, Attr{}, Attr{}, err
	}
	if !isDot(name) {
		if err := checkName(name); err != nil {
			return Handle{}, Attr{}, Attr{}, err
		}
	}
	call := newCall(dir, s, cr)
	defer call.free()
	call.name = name
	if isDot(name) || !f.lookupCached(call) {
		if err := f.lookupStore(ctx, call); err != nil {
			return Handle{}, Attr{}, call.dir, f.result("lookup", err)
		}
	}
	return Handle{Share: s.id, ID: call.ino.ID, Gen: call.ino.Gen}, attrOf(&call.ino), call.dir, nil
}

// ReadLink returns a symlink's target (ErrInval for other files). Like
// readlink(2) it needs no permission on the link itself.
func (f *FS) ReadLink(ctx context.Context, c *Caller, h Handle) (string, Attr, error) {
	s, cr, err := f.begin(h, c)
	if err != nil {
		return "", Attr{}, err
	}
	call := newCall(h, s, cr)
	defer call.free()
	if err := f.loadInode(ctx, call); err != nil {
		return "", Attr{}, f.result("readlink", err)
	}
	a := attrOf(&call.ino)
	if call.ino.Type != meta.TypeSymlink {
		return "", a, ErrInval
	}
	return call.ino.Target, a, nil
}

// node is what a create operation makes.
type node struct {
	typ          meta.FileType
	mode         uint32 // when the caller gives none
	sa           *SetAttr
	target       string
	major, minor uint32
}

// Create makes a regular file. An existing name is handled by how.Mode:
// Guarded answers ErrExist; Unchecked reuses an existing regular file
// (truncating it if how.Attr sets a size, which needs write permission)
// and answers ErrExist for anything else; Exclusive stores how.Verf in the
// new file and treats a retry carrying the same verifier as success
// (a zero verifier never matches). A later SetAttr clears the verifier.
func (f *FS) Create(ctx context.Context, c *Caller, dir Handle, name string, how CreateHow) (Handle, Attr, Wcc, error) {
	n := node{typ: meta.TypeRegular, mode: 0o644}
	if how.Mode != Exclusive {
		n.sa = &how.Attr
	}
	return f.makeNode(ctx, c, dir, name, &n, &how)
}

// Mkdir makes a directory.
func (f *FS) Mkdir(ctx context.Context, c *Caller, dir Handle, name string, sa SetAttr) (Handle, Attr, Wcc, error) {
	return f.makeNode(ctx, c, dir, name, &node{typ: meta.TypeDir, mode: 0o755, sa: &sa}, nil)
}

// Symlink makes a symbolic link. The target must be 1 to MaxPathLen bytes
// without NUL (ErrInval, ErrNameTooLong); the link's mode is always 0777.
func (f *FS) Symlink(ctx context.Context, c *Caller, dir Handle, name, target string, sa SetAttr) (Handle, Attr, Wcc, error) {
	switch {
	case target == "" || strings.IndexByte(target, 0) >= 0:
		return Handle{}, Attr{}, Wcc{}, ErrInval
	case len(target) > MaxPathLen:
		return Handle{}, Attr{}, Wcc{}, ErrNameTooLong
	}
	return f.makeNode(ctx, c, dir, name, &node{typ: meta.TypeSymlink, mode: 0o777, sa: &sa, target: target}, nil)
}

// Mknod makes a device, socket or FIFO (ErrBadType for other types). Only
// root makes devices (ErrPerm).
func (f *FS) Mknod(ctx context.Context, c *Caller, dir Handle, name string, typ FileType, sa SetAttr, major, minor uint32) (Handle, Attr, Wcc, error) {
	n := node{typ: typ, mode: 0o644, sa: &sa}
	switch typ {
	case meta.TypeBlock, meta.TypeChar:
		n.major, n.minor = major, minor
	case meta.TypeSocket, meta.TypeFIFO:
	default:
		return Handle{}, Attr{}, Wcc{}, ErrBadType
	}
	return f.makeNode(ctx, c, dir, name, &n, nil)
}

// makeNode is every create operation. The order of checks follows Linux:
// the directory (ErrStale, ErrNotDir), search permission (ErrAccess), an
// existing name (ErrExist, or Create's rules when how is set), write
// permission (ErrAccess), the right to make devices (ErrPerm) and the link
// limit of the directory (ErrMLink).
func (f *FS) makeNode(ctx context.Context, c *Caller, dir Handle, name string, n *node, how *CreateHow) (Handle, Attr, Wcc, error) {
	s, cr, err := f.begin(dir, c)
	if err != nil {
		return Handle{}, Attr{}, Wcc{}, err
	}
	if s.cfg.ReadOnly {
		return Handle{}, Attr{}, Wcc{}, ErrROFS
	}
	if err := checkNewName(name); err != nil {
		return Handle{}, Attr{}, Wcc{}, err
	}
	now := f.now()
	var ino, pre meta.Inode
	var wcc Wcc
	created := false
	err = f.change(ctx, s, func(tx meta.Tx) error {
		created = false
		d, w, err := searchDir(tx, &cr, dir)
		wcc = w
		if err != nil {
			return err
		}
		old, err := lookupEntry(tx, &d, name)
		switch {
		case err == nil && how == nil:
			return ErrExist
		case err == nil:
			ino, pre = old, old
			return f.createExisting(tx, &cr, &ino, how, now)
		case !errors.Is(err, ErrNotExist):
			return err
		}
		if !cr.may(&d, mayWrite|mayExec) {
			return ErrAccess
		}
		if (n.typ == meta.TypeBlock || n.typ == meta.TypeChar) && !cr.root() {
			return ErrPerm
		}
		if n.typ == meta.TypeDir && d.Nlink >= MaxLinks {
			return ErrMLink
		}
		id, err := tx.AllocID()
		if err != nil {
			return err
		}
		ino = meta.Inode{
			ID: id, Gen: newGen(s.id), Type: n.typ, Mode: n.mode, Nlink: 1,
			UID: cr.uid, GID: cr.gid, Major: n.major, Minor: n.minor,
			Atime: now, Mtime: now, Ctime: now, Btime: now, Parent: d.ID,
		}
		if d.Mode&modeSetgid != 0 {
			ino.GID = d.GID
		}
		switch n.typ {
		case meta.TypeDir:
			ino.Nlink, ino.Size = 2, dirSize
		case meta.TypeSymlink:
			ino.Target, ino.Size = n.target, uint64(len(n.target))
		}
		if n.sa != nil {
			if err := cr.setAttr(&ino, n.sa, now, true); err != nil {
				return err
			}
		}
		if n.typ == meta.TypeDir && d.Mode&modeSetgid != 0 {
			ino.Mode |= modeSetgid // subdirectories carry the group rule on
		}
		if how != nil && how.Mode == Exclusive {
			ino.CreateVerf = how.Verf
		}
		if err := tx.PutInode(&ino); err != nil {
			return err
		}
		if _, err := tx.AddEntry(d.ID, name, id); err != nil {
			return err
		}
		if n.typ == meta.TypeDir {
			d.Nlink++
		}
		touch(&d, now)
		if err := tx.PutInode(&d); err != nil {
			return err
		}
		wcc.Post = attrOf(&d)
		created = true
		return addFiles(tx, 1)
	})
	if err != nil {
		return Handle{}, Attr{}, wcc, f.result("create", err)
	}
	if created {
		f.emitEntry(OpCreate, dir, name, &ino)
	} else {
		f.emitModify(Handle{Share: s.id, ID: ino.ID, Gen: ino.Gen}, &pre, &ino)
	}
	return Handle{Share: s.id, ID: ino.ID, Gen: ino.Gen}, attrOf(&ino), wcc, nil
}

// createExisting applies Create's rules to an existing file ino.
func (f *FS) createExisting(tx meta.Tx, cr *cred, ino *meta.Inode, how *CreateHow, now int64) error {
	switch how.Mode {
	case Exclusive:
		if ino.Type == meta.TypeRegular && how.Verf != [8]byte{} && ino.CreateVerf == how.Verf {
			return nil
		}
		return ErrExist
	case Unchecked:
		if ino.Type != meta.TypeRegular {
			return ErrExist
		}
		if how.Attr.Mask&SetSize == 0 {
			return nil
		}
		old := ino.Size
		if err := cr.setAttr(ino, &SetAttr{Mask: SetSize, Size: how.Attr.Size}, now, false); err != nil {
			return err
		}
		if ino.Size != old {
			if err := f.content.Truncate(ino.ID, int64(min(old, ino.Size))); err != nil {
				return err
			}
		}
		return tx.PutInode(ino)
	default:
		return ErrExist
	}
}

// Link makes a hard link to h named name in dir. Directories cannot be
// linked (ErrPerm, as link(2)); a file at MaxLinks is ErrMLink.
func (f *FS) Link(ctx context.Context, c *Caller, h Handle, dir Handle, name string) (Attr, Wcc, error) {
	s, cr, err := f.begin(dir, c)
	if err != nil {
		return Attr{}, Wcc{}, err
	}
	if _, err := f.shareOf(h); err != nil {
		return Attr{}, Wcc{}, err
	}
	if h.Share != dir.Share {
		return Attr{}, Wcc{}, ErrXDev
	}
	if s.cfg.ReadOnly {
		return Attr{}, Wcc{}, ErrROFS
	}
	if err := checkNewName(name); err != nil {
		return Attr{}, Wcc{}, err
	}
	now := f.now()
	var a Attr
	var wcc Wcc
	var linked meta.Inode
	err = f.change(ctx, s, func(tx meta.Tx) error {
		ino, err := inodeOf(tx, h)
		linked = ino
		if err != nil {
			return err
		}
		a = attrOf(&ino)
		d, w, err := searchDir(tx, &cr, dir)
		wcc = w
		if err != nil {
			return err
		}
		if _, err := lookupEntry(tx, &d, name); err == nil {
			return ErrExist
		} else if !errors.Is(err, ErrNotExist) {
			return err
		}
		switch {
		case !cr.may(&d, mayWrite|mayExec):
			return ErrAccess
		case ino.Type == meta.TypeDir:
			return ErrPerm
		case ino.Nlink == 0:
			return ErrNotExist // an open file whose last name went (orphan.go)
		case ino.Nlink >= MaxLinks:
			return ErrMLink
		}
		ino.Nlink++
		ino.Ctime = now
		if ino.Parent == 0 {
			ino.Parent = d.ID // its recorded link went (dropLink)
		}
		if err := tx.PutInode(&ino); err != nil {
			return err
		}
		if _, err := tx.AddEntry(d.ID, name, ino.ID); err != nil {
			return err
		}
		touch(&d, now)
		if err := tx.PutInode(&d); err != nil {
			return err
		}
		a, wcc.Post = attrOf(&ino), attrOf(&d)
		return nil
	})
	if err == nil {
		f.emitEntry(OpCreate, dir, name, &linked)
	}
	return a, wcc, f.result("link", err)
}

// Remove removes a non-directory (ErrIsDir for a directory). The file is
// deleted with its last link; its content is dropped after that commits.
func (f *FS) Remove(ctx context.Context, c *Caller, dir Handle, name string) (Wcc, error) {
	return f.unlink(ctx, c, dir, name, false, nil)
}

// Rmdir removes an empty directory (ErrNotDir, ErrNotEmpty).
func (f *FS) Rmdir(ctx context.Context, c *Caller, dir Handle, name string) (Wcc, error) {
	return f.unlink(ctx, c, dir, name, true, nil)
}

// RemoveHandle removes the entry name of dir only if it still names the
// file h, as Rmdir if h is a directory and as Remove otherwise. An entry
// that names another file, or none, is ErrNotExist. A protocol that deletes
// a file by the name it had when it was opened (SMB's delete on close)
// thereby never removes a file that took that name in the meantime.
func (f *FS) RemoveHandle(ctx context.Context, c *Caller, dir Handle, name string, h Handle) (Wcc, error) {
	return f.unlink(ctx, c, dir, name, false, &h)
}

// unlink is Remove, Rmdir and RemoveHandle (want set: the type is that of
// the file found). The order of checks follows Linux: search permission,
// existence, write permission, the sticky rule (ErrPerm), the type,
// emptiness.
func (f *FS) unlink(ctx context.Context, c *Caller, dir Handle, name string, rmdir bool, want *Handle) (Wcc, error) {
	s, cr, err := f.begin(dir, c)
	if err != nil {
		return Wcc{}, err
	}
	if s.cfg.ReadOnly {
		return Wcc{}, ErrROFS
	}
	if err := checkOldName(name); err != nil {
		return Wcc{}, err
	}
	now := f.now()
	var wcc Wcc
	var drop uint64 // content to remove after the commit
	var gone meta.Inode
	err = f.change(ctx, s, func(tx meta.Tx) error {
		drop = 0
		d, w, err := searchDir(tx, &cr, dir)
		wcc = w
		if err != nil {
			return err
		}
		ino, err := lookupEntry(tx, &d, name)
		gone = ino
		if err != nil {
			return err
		}
		if want != nil {
			if ino.ID != want.ID || ino.Gen != want.Gen {
				return ErrNotExist
			}
			rmdir = ino.Type == meta.TypeDir
		}
		switch {
		case !cr.may(&d, mayWrite|mayExec):
			return ErrAccess
		case !cr.mayUnlink(&d, &ino):
			return ErrPerm
		case rmdir && ino.Type != meta.TypeDir:
			return ErrNotDir
		case !rmdir && ino.Type == meta.TypeDir:
			return ErrIsDir
		}
		if rmdir {
			empty, err := tx.DirEmpty(ino.ID)
			if err != nil {
				return err
			}
			if !empty {
				return ErrNotEmpty
			}
		}
		if err := tx.RemoveEntry(d.ID, name); err != nil {
			return err
		}
		if drop, err = f.dropLink(tx, &d, &ino, now); err != nil {
			return err
		}
		touch(&d, now)
		if err := tx.PutInode(&d); err != nil {
			return err
		}
		wcc.Post = attrOf(&d)
		return nil
	})
	if err != nil {
		return wcc, f.result("remove", err)
	}
	f.dropContent(drop)
	f.emitEntry(OpRemove, dir, name, &gone)
	return wcc, nil
}

// dropLink removes one link to ino, whose entry in d is gone. A directory
// goes at once (taking its ".." link from d); a file when its last link
// does, unless it is held open (orphan.go). It returns the id whose
// content to remove after the commit, or 0.
func (f *FS) dropLink(tx meta.Tx, d, ino *meta.Inode, now int64) (uint64, error) {
	if ino.Type == meta.TypeDir {
		d.Nlink--
		ino.Nlink = 0
	} else {
		ino.Nlink--
	}
	if ino.Nlink > 0 {
		ino.Ctime = now
		if ino.Parent == d.ID {
			// Another link stays, somewhere unknown without a search:
			// the file's directory is unknown until it is linked or
			// renamed again.
			ino.Parent = 0
		}
		return 0, tx.PutInode(ino)
	}
	if kept, err := f.orphan(tx, ino, now); kept || err != nil {
		return 0, err
	}
	if err := tx.DeleteInode(ino.ID); err != nil {
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

// dropContent removes a deleted file's content. The file is already gone
// from the namespace, so a failure only leaks space; it is logged.
func (f *FS) dropContent(id uint64) {
	if id == 0 {
		return
	}
	if err := f.content.Remove(id); err != nil {
		f.log.Error("fs: removing content of a deleted file", "id", id, "err", err)
	}
}
