package testserver

import (
	"encoding/binary"
	"errors"
)

// enc appends XDR (RFC 4506) items to a byte slice.
type enc []byte

func (e *enc) u32(v uint32) { *e = binary.BigEndian.AppendUint32(*e, v) }
func (e *enc) u64(v uint64) { *e = binary.BigEndian.AppendUint64(*e, v) }

func (e *enc) bool(v bool) {
	if v {
		e.u32(1)
	} else {
		e.u32(0)
	}
}

func (e *enc) opaque(b []byte) {
	e.u32(uint32(len(b)))
	*e = append(*e, b...)
	*e = append(*e, make([]byte, pad(len(b)))...)
}

func (e *enc) str(s string) {
	e.u32(uint32(len(s)))
	*e = append(*e, s...)
	*e = append(*e, make([]byte, pad(len(s)))...)
}

func pad(n int) int { return (4 - n%4) % 4 }

var errShort = errors.New("testserver: reply too short")

// dec reads XDR items from a reply; the first error sticks and every
// later read returns zero values.
type dec struct {
	b   []byte
	err error
}

func (d *dec) u32() uint32 {
	if d.err != nil || len(d.b) < 4 {
		d.err = errShort
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *dec) u64() uint64 {
	if d.err != nil || len(d.b) < 8 {
		d.err = errShort
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *dec) bool() bool { return d.u32() != 0 }

func (d *dec) skip(n int) {
	if d.err != nil || len(d.b) < n {
		d.err = errShort
		return
	}
	d.b = d.b[n:]
}

// opaque returns variable-length opaque data without copying it.
func (d *dec) opaque() []byte {
	n := int(d.u32())
	if d.err != nil || n < 0 || len(d.b) < n+pad(n) {
		d.err = errShort
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n+pad(n):]
	return v
}

func (d *dec) fixed8() (v [8]byte) {
	if d.err != nil || len(d.b) < 8 {
		d.err = errShort
		return v
	}
	copy(v[:], d.b)
	d.b = d.b[8:]
	return v
}
