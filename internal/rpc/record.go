package rpc

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Record marking (RFC 5531 section 11). On a byte stream each message is a
// record sent as one or more fragments; every fragment starts with a
// four-byte big-endian word whose top bit marks the last fragment and whose
// low 31 bits are the fragment's length. Nothing else delimits messages, so
// a peer that announces a huge fragment or an endless run of fragments
// would make us buffer without limit: the reader bounds both and the caller
// drops the connection when either bound is crossed.

const (
	lastFragment   = 1 << 31
	maxFragmentLen = lastFragment - 1
)

var (
	errRecordTooLarge   = errors.New("rpc: record over size limit")
	errTooManyFragments = errors.New("rpc: record has too many fragments")
)

// growStep bounds how much buffer a fragment header alone can make us
// allocate: a fragment larger than this is read in steps of this size, so
// memory follows the bytes that actually arrive, not the length announced.
const growStep = 1 << 20

// recordReader reassembles records from a stream.
type recordReader struct {
	r        *bufio.Reader
	maxSize  int // largest record, in bytes
	maxFrags int // most fragments in one record
	hdr      [4]byte
}

// read appends the next record to buf[:0] and returns it. At a clean end of
// stream (no byte of a new record read) it returns io.EOF; a stream that
// ends inside a record gives io.ErrUnexpectedEOF.
func (rr *recordReader) read(buf []byte) ([]byte, error) {
	buf = buf[:0]
	for frags := 0; ; frags++ {
		if frags == rr.maxFrags {
			return buf, errTooManyFragments
		}
		if _, err := io.ReadFull(rr.r, rr.hdr[:]); err != nil {
			if err == io.EOF && frags > 0 {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
		h := binary.BigEndian.Uint32(rr.hdr[:])
		n := int(h & maxFragmentLen)
		if n > rr.maxSize-len(buf) {
			return buf, fmt.Errorf("%w: fragment of %d bytes after %d (limit %d)", errRecordTooLarge, n, len(buf), rr.maxSize)
		}
		var err error
		if buf, err = readN(rr.r, buf, n); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
		if h&lastFragment != 0 {
			return buf, nil
		}
	}
}

// readN appends exactly n bytes from r to buf.
func readN(r io.Reader, buf []byte, n int) ([]byte, error) {
	for n > 0 {
		step := min(n, growStep)
		off := len(buf)
		buf = grow(buf, step)
		if _, err := io.ReadFull(r, buf[off:]); err != nil {
			return buf[:off], err
		}
		n -= step
	}
	return buf, nil
}

// grow extends buf by n bytes, reallocating if its capacity is short.
func grow(buf []byte, n int) []byte {
	if cap(buf)-len(buf) >= n {
		return buf[:len(buf)+n]
	}
	return append(buf, make([]byte, n)...)
}

// putRecordMark writes the header of a single-fragment record holding n
// bytes into b[0:4].
func putRecordMark(b []byte, n int) {
	binary.BigEndian.PutUint32(b, lastFragment|uint32(n))
}
