package smb

import (
	"encoding/binary"
	"errors"
	"strings"
	"unicode/utf16"

	"github.com/tandemfs/tandem/internal/fs"
)

// Symbolic links are shown as Windows shows them: as reparse points of
// the symlink tag, which the client resolves itself.
//
//   - A CREATE whose path meets a link, in the middle or at the end
//     (unless FILE_OPEN_REPARSE_POINT asks for the link itself), fails
//     with STATUS_STOPPED_ON_SYMLINK and the symbolic link error response
//     (MS-SMB2 2.2.2.2.1): the link's target and how much of the path
//     is left after the link. The Linux client reads the target from it
//     (and readlink gives it back); a Windows client splices it in.
//   - The link itself shows FILE_ATTRIBUTE_REPARSE_POINT, and its tag in
//     listings (EaSize, ReparsePointTag) and FileAttributeTagInformation;
//     FSCTL_GET_REPARSE_POINT reads its reparse data (MS-FSCC 2.1.2.4).
//   - FSCTL_SET_REPARSE_POINT with the symlink tag, on an empty file or
//     directory (mklink creates one, then sets it), makes it a link in
//     place (fs.ToSymlink), which NFS clients see as a symlink.
//
// Targets are POSIX paths, kept as NFS clients give them: "/" becomes
// "\" for SMB and back. A target that starts with "/" (or a drive, "C:/")
// is absolute (no SYMLINK_FLAG_RELATIVE) and is shown without the "\??\"
// prefix of a Windows NT path, so that the Linux client's readlink shows
// it as made; from SMB that prefix is dropped.

// Reparse point and symbolic link values (MS-FSCC 2.1.2.1, 2.1.2.4;
// MS-SMB2 2.2.2.2.1).
const (
	reparseTagSymlink   = 0xa000000c
	symlinkErrorTag     = 0x4c4d5953 // "SYML"
	symlinkFlagRelative = 0x00000001
	reparseHeaderSize   = 8 // ReparseTag, ReparseDataLength, Reserved
)

// linkStop is the link a path met, and what of the path is left after it.
type linkStop struct {
	target string
	rest   []string
}

// reparseTag is the reparse tag of a file: the symlink tag for a link,
// else 0.
func reparseTag(a *fs.Attr) uint32 {
	if a.Type == fs.TypeSymlink {
		return reparseTagSymlink
	}
	return 0
}

