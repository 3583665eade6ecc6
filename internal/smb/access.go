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
// handle h) by its POSIX permissions, as an access mask: what MAXIMAL
// ACCESS reports and what an open of an existing file is checked against.
// The POSIX classes map one to one: read to READ_DATA, write to
// WRITE_DATA, APPEND_DATA and DELETE_CHILD, execute (search, for a
// directory) to EXECUTE. Reading a file for execution is reading it, so
// whoever may read a file may also EXECUTE it: a file written from
// Windows (mode 0644) still runs from the share, and an owner asking for
// GENERIC_ALL on its 0644 file gets it. Everyone may read attributes and
// the security descriptor; the owner, and whoever may write, may change
// attributes; the owner may change the descriptor (the file system still
// decides each change). DELETE follows the directory the file is in, as
// unlink(2) does; parent is the zero handle for a share's root, which no
// one deletes; withDelete false leaves DELETE out, saving the look at
// the directory when it is not asked for. A file with a stored security
// descriptor is checked against its DACL instead (sdaccess.go).
func (s *Server) maximalAccess(ctx context.Context, r *Request, h fs.Handle, a *fs.Attr, parent fs.Handle, withDelete bool) uint32 {
	if sd := s.loadSD(ctx, r, h, a); sd != nil {
		m := s.sdAccess(ctx, r, sd, a)
		if withDelete && m&accessDelete == 0 && parent != (fs.Handle{}) && s.mayDeleteChild(ctx, r, parent) {
			m |= accessDelete
		}
		if parent == (fs.Handle{}) {
			m &^= accessDelete
		}
		return m & r.Tree.MaximalAccess()
	}
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
	if ok, known := s.deleteChildSD(ctx, r, dir); known {
		return ok
	}
	got, _, err := s.fs.Access(ctx, r.Caller(), dir, fs.AccessDelete)
	return err == nil && got != 0
}

// alwaysGranted is what anyone who may reach a file may do with it: read
// its attributes and its security descriptor.
const alwaysGranted = readControl | synchronize | fileReadAttributes | fileReadEA

// grant decides the access of an open: the mapped request if maximal
// covers it (MAXIMUM_ALLOWED asks for all of maximal), else 0 and
// STATUS_ACCESS_DENIED.
func grant(desired, maximal uint32) (uint32, Status) {
	want := mapGeneric(desired)
	if want&accessSystemSecurity != 0 {
		return 0, StatusPrivilegeNotHeld
	}
	if want&maximumAllowed != 0 {
		want = want&^maximumAllowed | maximal
	}
	if want&^maximal != 0 {
		return 0, StatusAccessDenied
	}
	return want, StatusSuccess
}
