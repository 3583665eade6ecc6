package smb

import (
	"context"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
)

// Access masks (MS-DTYP 2.4.3, MS-SMB2 2.2.13.1). Directories reuse the
// low bits under other names: LIST_DIRECTORY is READ_DATA, ADD_FILE is
// WRITE_DATA, ADD_SUBDIRECTORY is APPEND_DATA and TRAVERSE is EXECUTE.
const (
	fileReadData         = 0x00000001
	fileWriteData        = 0x00000002
	fileAppendData       = 0x00000004
	fileReadEA           = 0x00000008
	fileWriteEA          = 0x00000010
	fileExecute          = 0x00000020
	fileDeleteChild      = 0x00000040
	fileReadAttributes   = 0x00000080
	fileWriteAttributes  = 0x00000100
	accessDelete         = 0x00010000
	readControl          = 0x00020000
	writeDAC             = 0x00040000
	writeOwner           = 0x00080000
	synchronize          = 0x00100000
	accessSystemSecurity = 0x01000000
	maximumAllowed       = 0x02000000
	genericAll           = 0x10000000
	genericExecute       = 0x20000000
	genericWrite         = 0x40000000
	genericRead          = 0x80000000

	// What the generic rights mean for files and directories.
	fileGenericRead    = readControl | synchronize | fileReadData | fileReadAttributes | fileReadEA
	fileGenericWrite   = readControl | synchronize | fileWriteData | fileAppendData | fileWriteAttributes | fileWriteEA
	fileGenericExecute = readControl | synchronize | fileReadAttributes | fileExecute
	fileAllAccess      = 0x001f01ff

	// Bits no client may ask for.
	accessReserved = 0x0ce0fe00
)

// mapGeneric replaces the generic rights of mask by the specific rights
// they stand for.
func mapGeneric(mask uint32) uint32 {
	if mask&genericRead != 0 {
		mask |= fileGenericRead
	}
	if mask&genericWrite != 0 {
		mask |= fileGenericWrite
	}
	if mask&genericExecute != 0 {
		mask |= fileGenericExecute
	}
	if mask&genericAll != 0 {
		mask |= fileAllAccess
	}
	return mask &^ (genericRead | genericWrite | genericExecute | genericAll)
}

// lockAccess is the part of an access mask that share reservations see:
// reading (data or execution), writing (data or appending) and deleting.
func lockAccess(mask uint32) lock.Access {
	var a lock.Access
	if mask&(fileReadData|fileExecute) != 0 {
		a |= lock.AccessRead
	}
	if mask&(fileWriteData|fileAppendData) != 0 {
		a |= lock.AccessWrite
	}
	if mask&accessDelete != 0 {
		a |= lock.AccessDelete
	}
	return a
}

// maximalAccess is what the caller may do with a file (attributes a,
// handle h) as an access mask: what MAXIMAL ACCESS reports and what an
// open of an existing file is checked against. judged reports that a
// stored DACL decided it (sdaccess.go), so that the file system's own
// check of the mode is not to be made again for what the open does.
// parent is the directory the file is in, the zero handle for a share's
// root; withDelete false leaves DELETE from the directory out, saving
// the look at it when it is not asked for.
func (s *Server) maximalAccess(ctx context.Context, r *Request, h fs.Handle, a *fs.Attr, parent fs.Handle, withDelete bool) (m uint32, judged bool) {
	if sd := s.loadSD(ctx, r, h, a); sd != nil {
		return s.daclMaximal(ctx, r, sd, a, parent, withDelete), true
	}
	return s.modeMaximal(ctx, r, h, a, parent, withDelete), false
}

// daclMaximal is maximalAccess for a file with the stored descriptor sd:
// what its DACL grants, and what the directory grants on the file's
// behalf (MS-FSA 2.1.5.1.2.1): DELETE by FILE_DELETE_CHILD and
// READ_ATTRIBUTES by FILE_LIST_DIRECTORY. A READONLY file is not
// written, whatever the DACL says.
func (s *Server) daclMaximal(ctx context.Context, r *Request, sd []byte, a *fs.Attr, parent fs.Handle, withDelete bool) uint32 {
	m := s.sdAccess(ctx, r, sd)
	if parent != (fs.Handle{}) {
		// A DACL without READ_ATTRIBUTES is rare, so the look at the
		// directory is rarely made.
		if m&fileReadAttributes == 0 && s.dirGrants(ctx, r, parent, fileListDirectory, fs.AccessRead) {
			m |= fileReadAttributes
		}
		if withDelete && m&accessDelete == 0 && s.mayDeleteChild(ctx, r, parent) {
			m |= accessDelete
		}
	} else {
		m &^= accessDelete // no one deletes a share's root
	}
	if a.Type != fs.TypeDir && a.Mode&0o200 == 0 {
		m &^= fileWriteData | fileAppendData
	}
	return m & r.Tree.MaximalAccess()
}

