package smb

import (
	"encoding/binary"
	"errors"

	"github.com/tandemfs/tandem/internal/fs"
)

func init() {
	register(CmdRead, serveRead)
	register(CmdWrite, serveWrite)
}

// READ and WRITE. Byte-range locks are mandatory for SMB I/O: a range
// another owner locks (any protocol's owner; shared locks refuse writes,
// of the holder too) answers STATUS_FILE_LOCK_CONFLICT. A write is made
// durable before the answer when the request or the open asks for write
// through; otherwise it is like an NFS UNSTABLE write, made durable by
// FLUSH, CLOSE does not wait for it.

const (
	writeFlagThrough = 0x00000001
	readDataOffset   = HeaderSize + 16 // where READ response data starts

	// maxWriteEnd is the largest end of file a WRITE may reach: NTFS's
	// limit, 16 TiB less 64 KiB. Offsets are signed 64-bit integers
	// (MS-FSA 2.1.5.2, 2.1.5.3), so one beyond fs.MaxFileSize is invalid.
	maxWriteEnd = 0xfffffff0000
)

func serveRead(w *Response, r *Request) {
	b := r.Body
	if len(b) < 48 || binary.LittleEndian.Uint16(b) != 49 {
		w.Error(StatusInvalidParameter)
		return
	}
	length := binary.LittleEndian.Uint32(b[4:])
	off := binary.LittleEndian.Uint64(b[8:])
	minCount := binary.LittleEndian.Uint32(b[32:])
	channel := binary.LittleEndian.Uint32(b[36:])
	switch {
	case length > r.Conn.MaxRead() || !r.ChargeCovers(length) || channel != 0:
		w.Error(StatusInvalidParameter)
		return
	case off > fs.MaxFileSize || uint64(length) > fs.MaxFileSize-off:
		w.Error(StatusInvalidParameter)
		return
	}
	o, st := r.openOf(b[16:32])
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	switch {
	case o.isDir:
		w.Error(StatusInvalidDeviceRequest)
		return
	case !o.may(fileReadData | fileExecute):
		w.Error(StatusAccessDenied)
		return
	case o.stream != "":
		readStream(w, r, o, off, length, minCount)
		return
	}
	s := r.Conn.srv
	if length > 0 {
		if _, held := s.locks().CheckIO(o.key(), o.owner, off, uint64(length), false); held {
			w.Error(StatusFileLockConflict)
			return
		}
	}
	// The data is read into the response; what the read does not fill
	// is cut off below, so it need not be cleared first.
	out := w.grow(16 + int(length))
	clear(out[:16])
	n, _, _, err := s.fs.Read(r.Context(), &o.caller, o.h, off, out[16:])
	if err != nil {
		if errors.Is(err, fs.ErrIsDir) {
			w.Error(StatusInvalidDeviceRequest)
		} else {
			w.Error(StatusOf(err))
		}
		return
	}
	// Fewer bytes than MinimumCount, or none of a non-empty read, is the
	// end of the file (MS-SMB2 3.3.5.12).
	if (length > 0 && n == 0) || uint32(n) < minCount {
		w.Error(StatusEndOfFile)
		return
	}
	// Like Samba, a read moves the open's position (FilePositionInformation)
	// to the byte after the last one read.
	o.mu.Lock()
	o.position = off + uint64(n)
	o.mu.Unlock()
	w.Truncate(16 + n)
	out = w.Bytes()
	binary.LittleEndian.PutUint16(out, 17)
	out[2] = readDataOffset
	binary.LittleEndian.PutUint32(out[4:], uint32(n))
	if n == 0 {
		w.Grow(1)
	}
}

func serveWrite(w *Response, r *Request) {
	b := r.Body
	if len(b) < 48 || binary.LittleEndian.Uint16(b) != 49 {
		w.Error(StatusInvalidParameter)
		return
	}
	dataOff := uint32(binary.LittleEndian.Uint16(b[2:]))
	length := binary.LittleEndian.Uint32(b[4:])
	off := binary.LittleEndian.Uint64(b[8:])
	channel := binary.LittleEndian.Uint32(b[32:])
	flags := binary.LittleEndian.Uint32(b[44:])
	if length > r.Conn.MaxWrite() || !r.ChargeCovers(length) || channel != 0 || off > fs.MaxFileSize {
		w.Error(StatusInvalidParameter)
		return
	}
	data, ok := r.Buffer(dataOff, length)
	if !ok || (length > 0 && dataOff < HeaderSize+48) {
		w.Error(StatusInvalidParameter)
		return
	}
	o, st := r.openOf(b[16:32])
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	switch {
	case o.isDir:
		w.Error(StatusInvalidDeviceRequest)
		return
	case !o.may(fileWriteData | fileAppendData):
		w.Error(StatusAccessDenied)
		return
	case o.stream != "":
		writeStream(w, r, o, off, data)
		return
	}
	s := r.Conn.srv
	ctx := r.Context()
	if !o.may(fileWriteData) {
		// Appending: at the end of the file, whatever the offset says.
		a, err := s.fs.GetAttr(ctx, o.h)
		if err != nil {
			w.Error(StatusOf(err))
			return
		}
		off = a.Size
	}
	if length > 0 && (off > maxWriteEnd || uint64(length) > maxWriteEnd-off) {
		w.Error(StatusInvalidParameter)
		return
	}
	if length > 0 {
		if _, held := s.locks().CheckIO(o.key(), o.owner, off, uint64(length), true); held {
			w.Error(StatusFileLockConflict)
			return
		}
	}
	s.breakReadCaching(o)
	stable := fs.Unstable
	if flags&writeFlagThrough != 0 || o.writeThrough() {
		stable = fs.FileSync
	}
	n, _, _, err := s.fs.Write(ctx, &o.caller, o.h, off, data, stable)
	if err != nil {
		w.Error(StatusOf(err))
		return
	}
	out := w.Grow(17)
	binary.LittleEndian.PutUint16(out, 17)
	binary.LittleEndian.PutUint32(out[4:], uint32(n))
}
