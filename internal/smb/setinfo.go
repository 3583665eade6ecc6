package smb

import (
	"context"
	"encoding/binary"
	"errors"

	"github.com/tandemfs/tandem/internal/fs"
)

func init() { register(CmdSetInfo, serveSetInfo) }

// FileDispositionInformationEx flags.
const (
	dispositionDelete  = 0x00000001
	dispositionOnClose = 0x00000008
)

// FileBasicInformation time values that leave a time alone.
const (
	timeKeep    = 0
	timeNoTrack = ^uint64(0)     // -1: keep, and stop updating it (not kept)
	timeTrack   = ^uint64(0) - 1 // -2: keep, and update it again
)

func serveSetInfo(w *Response, r *Request) {
	b := r.Body
	if len(b) < 32 || binary.LittleEndian.Uint16(b) != 33 {
		w.Error(StatusInvalidParameter)
		return
	}
	typ, class := b[2], b[3]
	n := binary.LittleEndian.Uint32(b[4:])
	off := uint32(binary.LittleEndian.Uint16(b[8:]))
	addl := binary.LittleEndian.Uint32(b[12:])
	if n > r.Conn.MaxTransact() || !r.ChargeCovers(n) {
		w.Error(StatusInvalidParameter)
		return
	}
	in, ok := r.Buffer(off, n)
	if !ok {
		w.Error(StatusInvalidParameter)
		return
	}
	o, st := r.openOf(b[16:32])
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	if typ == infoFile && r.Conn.srv.renameWaits(r, o, class, in) {
		return
	}
	switch typ {
	case infoFile:
		st = setFile(r, o, class, in)
	case infoSecurity:
		st = setSecurity(r, o, addl, in)
	case infoFilesystem, infoQuota:
		st = StatusNotSupported
	default:
		st = StatusInvalidInfoClass
	}
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	binary.LittleEndian.PutUint16(w.Grow(2), 2)
}

// setFile applies a file information class.
func setFile(r *Request, o *open, class byte, in []byte) Status {
	s := r.Conn.srv
	ctx := r.Context()
	need := setInfoSize(class)
	if len(in) < need {
		return StatusInfoLengthMismatch
	}
	if o.stream != "" {
		if st, handled := setStreamInfo(r, o, class, in); handled {
			return st
		}
	}
	switch class {
	case classFileBasic:
		if !o.may(fileWriteAttributes) {
			return StatusAccessDenied
		}
		return setBasic(ctx, r, o, in)
	case classFileRename, classFileRenameEx:
		if !o.may(accessDelete) {
			return StatusAccessDenied
		}
		return rename(ctx, r, o, in, class == classFileRenameEx)
	case classFileLink:
		return link(ctx, r, o, in)
	case classFileDisposition:
		return setDisposition(ctx, o, in[0] != 0, false)
	case classFileDispositionEx:
		flags := binary.LittleEndian.Uint32(in)
		return setDisposition(ctx, o, flags&dispositionDelete != 0, flags&dispositionOnClose != 0)
	case classFilePosition:
		o.mu.Lock()
		o.position = binary.LittleEndian.Uint64(in)
		o.mu.Unlock()
		return StatusSuccess
	case classFileMode:
		m := binary.LittleEndian.Uint32(in)
		if m&^(optWriteThrough|optSequentialOnly|optSyncIOAlert|optSyncIONonalert) != 0 {
			return StatusInvalidParameter
		}
		o.mu.Lock()
		o.mode = o.mode&(optNoIntermediateBuf|optDeleteOnClose) | m
		o.mu.Unlock()
		return StatusSuccess
	case classFileAllocation, classFileEndOfFile:
		if !o.may(fileWriteData) {
			return StatusAccessDenied
		}
		if o.isDir {
			return StatusInvalidParameter
		}
		s.breakReadCaching(o)
		size := binary.LittleEndian.Uint64(in)
		if class == classFileAllocation {
			// The allocation is recorded (alloc.go); less than the size
			// cuts the file, as on Windows.
			a, err := s.fs.GetAttr(ctx, o.h)
			if err != nil {
				return StatusOf(err)
			}
			o.setAlloc(size)
			if size >= a.Size {
				return StatusSuccess
			}
		}
		if size > fs.MaxFileSize {
			return StatusDiskFull
		}
		_, err := s.fs.SetAttr(ctx, &o.caller, o.h, fs.SetAttr{Mask: fs.SetSize, Size: size}, nil)
		return StatusOf(err)
	case classFileValidDataLength:
		if !o.may(fileWriteData) {
			return StatusAccessDenied
		}
		return StatusSuccess
	case classFileFullEa:
		if !o.may(fileWriteEA) {
			return StatusAccessDenied
		}
		return s.setEAs(r, &o.caller, o.h, in)
	case classFileShortName:
		return StatusNotSupported
	}
	return StatusInvalidInfoClass
}