// modeMaximal is maximalAccess for a file without a stored descriptor, by
// its POSIX permissions. The POSIX classes map one to one: read to
// READ_DATA, write to WRITE_DATA, APPEND_DATA and DELETE_CHILD, execute
// (search, for a directory) to EXECUTE. Reading a file for execution is
// reading it, so whoever may read a file may also EXECUTE it: a file
// written from Windows (mode 0644) still runs from the share, and an
// owner asking for GENERIC_ALL on its 0644 file gets it. Everyone may read
// attributes and the security descriptor; the owner, and whoever may
// write, may change attributes; the owner may change the descriptor (the
// file system still decides each change). DELETE follows the directory
// the file is in, as unlink(2) does.
func (s *Server) modeMaximal(ctx context.Context, r *Request, h fs.Handle, a *fs.Attr, parent fs.Handle, withDelete bool) uint32 {
	c := r.Caller()
	m := uint32(alwaysGranted)
	want := fs.AccessRead | fs.AccessModify | fs.AccessExtend | fs.AccessExecute | fs.AccessLookup
	got, _, err := s.fs.Access(ctx, c, h, want)
	if err != nil {
		return m & r.Tree.MaximalAccess()
	}
	if got&fs.AccessRead != 0 {
		m |= fileReadData
		if a.Type != fs.TypeDir {
			m |= fileExecute
		}
	}
	if got&(fs.AccessModify|fs.AccessExtend) != 0 {
		m |= fileWriteData | fileAppendData | fileWriteAttributes | fileWriteEA | fileDeleteChild
	}
	if got&(fs.AccessExecute|fs.AccessLookup) != 0 {
		m |= fileExecute
	}
	if owner := !c.Anonymous && (c.UID == 0 || c.UID == a.UID); owner {
		m |= fileWriteAttributes | fileWriteEA | writeDAC | writeOwner
	}
	if withDelete && parent != (fs.Handle{}) && s.mayDeleteChild(ctx, r, parent) {
		m |= accessDelete
	}
	return m & r.Tree.MaximalAccess()
}

// mayDeleteChild reports whether the directory dir lets the caller delete
// its entries: FILE_DELETE_CHILD in its stored descriptor (sdaccess.go),
// else write and search permission.
func (s *Server) mayDeleteChild(ctx context.Context, r *Request, dir fs.Handle) bool {
	return s.dirGrants(ctx, r, dir, fileDeleteChild, fs.AccessDelete)
}

// dirGrants reports whether the directory dir grants the caller the
// rights bits by its stored DACL, or, without one, the POSIX access
// posix.
func (s *Server) dirGrants(ctx context.Context, r *Request, dir fs.Handle, bits, posix uint32) bool {
	if ok, known := s.dirGrantsSD(ctx, r, dir, bits); known {
		return ok
	}
	got, _, err := s.fs.Access(ctx, r.Caller(), dir, posix)
	return err == nil && got != 0
}

// mayAdd decides a new entry in the directory dir (a subdirectory if
// isDir), made or moved there, by the directory's stored DACL: it needs
// ADD_SUBDIRECTORY or ADD_FILE, and is STATUS_ACCESS_DENIED without.
// psd is the directory's descriptor, nil for none, and c the caller to
// make the entry as: judged (fs.Caller.Judged) when the DACL granted it,
// so that the directory's mode does not refuse it again; without a DACL
// the file system decides by the mode alone.
func (s *Server) mayAdd(ctx context.Context, r *Request, dir fs.Handle, isDir bool) (psd []byte, c *fs.Caller, st Status) {
	c = r.Caller()
	psd, _ = s.storedSD(ctx, r, dir)
	if psd == nil {
		return nil, c, StatusSuccess
	}
	need := uint32(fileWriteData) // ADD_FILE
	if isDir {
		need = fileAppendData // ADD_SUBDIRECTORY
	}
	if s.sdAccess(ctx, r, psd)&need == 0 {
		return psd, c, StatusAccessDenied
	}
	return psd, judgedAs(c, true), StatusSuccess
}

// alwaysGranted is what anyone who may reach a file without a stored
// descriptor may do with it: read its attributes and its security
// descriptor.
const alwaysGranted = readControl | synchronize | fileReadAttributes | fileReadEA

// grant decides the access of an open: the mapped request if maximal
// covers it (MAXIMUM_ALLOWED asks for all of maximal, and is refused when
// that is nothing, as AccessCheck refuses it), else 0 and
// STATUS_ACCESS_DENIED.
func grant(desired, maximal uint32) (uint32, Status) {
	want := mapGeneric(desired)
	if want&accessSystemSecurity != 0 {
		return 0, StatusPrivilegeNotHeld
	}
	if want&maximumAllowed != 0 {
		if maximal == 0 {
			return 0, StatusAccessDenied
		}
		want = want&^maximumAllowed | maximal
	}
	if want&^maximal != 0 {
		return 0, StatusAccessDenied
	}
	return want, StatusSuccess
}