// linkNames are the substitute (and print) name and flags of a target.
func linkNames(target string) (string, uint32) {
	name := strings.ReplaceAll(target, "/", `\`)
	if absolute(target) {
		return name, 0
	}
	return name, symlinkFlagRelative
}

// absolute reports whether a target is absolute: a POSIX path from the
// root, or what a Windows client made of a drive path ("C:/Users").
func absolute(target string) bool {
	if strings.HasPrefix(target, "/") {
		return true
	}
	if len(target) < 2 || target[1] != ':' || (target[0]|0x20) < 'a' || (target[0]|0x20) > 'z' {
		return false
	}
	return len(target) == 2 || target[2] == '/'
}

// symlinkBody appends the symbolic link fields common to the reparse
// data and the error response: name offsets and lengths, flags, then the
// substitute and print names (the same).
func symlinkBody(b []byte, target string) []byte {
	name, flags := linkNames(target)
	n := utf16Len(name)
	b = binary.LittleEndian.AppendUint16(b, 0)         // SubstituteNameOffset
	b = binary.LittleEndian.AppendUint16(b, uint16(n)) // SubstituteNameLength
	b = binary.LittleEndian.AppendUint16(b, uint16(n)) // PrintNameOffset
	b = binary.LittleEndian.AppendUint16(b, uint16(n)) // PrintNameLength
	b = binary.LittleEndian.AppendUint32(b, flags)
	start := len(b)
	b = append(b, make([]byte, 2*n)...)
	putUTF16(b[start:], name)
	putUTF16(b[start+n:], name)
	return b
}

// reparseData is the REPARSE_DATA_BUFFER of a link to target.
func reparseData(target string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, reparseTagSymlink)
	b = append(b, 0, 0, 0, 0) // ReparseDataLength, Reserved
	b = symlinkBody(b, target)
	binary.LittleEndian.PutUint16(b[4:], uint16(len(b)-reparseHeaderSize))
	return b
}

// symlinkError answers a CREATE that met the link l. From 3.1.1 the
// response is wrapped in an error context (MS-SMB2 2.2.2.1).
func symlinkError(w *Response, dialect uint16, l *linkStop) {
	unparsed := 0
	if len(l.rest) > 0 {
		unparsed = utf16Len(`\` + strings.Join(l.rest, `\`))
	}
	b := make([]byte, 16, 64)
	binary.LittleEndian.PutUint32(b[4:], symlinkErrorTag)
	binary.LittleEndian.PutUint32(b[8:], reparseTagSymlink)
	binary.LittleEndian.PutUint16(b[14:], uint16(unparsed))
	b = symlinkBody(b, l.target)
	binary.LittleEndian.PutUint32(b, uint32(len(b)-4))       // SymLinkLength
	binary.LittleEndian.PutUint16(b[12:], uint16(len(b)-16)) // ReparseDataLength
	if dialect < Dialect311 {
		w.ErrorData(StatusStoppedOnSymlink, b)
		return
	}
	ctx := binary.LittleEndian.AppendUint32(nil, uint32(len(b)))
	ctx = binary.LittleEndian.AppendUint32(ctx, 0) // ErrorId: SMB2_ERROR_ID_DEFAULT
	ctx = append(ctx, b...)
	for len(ctx)%8 != 0 {
		ctx = append(ctx, 0)
	}
	w.ErrorData(StatusStoppedOnSymlink, ctx)
	w.Bytes()[2] = 1 // ErrorContextCount
}

// createError answers a failed CREATE: with the symbolic link error
// response when it stopped on a link.
func createError(w *Response, r *Request, q *createRequest, st Status) {
	if st == StatusStoppedOnSymlink && q.link != nil {
		symlinkError(w, r.Conn.dialect, q.link)
		return
	}
	w.Error(st)
}

// getReparsePoint answers FSCTL_GET_REPARSE_POINT: the reparse data of a
// link, cut to the output buffer (STATUS_BUFFER_OVERFLOW) as long as its
// header fits (MS-FSA 2.1.5.9.20).
func getReparsePoint(r *Request, o *open, maxOut uint32) ([]byte, Status) {
	if o.stream != "" {
		return nil, StatusNotAReparsePoint
	}
	target, _, err := r.Conn.srv.fs.ReadLink(r.Context(), r.Caller(), o.h)
	switch {
	case errors.Is(err, fs.ErrInval):
		return nil, StatusNotAReparsePoint
	case err != nil:
		return nil, StatusOf(err)
	}
	b := reparseData(target)
	switch {
	case maxOut < reparseHeaderSize:
		return nil, StatusBufferTooSmall
	case uint32(len(b)) > maxOut:
		return b[:maxOut], StatusBufferOverflow
	}
	return b, StatusSuccess
}

// setReparsePoint answers FSCTL_SET_REPARSE_POINT (MS-FSA 2.1.5.9.37)
// with a symbolic link: the open's file becomes a link to its target.
func setReparsePoint(r *Request, o *open, in []byte) Status {
	switch {
	case !o.may(fileWriteData | fileWriteAttributes):
		return StatusAccessDenied
	case len(in) < reparseHeaderSize || int(binary.LittleEndian.Uint16(in[4:]))+reparseHeaderSize != len(in):
		return StatusIOReparseDataInvalid
	case binary.LittleEndian.Uint32(in) <= 1: // IO_REPARSE_TAG_RESERVED_ZERO, _ONE
		return StatusIOReparseTagInvalid
	case binary.LittleEndian.Uint32(in) != reparseTagSymlink:
		return StatusIOReparseTagNotHandled // only links can be kept
	case o.stream != "":
		return StatusNotSupported
	}
	target, ok := reparseTarget(in[reparseHeaderSize:])
	if !ok {
		return StatusIOReparseDataInvalid
	}
	_, err := r.Conn.srv.fs.ToSymlink(r.Context(), r.Caller(), o.h, target)
	return StatusOf(err)
}

// reparseTarget is the POSIX target of symbolic link reparse data (after
// the header): the substitute name, or the print name if that is empty,
// without the "\??\" of an absolute NT path, with "/" for "\".
func reparseTarget(b []byte) (string, bool) {
	if len(b) < 12 {
		return "", false
	}
	path := b[12:]
	name := func(off, n uint16) (string, bool) {
		if int(off)+int(n) > len(path) || n%2 != 0 {
			return "", false
		}
		u := make([]uint16, n/2)
		for i := range u {
			u[i] = binary.LittleEndian.Uint16(path[int(off)+2*i:])
		}
		return string(utf16.Decode(u)), true
	}
	sub, ok1 := name(binary.LittleEndian.Uint16(b), binary.LittleEndian.Uint16(b[2:]))
	prn, ok2 := name(binary.LittleEndian.Uint16(b[4:]), binary.LittleEndian.Uint16(b[6:]))
	if !ok1 || !ok2 {
		return "", false
	}
	if sub == "" {
		sub = prn
	}
	if binary.LittleEndian.Uint32(b[8:])&symlinkFlagRelative == 0 {
		sub = strings.TrimPrefix(sub, `\??\`)
	}
	return strings.ReplaceAll(sub, `\`, "/"), sub != ""
}
