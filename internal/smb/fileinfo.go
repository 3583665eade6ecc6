package smb

import (
	"encoding/binary"
	"math"

	"github.com/tandemfs/tandem/internal/fs"
)

// How a file's attributes look to SMB, computed from the one set of
// attributes the file system keeps for both protocols.
//
// Times: SMB counts 100 ns ticks since 1601 (FILETIME), the file system
// nanoseconds since 1970. A time set over SMB is kept exactly; one set
// over NFS is shown truncated to 100 ns. Creation time is the file
// system's birth time.
//
// Size: the end of file is the size for files and 0 for directories, as
// Windows shows them; the allocation size is the space used.
//
// DOS attributes: HIDDEN, SYSTEM, ARCHIVE and the other plain flags are
// kept as set, in the file system's DOS attribute word, which NFS leaves
// alone. READONLY is not kept but read from the mode: a file without the
// owner's write bit is read-only; setting READONLY clears every write
// bit, clearing it gives the owner write again. So chmod a-w over NFS
// shows as READONLY over SMB and the reverse. A directory's READONLY is
// kept as set, like HIDDEN: on Windows it does not stop changes to the
// directory either. DIRECTORY follows the file type, REPARSE_POINT marks
// a symbolic link, and a file with none of these is NORMAL. SPARSE_FILE is
// kept in the same word but only FSCTL_SET_SPARSE changes it (sparse.go):
// CREATE and SET_INFO leave it as it is, as NTFS does.

// FILE_ATTRIBUTE_* (MS-FSCC 2.6).
const (
	attrReadonly          = 0x00000001
	attrHidden            = 0x00000002
	attrSystem            = 0x00000004
	attrDirectory         = 0x00000010
	attrArchive           = 0x00000020
	attrNormal            = 0x00000080
	attrTemporary         = 0x00000100
	attrSparseFile        = 0x00000200
	attrReparsePoint      = 0x00000400
	attrOffline           = 0x00001000
	attrNotContentIndexed = 0x00002000
	attrIntegrityStream   = 0x00008000
	attrNoScrubData       = 0x00020000

	// The attributes kept as they are set.
	attrStored = attrHidden | attrSystem | attrArchive | attrTemporary | attrOffline | attrNotContentIndexed
	// The attributes a client may name in CREATE or SET_INFO.
	attrValid = 0x00007fb7 | attrIntegrityStream | attrNoScrubData
)

// ntEpoch is 1970-01-01 as a FILETIME.
const ntEpoch = 116444736000000000

// ntTime is a file system time as a FILETIME.
func ntTime(ns int64) uint64 {
	t := ns / 100
	if ns%100 < 0 {
		t-- // round toward the past, as truncation does for later times
	}
	if t < -ntEpoch {
		return 0
	}
	return uint64(t + ntEpoch)
}

// fsTime is a FILETIME as a file system time, clamped to what fits.
func fsTime(ft uint64) int64 {
	t := int64(min(ft, math.MaxInt64)) - ntEpoch
	if t > math.MaxInt64/100 {
		return math.MaxInt64 / 100 * 100
	}
	return t * 100
}

// dosAttrs are the FILE_ATTRIBUTE_* of a file.
func dosAttrs(a *fs.Attr) uint32 {
	v := a.DOSAttrs & storedAttrs(a)
	switch {
	case a.Type == fs.TypeDir:
		v |= attrDirectory
	case a.Type == fs.TypeSymlink:
		v |= attrReparsePoint // symlink.go
	case a.Mode&0o200 == 0:
		v |= attrReadonly
	}
	if v == 0 {
		v = attrNormal
	}
	return v
}

// birthTime is the creation time: the birth time, or for a file that has
// none recorded, the earlier of its modification and change times.
func birthTime(a *fs.Attr) int64 {
	if a.Btime != 0 {
		return a.Btime
	}
	return min(a.Mtime, a.Ctime)
}

// endOfFile and allocSize are the sizes SMB shows.
func endOfFile(a *fs.Attr) uint64 {
	if a.Type == fs.TypeDir {
		return 0
	}
	return a.Size
}

func allocSize(a *fs.Attr) uint64 {
	if a.Type == fs.TypeDir {
		return 0
	}
	return a.Used
}

// putTimes writes creation, last access, last write and change time.
func putTimes(b []byte, a *fs.Attr) {
	binary.LittleEndian.PutUint64(b, ntTime(birthTime(a)))
	binary.LittleEndian.PutUint64(b[8:], ntTime(a.Atime))
	binary.LittleEndian.PutUint64(b[16:], ntTime(a.Mtime))
	binary.LittleEndian.PutUint64(b[24:], ntTime(a.Ctime))
}

// putNetworkOpen writes the 52 bytes CREATE and CLOSE answer and
// FileNetworkOpenInformation starts with: four times, allocation size,
// end of file, attributes.
func putNetworkOpen(b []byte, a *fs.Attr) {
	putTimes(b, a)
	binary.LittleEndian.PutUint64(b[32:], allocSize(a))
	binary.LittleEndian.PutUint64(b[40:], endOfFile(a))
	binary.LittleEndian.PutUint32(b[48:], dosAttrs(a))
}

// storedAttrs are the attributes kept as set for the file a.
func storedAttrs(a *fs.Attr) uint32 {
	if a.Type == fs.TypeDir {
		return attrStored | attrReadonly
	}
	return attrStored | attrSparseFile
}

// attrChange is how a FileAttributes value given by a client changes a
// file: the DOS attribute word to store and, if READONLY changes, the
// mode. ok is false for a value naming DIRECTORY on a file or TEMPORARY
// on a directory (MS-FSA 2.1.5.14.2).
func attrChange(a *fs.Attr, v uint32) (sa fs.SetAttr, ok bool) {
	if v&attrDirectory != 0 && a.Type != fs.TypeDir {
		return sa, false
	}
	if v&attrTemporary != 0 && a.Type == fs.TypeDir {
		return sa, false
	}
	keep := storedAttrs(a)
	v = v&^attrSparseFile | a.DOSAttrs&attrSparseFile
	if v&keep != a.DOSAttrs&keep || a.DOSAttrs&^keep != 0 {
		sa.Mask |= fs.SetDOSAttrs
		sa.DOSAttrs = v & keep
	}
	if a.Type == fs.TypeDir {
		return sa, true
	}
	mode := a.Mode
	switch {
	case v&attrReadonly != 0:
		mode &^= 0o222
	case mode&0o200 == 0:
		mode |= 0o200
	}
	if mode != a.Mode {
		sa.Mask |= fs.SetMode
		sa.Mode = mode
	}
	return sa, true
}
