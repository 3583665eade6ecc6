package fs

import (
	"context"

	"github.com/tandemfs/tandem/internal/meta"
)

// dirSize is the size directories report, as on ext4.
const dirSize = 4096

// blockSize is the unit Attr.Used counts in.
const blockSize = 4096

// attrOf is the Attr of an inode.
func attrOf(ino *meta.Inode) Attr {
	return Attr{
		Type:     ino.Type,
		Mode:     ino.Mode & modeMask,
		Nlink:    ino.Nlink,
		UID:      ino.UID,
		GID:      ino.GID,
		Size:     ino.Size,
		Used:     usedBytes(ino.Size),
		Major:    ino.Major,
		Minor:    ino.Minor,
		FSID:     uint64(shareOfGen(ino.Gen)),
		FileID:   ino.ID,
		Gen:      ino.Gen,
		Atime:    ino.Atime,
		Mtime:    ino.Mtime,
		Ctime:    ino.Ctime,
		Btime:    ino.Btime,
		DOSAttrs: ino.DOSAttrs,
	}
}

// usedBytes rounds size up to whole blocks; sizes are at most MaxFileSize,
// so this cannot overflow.
func usedBytes(size uint64) uint64 {
	return (size + blockSize - 1) &^ (blockSize - 1)
}

// wccOf is the weak cache consistency data of an inode read before an
// operation; until the operation changes it, post equals pre.
func wccOf(ino *meta.Inode) Wcc {
	return Wcc{
		HavePre:  true,
		Pre:      WccAttr{Size: ino.Size, Mtime: ino.Mtime, Ctime: ino.Ctime},
		HavePost: true,
		Post:     attrOf(ino),
	}
}

// touch marks a directory's entries changed.
func touch(dir *meta.Inode, now int64) {
	dir.Mtime, dir.Ctime = now, now
}

// Access reports which of the asked access bits c has on h.
func (f *FS) Access(ctx context.Context, c *Caller, h Handle, want uint32) (uint32, Attr, error) {
	s, cr, err := f.begin(h, c)
	if err != nil {
		return 0, Attr{}, err
	}
	cr.judged = false // Access reports what the mode bits grant
	call := newCall(h, s, cr)
	defer call.free()
	if err := f.loadInode(ctx, call); err != nil {
		return 0, Attr{}, f.result("access", err)
	}
	got := cr.access(&call.ino, want, s.cfg.ReadOnly)
	return got, attrOf(&call.ino), nil
}

// SetAttr changes attributes. If guardCtime is not nil, the change happens
// only if the file's ctime equals it (ErrNotSync otherwise).
//
// The checks, in order: the guard; a size change needs a regular file
// (ErrIsDir, ErrInval), write permission (ErrAccess) and a size within
// MaxFileSize (ErrFBig); chown needs root, chgrp the owner and a group the
// owner is in, chmod the owner, explicit times the owner (all ErrPerm);
// times set to now and DOS attributes need the owner or write permission
// (ErrAccess); a judged caller (Caller.Judged) passes them, except that it
// may chown only to itself. A mode on a symlink is ignored, as Linux does.
// Any change clears an exclusive-create verifier.
func (f *FS) SetAttr(ctx context.Context, c *Caller, h Handle, sa SetAttr, guardCtime *int64) (Wcc, error) {
	s, cr, err := f.begin(h, c)
	if err != nil {
		return Wcc{}, err
	}
	if s.cfg.ReadOnly {
		return Wcc{}, ErrROFS
	}
	now := f.now()
	var wcc Wcc
	var pre, post meta.Inode
	err = f.change(ctx, s, func(tx meta.Tx) error {
		ino, err := inodeOf(tx, h)
		if err != nil {
			return err
		}
		pre = ino
		wcc = wccOf(&ino)
		if guardCtime != nil && *guardCtime != ino.Ctime {
			return ErrNotSync
		}
		oldSize := ino.Size
		if err := cr.setAttr(&ino, &sa, now, false); err != nil {
			return err
		}
		ino.CreateVerf = [8]byte{}
		if ino.Size != oldSize {
			// Drop the content beyond the smaller size before the new size
			// commits: a failure after this point loses only bytes the
			// caller asked to drop, never exposes stale ones after a
			// later extension.
			if err := f.content.Truncate(ino.ID, int64(min(oldSize, ino.Size))); err != nil {
				return err
			}
		}
		if err := tx.PutInode(&ino); err != nil {
			return err
		}
		wcc.Post = attrOf(&ino)
		post = ino
		return nil
	})
	if err == nil {
		f.emitModify(h, &pre, &post)
	}
	return wcc, f.result("setattr", err)
}

