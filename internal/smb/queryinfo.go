package smb

import (
	"context"
	"encoding/binary"
	"hash/fnv"

	"github.com/tandemfs/tandem/internal/fs"
)

func init() { register(CmdQueryInfo, serveQueryInfo) }

// Information types of QUERY_INFO and SET_INFO.
const (
	infoFile       = 1
	infoFilesystem = 2
	infoSecurity   = 3
	infoQuota      = 4
)

// File information classes (MS-FSCC 2.4).
const (
	classFileBasic            = 4
	classFileStandard         = 5
	classFileInternal         = 6
	classFileEa               = 7
	classFileAccess           = 8
	classFileName             = 9
	classFileRename           = 10
	classFileLink             = 11
	classFileDisposition      = 13
	classFilePosition         = 14
	classFileFullEa           = 15
	classFileMode             = 16
	classFileAlignment        = 17
	classFileAll              = 18
	classFileAllocation       = 19
	classFileEndOfFile        = 20
	classFileAlternateName    = 21
	classFileStream           = 22
	classFileCompression      = 28
	classFileNetworkOpen      = 34
	classFileAttributeTag     = 35
	classFileValidDataLength  = 39
	classFileShortName        = 40
	classFileNormalizedName   = 48
	classFileID               = 59
	classFileDispositionEx    = 64
	classFileRenameEx         = 65
	classFsVolume             = 1
	classFsSize               = 3
	classFsDevice             = 4
	classFsAttribute          = 5
	classFsControl            = 6
	classFsFullSize           = 7
	classFsObjectID           = 8
	classFsSectorSize         = 11
	queryInfoOutputStart      = HeaderSize + 8
	fsDeviceDisk              = 0x07
	fsDeviceIsMounted         = 0x20
	fsCasePreservedNames      = 0x00000002
	fsUnicodeOnDisk           = 0x00000004
	fsPersistentACLs          = 0x00000008
	fsSupportsSparseFiles     = 0x00000040
	fsSupportsHardLinks       = 0x00400000
	fsSectorSize              = 512
	fsSectorsPerAllocUnit     = 8
	fsAllocUnit               = fsSectorSize * fsSectorsPerAllocUnit
	ssinfoFlagsAlignedDevice  = 0x00000001
	ssinfoFlagsPartitionAlign = 0x00000002
)

// The QUERY_INFO answer is built whole, then fitted to the client's
// OutputBufferLength: a buffer smaller than the class's structure (its
// size as a C structure, a variable name counting one character, as
// Windows checks it) is STATUS_INFO_LENGTH_MISMATCH; an answer whose
// variable part (a name, a list of streams) does not fit is cut and
// answered STATUS_BUFFER_OVERFLOW (MS-SMB2 3.3.5.20.1); and a security
// descriptor that does not fit is STATUS_BUFFER_TOO_SMALL with the size it
// needs, so that the client can ask again.
//
// The access a class needs follows MS-FSA 2.1.5.11 and 2.1.5.12: the
// times and attributes need FILE_READ_ATTRIBUTES, the extended attributes
// FILE_READ_EA, the rest (sizes, names, ids, the open's own state, the
// volume) nothing beyond the open itself.