// setInfoSize is the least a SET_INFO buffer of class holds.
func setInfoSize(class byte) int {
	switch class {
	case classFileBasic:
		return 36
	case classFileRename, classFileRenameEx, classFileLink:
		return 20
	case classFileDisposition:
		return 1
	case classFileDispositionEx, classFileMode:
		return 4
	case classFilePosition, classFileAllocation, classFileEndOfFile, classFileValidDataLength:
		return 8
	}
	return 0
}

// setBasic applies FileBasicInformation: times, then attributes. A time of
// 0, -1 or -2 leaves it alone; the change time is kept as set, as Windows
// does, until the next change moves it.
func setBasic(ctx context.Context, r *Request, o *open, in []byte) Status {
	s := r.Conn.srv
	a, err := s.fs.GetAttr(ctx, o.h)
	if err != nil {
		return StatusOf(err)
	}
	var sa fs.SetAttr
	set := func(v uint64) (int64, bool) {
		if v == timeKeep || v == timeNoTrack || v == timeTrack {
			return 0, false
		}
		return fsTime(v), true
	}
	if t, ok := set(binary.LittleEndian.Uint64(in)); ok {
		sa.Mask |= fs.SetBtime
		sa.Btime = t
	}
	if t, ok := set(binary.LittleEndian.Uint64(in[8:])); ok {
		sa.Mask |= fs.SetAtime
		sa.Atime = t
	}
	if t, ok := set(binary.LittleEndian.Uint64(in[16:])); ok {
		sa.Mask |= fs.SetMtime
		sa.Mtime = t
	}
	if t, ok := set(binary.LittleEndian.Uint64(in[24:])); ok {
		sa.Mask |= fs.SetCtime
		sa.Ctime = t
	}
	if v := binary.LittleEndian.Uint32(in[32:]); v != 0 {
		if v&^attrValid != 0 {
			return StatusInvalidParameter
		}
		ac, ok := attrChange(&a, v)
		if !ok {
			return StatusInvalidParameter
		}
		sa.Mask |= ac.Mask
		sa.DOSAttrs, sa.Mode = ac.DOSAttrs, ac.Mode
		if ac.Mask&fs.SetMode != 0 {
			s.breakAttrCaching(o)
		}
	}
	if sa.Mask == 0 {
		return StatusSuccess
	}
	// Once a client set the change time through an open, changes it
	// makes through that open leave it alone (MS-FSA 2.1.5.14.2).
	o.mu.Lock()
	if sa.Mask&fs.SetCtime != 0 {
		o.ctimeSet = true
	} else if o.ctimeSet {
		sa.Mask |= fs.SetCtime
		sa.Ctime = a.Ctime
	}
	o.mu.Unlock()
	return StatusOf(s.setAttrKeepSD(ctx, r, &o.caller, o.h, &a, sa))
}

// setDisposition marks the file for deletion when its last open closes,
// or takes the mark back. onClose (FileDispositionInformationEx) marks
// only this open, as FILE_DELETE_ON_CLOSE does.
func setDisposition(ctx context.Context, o *open, del, onClose bool) Status {
	if !o.may(accessDelete) {
		return StatusAccessDenied
	}
	if del {
		a, err := o.srv.fs.GetAttr(ctx, o.h)
		if err != nil {
			return StatusOf(err)
		}
		if st := o.checkDelete(ctx, &a); st != StatusSuccess {
			return st
		}
	}
	if onClose {
		o.mu.Lock()
		o.deleteOnClose = del
		o.mu.Unlock()
		return StatusSuccess
	}
	o.setDeletePending(del)
	return StatusSuccess
}

// renameTarget decodes the target of a rename or link
// (FILE_RENAME_INFORMATION: ReplaceIfExists, RootDirectory, FileNameLength,
// FileName; the Ex form has Flags in place of ReplaceIfExists) and
// resolves it from the share's root.
func renameTarget(ctx context.Context, r *Request, in []byte, ex bool) (resolved, bool, Status) {
	replace := in[0] != 0
	if ex {
		replace = binary.LittleEndian.Uint32(in)&1 != 0 // FILE_RENAME_REPLACE_IF_EXISTS
	}
	if binary.LittleEndian.Uint64(in[8:]) != 0 {
		return resolved{}, false, StatusInvalidParameter // SMB2 names are always from the root
	}
	n := binary.LittleEndian.Uint32(in[16:])
	if uint64(n) > uint64(len(in)-20) {
		return resolved{}, false, StatusInvalidParameter
	}
	raw := in[20 : 20+n]
	if len(raw) >= 2 && raw[0] == '\\' && raw[1] == 0 {
		raw = raw[2:] // some clients start the name with a backslash
	}
	comps, st := parseName(raw)
	if st != StatusSuccess {
		return resolved{}, false, st
	}
	if len(comps) == 0 {
		return resolved{}, false, StatusAccessDenied // the share's root
	}
	res, st := r.Conn.srv.resolve(ctx, r, comps, true)
	if st == StatusStoppedOnSymlink {
		st = StatusObjectPathNotFound // a link in the middle: the client resolves links
	}
	if st == StatusSuccess && !res.exists {
		res.name = comps[len(comps)-1]
	}
	return res, replace, st
}