// setAttr checks sa against the caller's rights on ino and applies it.
// Nothing is changed unless every check passes. created is true when ino is
// being made by the caller: then ownership asked for by a non-root caller
// is ignored (as knfsd does) rather than refused, and ctime is left alone.
func (cr *cred) setAttr(ino *meta.Inode, sa *SetAttr, now int64, created bool) error {
	m := sa.Mask
	if m == 0 {
		return nil
	}
	if created && !cr.root() {
		m &^= SetUID | SetGID
	}
	if m&SetSize != 0 {
		switch {
		case ino.Type == meta.TypeDir:
			return ErrIsDir
		case ino.Type != meta.TypeRegular:
			return ErrInval
		case !created && !cr.mayIO(ino, mayWrite):
			return ErrAccess
		case sa.Size > MaxFileSize:
			return ErrFBig
		}
	}
	uid, gid := ino.UID, ino.GID
	if m&SetUID != 0 {
		// A judged caller was granted the right to change the owner; like
		// a Windows user holding WRITE_OWNER, it may only take ownership.
		takes := cr.judged && sa.UID == cr.uid
		if !cr.root() && !takes && (cr.uid != ino.UID || sa.UID != ino.UID) {
			return ErrPerm
		}
		uid = sa.UID
	}
	if m&SetGID != 0 {
		if !cr.root() && (!cr.owns(ino) || (sa.GID != ino.GID && !cr.inGroup(sa.GID))) {
			return ErrPerm
		}
		gid = sa.GID
	}
	if m&SetMode != 0 && ino.Type == meta.TypeSymlink {
		m &^= SetMode
	}
	if m&SetMode != 0 && !cr.owns(ino) {
		return ErrPerm
	}
	if m&(SetAtime|SetMtime|SetBtime|SetCtime) != 0 && !cr.owns(ino) {
		return ErrPerm
	}
	if m&(SetAtimeNow|SetMtimeNow|SetDOSAttrs) != 0 && !cr.owns(ino) && !cr.may(ino, mayWrite) {
		return ErrAccess
	}

	// Every check passed; apply.
	if m&(SetUID|SetGID) != 0 {
		if ino.Type != meta.TypeDir && m&SetMode == 0 {
			killPriv(ino)
		}
		ino.UID, ino.GID = uid, gid
	}
	if m&SetMode != 0 {
		mode := sa.Mode & modeMask
		if !cr.root() && !cr.inGroup(ino.GID) {
			mode &^= modeSetgid
		}
		ino.Mode = mode
	}
	if m&SetSize != 0 {
		if !cr.root() && !created {
			killPriv(ino)
		}
		ino.Size = sa.Size
		if m&(SetMtime|SetMtimeNow) == 0 {
			ino.Mtime = now
		}
	}
	switch {
	case m&SetAtime != 0:
		ino.Atime = sa.Atime
	case m&SetAtimeNow != 0:
		ino.Atime = now
	}
	switch {
	case m&SetMtime != 0:
		ino.Mtime = sa.Mtime
	case m&SetMtimeNow != 0:
		ino.Mtime = now
	}
	if m&SetBtime != 0 {
		ino.Btime = sa.Btime
	}
	if m&SetDOSAttrs != 0 {
		ino.DOSAttrs = sa.DOSAttrs
	}
	switch {
	case m&SetCtime != 0:
		ino.Ctime = sa.Ctime
	case !created:
		ino.Ctime = now
	}
	return nil
}
