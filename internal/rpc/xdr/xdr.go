// Package xdr is the External Data Representation codec (RFC 4506) that ONC RPC
// and every protocol carried on it (portmap, MOUNT, NFSv3, NLM, NSM) use.
//
// It is written by hand rather than by reflection: a Reader walks a byte slice
// and remembers the first error, so a decoder can read a whole argument
// structure and check Err once at the end; a Writer appends to a slice that
// the caller may reuse between replies. Neither allocates per field.
package xdr

import (
	"encoding/binary"
	"errors"
)

// ErrShort means the input ended before the value did.
var ErrShort = errors.New("xdr: short buffer")

// ErrTooLong means a variable-length item announced a length over its bound.
var ErrTooLong = errors.New("xdr: length over bound")

// ErrBadBool means a boolean was neither 0 nor 1.
var ErrBadBool = errors.New("xdr: bad boolean")

// Reader decodes XDR from a byte slice. The zero value reads nothing.
type Reader struct {
	buf []byte
	off int
	err error
}

// NewReader returns a Reader over b. b is not copied; slices returned by
// Opaque alias it.
func NewReader(b []byte) *Reader { return &Reader{buf: b} }

// Reset makes r read b from the start and clears the error.
func (r *Reader) Reset(b []byte) { r.buf, r.off, r.err = b, 0, nil }

// Err is the first error met, if any.
func (r *Reader) Err() error { return r.err }

// SetErr records err unless an error is already recorded. Decoders use it
// for semantic errors (a bad enum value) so that the first cause wins.
func (r *Reader) SetErr(err error) {
	if r.err == nil {
		r.err = err
	}
}

// Remaining is the number of unread bytes.
func (r *Reader) Remaining() int { return len(r.buf) - r.off }

// Rest returns the unread bytes without consuming them.
func (r *Reader) Rest() []byte { return r.buf[r.off:] }

// Offset is the number of bytes consumed.
func (r *Reader) Offset() int { return r.off }

func (r *Reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.buf)-r.off {
		r.err = ErrShort
		return nil
	}
	b := r.buf[r.off : r.off+n]
	r.off += n
	return b
}

// Uint32 reads an unsigned int.
func (r *Reader) Uint32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

// Int32 reads a signed int.
func (r *Reader) Int32() int32 { return int32(r.Uint32()) }

// Uint64 reads an unsigned hyper.
func (r *Reader) Uint64() uint64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// Int64 reads a signed hyper.
func (r *Reader) Int64() int64 { return int64(r.Uint64()) }

// Bool reads a boolean; values other than 0 and 1 are an error.
func (r *Reader) Bool() bool {
	v := r.Uint32()
	if v > 1 {
		r.SetErr(ErrBadBool)
	}
	return v == 1
}

func pad(n int) int { return (4 - n&3) & 3 }

// FixedOpaque reads n bytes plus padding. The result aliases the input.
func (r *Reader) FixedOpaque(n int) []byte {
	b := r.take(n)
	if b == nil && n > 0 {
		return nil
	}
	r.take(pad(n))
	return b
}

// Opaque reads a variable-length opaque of at most max bytes. The result
// aliases the input.
func (r *Reader) Opaque(max int) []byte {
	n := r.Uint32()
	if r.err != nil {
		return nil
	}
	if uint64(n) > uint64(max) {
		r.err = ErrTooLong
		return nil
	}
	return r.FixedOpaque(int(n))
}

// String reads a string of at most max bytes.
func (r *Reader) String(max int) string { return string(r.Opaque(max)) }

// Writer appends XDR to a byte slice.
type Writer struct {
	buf []byte
}

// NewWriter returns a Writer that appends to b[:0].
func NewWriter(b []byte) *Writer { return &Writer{buf: b[:0]} }

// Reset empties w, keeping its storage.
func (w *Writer) Reset() { w.buf = w.buf[:0] }

// Bytes is what has been written. It aliases w's storage.
func (w *Writer) Bytes() []byte { return w.buf }

// Len is the number of bytes written.
func (w *Writer) Len() int { return len(w.buf) }

// Truncate drops everything after the first n bytes; encoders use it to
// back out of a partly written item (a READDIR entry that does not fit).
func (w *Writer) Truncate(n int) { w.buf = w.buf[:n] }

// Uint32 writes an unsigned int.
func (w *Writer) Uint32(v uint32) { w.buf = binary.BigEndian.AppendUint32(w.buf, v) }

// Int32 writes a signed int.
func (w *Writer) Int32(v int32) { w.Uint32(uint32(v)) }

// Uint64 writes an unsigned hyper.
func (w *Writer) Uint64(v uint64) { w.buf = binary.BigEndian.AppendUint64(w.buf, v) }

// Int64 writes a signed hyper.
func (w *Writer) Int64(v int64) { w.Uint64(uint64(v)) }

// Bool writes a boolean.
func (w *Writer) Bool(v bool) {
	if v {
		w.Uint32(1)
	} else {
		w.Uint32(0)
	}
}

var zeros [4]byte

// FixedOpaque writes b and its padding.
func (w *Writer) FixedOpaque(b []byte) {
	w.buf = append(w.buf, b...)
	w.buf = append(w.buf, zeros[:pad(len(b))]...)
}

// Opaque writes a variable-length opaque.
func (w *Writer) Opaque(b []byte) {
	w.Uint32(uint32(len(b)))
	w.FixedOpaque(b)
}

// String writes a string.
func (w *Writer) String(s string) {
	w.Uint32(uint32(len(s)))
	w.buf = append(w.buf, s...)
	w.buf = append(w.buf, zeros[:pad(len(s))]...)
}

// Reserve appends n zero bytes and returns their offset, for a length or
// count that is known only after what follows is written.
func (w *Writer) Reserve(n int) int {
	off := len(w.buf)
	w.buf = append(w.buf, make([]byte, n)...)
	return off
}

// PutUint32At overwrites four bytes at off.
func (w *Writer) PutUint32At(off int, v uint32) { binary.BigEndian.PutUint32(w.buf[off:], v) }
