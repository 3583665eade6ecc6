package smb

import (
	"encoding/binary"
	"errors"

	"github.com/tandemfs/tandem/internal/fs"
)

// closePostQueryAttrib asks CLOSE to return the file's attributes.
const closePostQueryAttrib = 0x0001

// serveClose closes an open: its byte-range locks and share reservation
// go, and a pending delete happens with the file's last close. With
// POSTQUERY_ATTRIB the response carries the attributes the file has
// after the close (zero if it was deleted).
func serveClose(w *Response, r *Request) {
	b := r.Body
	if len(b) < 24 || binary.LittleEndian.Uint16(b) != 24 {
		w.Error(StatusInvalidParameter)
		return
	}
	flags := binary.LittleEndian.Uint16(b[2:])
	id, st := r.FileID(DecodeFileID(b[8:24]))
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	o := r.Tree.ops.remove(id)
	if o == nil {
		w.Error(StatusFileClosed)
		return
	}
	ctx := r.Context()
	deleted := o.close(ctx)
	out := w.Grow(60)
	binary.LittleEndian.PutUint16(out, 60)
	if flags&closePostQueryAttrib == 0 || deleted {
		return
	}
	a, err := r.Conn.srv.fs.GetAttr(ctx, o.h)
	if err != nil {
		return // removed meanwhile: the attributes stay zero
	}
	binary.LittleEndian.PutUint16(out[2:], closePostQueryAttrib)
	putNetworkOpen(out[8:], &a)
}

// serveFlush makes what was written through an open durable. It needs
// write access; flushing a directory has nothing to do.
func serveFlush(w *Response, r *Request) {
	b := r.Body
	if len(b) < 24 || binary.LittleEndian.Uint16(b) != 24 {
		w.Error(StatusInvalidParameter)
		return
	}
	o, st := r.openOf(b[8:24])
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	if !o.may(fileWriteData | fileAppendData) {
		w.Error(StatusAccessDenied)
		return
	}
	if _, err := r.Conn.srv.fs.Commit(r.Context(), r.Caller(), o.h, 0, 0); err != nil && !errors.Is(err, fs.ErrIsDir) {
		w.Error(StatusOf(err))
		return
	}
	out := w.Grow(4)
	binary.LittleEndian.PutUint16(out, 4)
}