func serveQueryInfo(w *Response, r *Request) {
	b := r.Body
	if len(b) < 40 || binary.LittleEndian.Uint16(b) != 41 {
		w.Error(StatusInvalidParameter)
		return
	}
	typ, class := b[2], b[3]
	outLen := binary.LittleEndian.Uint32(b[4:])
	addl := binary.LittleEndian.Uint32(b[16:])
	if outLen > r.Conn.MaxTransact() || !r.ChargeCovers(outLen) {
		w.Error(StatusInvalidParameter)
		return
	}
	o, st := r.openOf(b[24:40])
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	out := w.Grow(8)
	binary.LittleEndian.PutUint16(out, 9)
	var fixed int
	switch typ {
	case infoFile:
		fixed, st = queryFile(w, r, o, class)
	case infoFilesystem:
		fixed, st = queryFilesystem(w, r, o, class)
	case infoSecurity:
		st = querySecurity(w, r, o, addl)
		if st == StatusSuccess && uint32(w.Len()-8) > outLen {
			var need [4]byte
			binary.LittleEndian.PutUint32(need[:], uint32(w.Len()-8))
			w.ErrorData(StatusBufferTooSmall, need[:])
			return
		}
	case infoQuota:
		st = StatusNotSupported
	default:
		st = StatusInvalidInfoClass
	}
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	n := w.Len() - 8
	switch {
	case fixed > int(outLen):
		w.Error(StatusInfoLengthMismatch)
		return
	case n > int(outLen):
		w.Truncate(8 + int(outLen))
		w.Status = StatusBufferOverflow
		n = int(outLen)
	}
	out = w.Bytes()
	binary.LittleEndian.PutUint16(out[2:], queryInfoOutputStart)
	binary.LittleEndian.PutUint32(out[4:], uint32(n))
	if n == 0 {
		w.Grow(1)
	}
}

// queryFile appends a file information class and returns the size of
// its fixed part.
func queryFile(w *Response, r *Request, o *open, class byte) (int, Status) {
	switch class {
	case classFileAccess:
		binary.LittleEndian.PutUint32(w.Grow(4), o.access)
		return 4, StatusSuccess
	case classFileMode:
		o.mu.Lock()
		binary.LittleEndian.PutUint32(w.Grow(4), o.mode)
		o.mu.Unlock()
		return 4, StatusSuccess
	case classFilePosition:
		o.mu.Lock()
		binary.LittleEndian.PutUint64(w.Grow(8), o.position)
		o.mu.Unlock()
		return 8, StatusSuccess
	case classFileAlignment:
		w.Grow(4)
		return 4, StatusSuccess
	case classFileFullEa:
		if !o.may(fileReadEA) {
			return 0, StatusAccessDenied
		}
		return queryFullEa(w, r, o)
	case classFileAlternateName:
		_, name, _ := o.location()
		if name == "" {
			return 0, StatusObjectNameNotFound // the share's root
		}
		putFileName(w, shortName(name))
		return 8, StatusSuccess
	case classFileNormalizedName:
		if r.Conn.Dialect() < Dialect311 {
			return 0, StatusNotSupported // 3.1.1 and later only (MS-SMB2 3.3.5.20.1)
		}
		_, _, path := o.location()
		putFileName(w, path+o.streamSuffix())
		return 8, StatusSuccess
	case classFileBasic, classFileAll, classFileNetworkOpen, classFileAttributeTag:
		if !o.may(fileReadAttributes) {
			return 0, StatusAccessDenied
		}
	}
	a, err := r.Conn.srv.fs.GetAttr(r.Context(), o.h)
	if err != nil {
		return 0, StatusOf(err)
	}
	if o.stream != "" {
		if st := o.streamAttrs(r.Context(), r, &a); st != StatusSuccess {
			return 0, st
		}
	} else {
		o.withAlloc(&a)
	}
	switch class {
	case classFileBasic:
		b := w.Grow(40)
		putTimes(b, &a)
		binary.LittleEndian.PutUint32(b[32:], dosAttrs(&a))
		return 40, StatusSuccess
	case classFileStandard:
		putStandard(w.Grow(24), o, &a)
		return 24, StatusSuccess
	case classFileInternal:
		binary.LittleEndian.PutUint64(w.Grow(8), a.FileID)
		return 8, StatusSuccess
	case classFileEa:
		n, st := eaSize(r, o)
		if st != StatusSuccess {
			return 0, st
		}
		binary.LittleEndian.PutUint32(w.Grow(4), n)
		return 4, StatusSuccess
	case classFileName:
		putName(w, o)
		return 8, StatusSuccess
	case classFileAll:
		n, st := eaSize(r, o)
		if st != StatusSuccess {
			return 0, st
		}
		b := w.Grow(96)
		putTimes(b, &a)
		binary.LittleEndian.PutUint32(b[32:], dosAttrs(&a))
		putStandard(b[40:], o, &a)
		binary.LittleEndian.PutUint64(b[64:], a.FileID)
		binary.LittleEndian.PutUint32(b[72:], n)
		binary.LittleEndian.PutUint32(b[76:], o.access)
		o.mu.Lock()
		binary.LittleEndian.PutUint64(b[80:], o.position)
		binary.LittleEndian.PutUint32(b[88:], o.mode)
		o.mu.Unlock()
		// Alignment 0 at 92.
		putName(w, o)
		return 104, StatusSuccess
	case classFileStream:
		if o.stream != "" { // the file's streams, not this one's size
			if a, err = r.Conn.srv.fs.GetAttr(r.Context(), o.h); err != nil {
				return 0, StatusOf(err)
			}
		}
		return 32, putStreams(w, r, o, &a) // a directory has no default stream
	case classFileCompression:
		binary.LittleEndian.PutUint64(w.Grow(16), a.Size)
		return 16, StatusSuccess
	case classFileNetworkOpen:
		putNetworkOpen(w.Grow(56), &a)
		return 56, StatusSuccess
	case classFileAttributeTag:
		b := w.Grow(8)
		binary.LittleEndian.PutUint32(b, dosAttrs(&a))
		binary.LittleEndian.PutUint32(b[4:], reparseTag(&a))
		return 8, StatusSuccess
	case classFileID:
		b := w.Grow(24)
		binary.LittleEndian.PutUint64(b, volumeSerial(r.Tree))
		binary.LittleEndian.PutUint64(b[8:], a.FileID)
		return 24, StatusSuccess
	}
	return 0, StatusInvalidInfoClass
}

