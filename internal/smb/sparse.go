package smb

import (
	"encoding/binary"

	"github.com/tandemfs/tandem/internal/fs"
)

// Sparse files (MS-FSA 2.1.5.9): FSCTL_SET_SPARSE sets or clears
// FILE_ATTRIBUTE_SPARSE_FILE, kept in the DOS attribute word with the
// others (SET_INFO and CREATE cannot change it, as on NTFS);
// FSCTL_SET_ZERO_DATA punches a hole in the content store, so the range
// gives its space back and reads as zeros over both protocols;
// FSCTL_QUERY_ALLOCATED_RANGES reports where a sparse file holds data, and
// all of a file that is not sparse, as Windows does. A named stream is
// never sparse: its zeros are written into it. There is no compression:
// FSCTL_GET_COMPRESSION answers COMPRESSION_FORMAT_NONE and
// FSCTL_SET_COMPRESSION accepts only that.

// FSCTL codes of compression (MS-FSCC 2.3).
const (
	fsctlGetCompression = 0x0009003c
	fsctlSetCompression = 0x0009c040

	compressionFormatNone    = 0
	compressionFormatDefault = 1
	compressionFormatLZNT1   = 2
)

// setSparse answers FSCTL_SET_SPARSE: an empty input sets the attribute,
// else its first byte says whether to.
func setSparse(r *Request, o *open, in []byte) Status {
	switch {
	case !o.may(fileWriteData | fileWriteAttributes | fileAppendData):
		return StatusAccessDenied
	case o.isDir:
		return StatusInvalidParameter
	case o.stream != "":
		return StatusSuccess
	}
	sparse := len(in) == 0 || in[0] != 0
	s := r.Conn.srv
	ctx := r.Context()
	a, err := s.fs.GetAttr(ctx, o.h)
	if err != nil {
		return StatusOf(err)
	}
	v := a.DOSAttrs &^ attrSparseFile
	if sparse {
		v |= attrSparseFile
	}
	if v == a.DOSAttrs {
		return StatusSuccess
	}
	_, err = s.fs.SetAttr(ctx, &o.caller, o.h, fs.SetAttr{Mask: fs.SetDOSAttrs, DOSAttrs: v}, nil)
	return StatusOf(err)
}

// allocatedRanges answers FSCTL_QUERY_ALLOCATED_RANGES (FileOffset,
// Length): the ranges holding data in that part of the file, as many as
// the output holds (STATUS_BUFFER_OVERFLOW when more remain).
func allocatedRanges(r *Request, o *open, q *ioctlRequest) ([]byte, Status) {
	if len(q.in) < 16 {
		return nil, StatusInvalidParameter
	}
	if !o.may(fileReadData) {
		return nil, StatusAccessDenied
	}
	off, n := binary.LittleEndian.Uint64(q.in), binary.LittleEndian.Uint64(q.in[8:])
	if off > fs.MaxFileSize || n > fs.MaxFileSize-off {
		return nil, StatusInvalidParameter
	}
	s := r.Conn.srv
	ctx := r.Context()
	a, err := s.fs.GetAttr(ctx, o.h)
	if err != nil {
		return nil, StatusOf(err)
	}
	if o.stream != "" {
		if st := o.streamAttrs(ctx, r, &a); st != StatusSuccess {
			return nil, st
		}
	}
	end := min(off+n, a.Size)
	if off >= end {
		return []byte{}, StatusSuccess
	}
	if q.maxOut < 16 {
		return nil, StatusBufferTooSmall
	}
	ranges := []fs.Range{{Off: int64(off), Len: int64(end - off)}}
	if o.stream == "" && a.DOSAttrs&attrSparseFile != 0 {
		if ranges, err = s.fs.DataRanges(ctx, &o.caller, o.h, off, end-off); err != nil {
			return nil, StatusOf(err)
		}
	}
	st := StatusSuccess
	if fit := int(q.maxOut / 16); len(ranges) > fit {
		ranges, st = ranges[:fit], StatusBufferOverflow
	}
	b := make([]byte, 0, 16*len(ranges))
	for _, rg := range ranges {
		b = binary.LittleEndian.AppendUint64(b, uint64(rg.Off))
		b = binary.LittleEndian.AppendUint64(b, uint64(rg.Len))
	}
	return b, st
}

// zeroData answers FSCTL_SET_ZERO_DATA (FileOffset, BeyondFinalZero): the
// part of the range inside the file becomes a hole; the size stays.
func zeroData(r *Request, o *open, in []byte) Status {
	if len(in) < 16 {
		return StatusInvalidParameter
	}
	if !o.may(fileWriteData) {
		return StatusAccessDenied
	}
	from, to := binary.LittleEndian.Uint64(in), binary.LittleEndian.Uint64(in[8:])
	if from > to || to > fs.MaxFileSize {
		return StatusInvalidParameter
	}
	if from == to {
		return StatusSuccess
	}
	s := r.Conn.srv
	if _, held := s.locks().CheckIO(o.key(), o.owner, from, to-from, true); held {
		return StatusFileLockConflict
	}
	if o.stream != "" {
		return zeroStream(r, o, from, to)
	}
	_, err := s.fs.ZeroRange(r.Context(), &o.caller, o.h, from, to-from)
	return StatusOf(err)
}

// zeroStream writes zeros over the part of [from, to) inside a stream.
func zeroStream(r *Request, o *open, from, to uint64) Status {
	ctx := r.Context()
	v, st := o.streamData(ctx, r)
	if st != StatusSuccess || from >= uint64(len(v)) {
		return st
	}
	clear(v[from:min(to, uint64(len(v)))])
	return StatusOf(o.srv.fs.SetXattr(ctx, &o.caller, o.h, streamAttr(o.stream), v))
}

// getCompression answers FSCTL_GET_COMPRESSION: never compressed.
func getCompression(maxOut uint32) ([]byte, Status) {
	if maxOut < 2 {
		return nil, StatusInvalidParameter
	}
	return binary.LittleEndian.AppendUint16(nil, compressionFormatNone), StatusSuccess
}

// setCompression answers FSCTL_SET_COMPRESSION: asking for none is
// granted, asking for compression is not supported.
func setCompression(o *open, in []byte) Status {
	if !o.may(fileWriteData) {
		return StatusAccessDenied
	}
	if len(in) < 2 {
		return StatusInvalidParameter
	}
	switch binary.LittleEndian.Uint16(in) {
	case compressionFormatNone:
		return StatusSuccess
	case compressionFormatDefault, compressionFormatLZNT1:
		return StatusNotSupported
	}
	return StatusInvalidParameter
}