// rename moves the open's file to a new name (FileRenameInformation),
// once the handle caching of others is broken (rename.go). An existing
// target is replaced only if asked, and never when it is a
// directory or is open; a target that is the file itself under another
// spelling changes the spelling.
func rename(ctx context.Context, r *Request, o *open, in []byte, ex bool) Status {
	dst, replace, st := renameTarget(ctx, r, in, ex)
	if st != StatusSuccess {
		return st
	}
	s := r.Conn.srv
	dir, name, path := o.location()
	if o.h == r.Tree.Root() || name == "" {
		return StatusAccessDenied
	}
	if st := s.renameBlocked(o, path, dst.dir); st != StatusSuccess {
		return st
	}
	if _, _, st := s.mayAdd(ctx, r, dst.dir, o.isDir); st != StatusSuccess {
		return st // the target directory's DACL (access.go)
	}
	if h, _, _, err := s.fs.Lookup(ctx, judgedAs(r.Caller(), true), dir, name); err != nil || h != o.h {
		// Renamed or removed by another protocol: the name, if any,
		// is another file's now.
		return StatusObjectNameNotFound
	}
	if dst.exists && dst.h != o.h {
		switch {
		case !replace:
			return StatusObjectNameCollision
		case dst.attr.Type == fs.TypeDir:
			return StatusAccessDenied
		case s.fileOpen(dst.h):
			return StatusAccessDenied
		}
	}
	var err error
	if replace {
		_, _, err = s.fs.Rename(ctx, r.Caller(), dir, name, dst.dir, dst.name)
	} else {
		_, _, err = s.fs.RenameNoReplace(ctx, r.Caller(), dir, name, dst.dir, dst.name)
	}
	switch {
	case errors.Is(err, fs.ErrExist):
		return StatusObjectNameCollision
	case errors.Is(err, fs.ErrNotExist):
		return StatusObjectNameNotFound // renamed or removed by someone else meanwhile
	case err != nil:
		return StatusOf(err)
	}
	o.moved(dst.dir, dst.name, dst.path)
	return StatusSuccess
}

// link makes another name for the open's file (FileLinkInformation).
func link(ctx context.Context, r *Request, o *open, in []byte) Status {
	if o.isDir {
		return StatusFileIsADirectory
	}
	dst, replace, st := renameTarget(ctx, r, in, false)
	if st != StatusSuccess {
		return st
	}
	s := r.Conn.srv
	if _, _, st := s.mayAdd(ctx, r, dst.dir, false); st != StatusSuccess {
		return st // the target directory's DACL (access.go)
	}
	if dst.exists {
		switch {
		case dst.h == o.h:
			return StatusSuccess
		case !replace:
			return StatusObjectNameCollision
		case dst.attr.Type == fs.TypeDir || s.fileOpen(dst.h):
			return StatusAccessDenied
		}
		if _, err := s.fs.RemoveHandle(ctx, r.Caller(), dst.dir, dst.name, dst.h); err != nil {
			return StatusOf(err)
		}
	}
	_, _, err := s.fs.Link(ctx, r.Caller(), o.h, dst.dir, dst.name)
	if errors.Is(err, fs.ErrExist) {
		return StatusObjectNameCollision
	}
	return StatusOf(err)
}

// setSecurity applies the owner, group and DACL of a security descriptor
// (sdstore.go).
func setSecurity(r *Request, o *open, addl uint32, in []byte) Status {
	switch {
	case addl&(secOwner|secGroup) != 0 && !o.may(writeOwner):
		return StatusAccessDenied
	case addl&secDACL != 0 && !o.may(writeDAC):
		return StatusAccessDenied
	}
	info := addl & (secOwner | secGroup | secDACL)
	if info == 0 {
		return StatusSuccess
	}
	s := r.Conn.srv
	ctx := r.Context()
	a, err := s.fs.GetAttr(ctx, o.h)
	if err != nil {
		return StatusOf(err)
	}
	_, st := s.applySD(ctx, r, &o.caller, o.h, a, in, info)
	return st
}