// putStandard writes FileStandardInformation.
func putStandard(b []byte, o *open, a *fs.Attr) {
	binary.LittleEndian.PutUint64(b, allocSize(a))
	binary.LittleEndian.PutUint64(b[8:], endOfFile(a))
	nlink := a.Nlink
	if a.Type == fs.TypeDir {
		nlink = 1
	}
	if o.deletePending() {
		// A link marked for deletion is no longer counted (MS-FSA
		// 2.1.5.11.27).
		nlink = max(nlink, 1) - 1
		b[20] = 1
	}
	binary.LittleEndian.PutUint32(b[16:], nlink)
	if a.Type == fs.TypeDir {
		b[21] = 1
	}
}

// putName appends FileNameInformation: the path from the share's root
// with a leading backslash.
func putName(w *Response, o *open) {
	_, _, path := o.location()
	putFileName(w, `\`+path+o.streamSuffix())
}

// putFileName appends a FileNameLength and a name.
func putFileName(w *Response, name string) {
	n := utf16Len(name)
	b := w.Grow(4 + n)
	binary.LittleEndian.PutUint32(b, uint32(n))
	putUTF16(b[4:], name)
}

// volumeSerial is a share's volume serial number: stable, from its name.
func volumeSerial(t *Tree) uint64 {
	h := fnv.New32a()
	h.Write([]byte(t.ShareName()))
	return uint64(h.Sum32())
}

// queryFilesystem appends a file system information class.
func queryFilesystem(w *Response, r *Request, o *open, class byte) (int, Status) {
	s := r.Conn.srv
	ctx := r.Context()
	switch class {
	case classFsVolume:
		root, err := s.fs.GetAttr(ctx, r.Tree.Root())
		if err != nil {
			return 0, StatusOf(err)
		}
		label := r.Tree.ShareName()
		n := utf16Len(label)
		b := w.Grow(18 + n)
		binary.LittleEndian.PutUint64(b, ntTime(birthTime(&root)))
		binary.LittleEndian.PutUint32(b[8:], uint32(volumeSerial(r.Tree)))
		binary.LittleEndian.PutUint32(b[12:], uint32(n))
		putUTF16(b[18:], label)
		return 24, StatusSuccess
	case classFsSize, classFsFullSize:
		st, err := statFS(ctx, s, r)
		if err != nil {
			return 0, StatusOf(err)
		}
		if class == classFsSize {
			b := w.Grow(24)
			binary.LittleEndian.PutUint64(b, st.TotalBytes/fsAllocUnit)
			binary.LittleEndian.PutUint64(b[8:], st.AvailBytes/fsAllocUnit)
			binary.LittleEndian.PutUint32(b[16:], fsSectorsPerAllocUnit)
			binary.LittleEndian.PutUint32(b[20:], fsSectorSize)
			return 24, StatusSuccess
		}
		b := w.Grow(32)
		binary.LittleEndian.PutUint64(b, st.TotalBytes/fsAllocUnit)
		binary.LittleEndian.PutUint64(b[8:], st.AvailBytes/fsAllocUnit)
		binary.LittleEndian.PutUint64(b[16:], st.FreeBytes/fsAllocUnit)
		binary.LittleEndian.PutUint32(b[24:], fsSectorsPerAllocUnit)
		binary.LittleEndian.PutUint32(b[28:], fsSectorSize)
		return 32, StatusSuccess
	case classFsDevice:
		b := w.Grow(8)
		binary.LittleEndian.PutUint32(b, fsDeviceDisk)
		binary.LittleEndian.PutUint32(b[4:], fsDeviceIsMounted)
		return 8, StatusSuccess
	case classFsAttribute:
		const name = "NTFS"
		b := w.Grow(12 + 2*len(name))
		binary.LittleEndian.PutUint32(b, fsCasePreservedNames|fsUnicodeOnDisk|fsPersistentACLs|fsSupportsSparseFiles|fsSupportsHardLinks)
		binary.LittleEndian.PutUint32(b[4:], fs.MaxNameLen)
		binary.LittleEndian.PutUint32(b[8:], 2*uint32(len(name)))
		putUTF16(b[12:], name)
		return 16, StatusSuccess
	case classFsObjectID:
		b := w.Grow(64)
		copy(b, s.guid[:])
		binary.LittleEndian.PutUint64(b[8:], volumeSerial(r.Tree))
		return 64, StatusSuccess
	case classFsSectorSize:
		b := w.Grow(28)
		for i := range 4 {
			binary.LittleEndian.PutUint32(b[4*i:], fsSectorSize)
		}
		binary.LittleEndian.PutUint32(b[16:], ssinfoFlagsAlignedDevice|ssinfoFlagsPartitionAlign)
		return 28, StatusSuccess
	case classFsControl:
		return 0, StatusNotSupported // no quotas
	}
	return 0, StatusInvalidInfoClass
}

func statFS(ctx context.Context, s *Server, r *Request) (fs.FSStat, error) {
	st, _, err := s.fs.StatFS(ctx, r.Tree.Root())
	return st, err
}

// querySecurity appends the file's security descriptor, the stored one or
// the one made from its mode: owner, group and DACL as asked (a SACL is
// never returned).
func querySecurity(w *Response, r *Request, o *open, addl uint32) Status {
	if addl&(secOwner|secGroup|secDACL) != 0 && !o.may(readControl) {
		return StatusAccessDenied
	}
	s := r.Conn.srv
	a, err := s.fs.GetAttr(r.Context(), o.h)
	if err != nil {
		return StatusOf(err)
	}
	if sd := s.loadSD(r.Context(), r, o.h, &a); sd != nil {
		if p, ok := splitSD(sd); ok {
			w.Write(p.bytes(addl & (secOwner | secGroup | secDACL)))
			return StatusSuccess
		}
	}
	m, err := s.sidMapper(r.Context())
	if err != nil {
		return StatusOf(err)
	}
	w.Write(buildSD(&a, addl, m))
	return StatusSuccess
}
