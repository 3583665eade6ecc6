package nfs3

import (
	"context"
	"encoding/binary"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// readTail is what READ3resok holds between its post_op_attr and the
// data: count, eof and the data's length.
const readTail = 12

// read is READ. The data is read straight into the reply: room for the
// header and count bytes is reserved in w, fs.Read fills it, and the
// header (whose attributes come from the same call) is written in front.
func (h *Handler) read(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer) error {
	var a ioArgs
	a.decode(r)
	if r.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	fh, err := parseFH(a.fh)
	if err != nil {
		writeStatus(w, statusOf(err))
		w.Bool(false)
		return h.fail(ctx, ProcRead, err)
	}
	count := int(min(a.count, h.maxRead))
	in, err := h.cross.read(fh, a.offset, count)
	if err != nil {
		writeStatus(w, statusOf(err))
		w.Bool(false)
		return h.fail(ctx, ProcRead, err)
	}
	start := reserveDeferred(w)
	dataOff := w.Reserve(readTail+count+3) + readTail
	n, eof, attr, err := h.fs.Read(ctx, cl, fh, a.offset, w.Bytes()[dataOff:dataOff+count])
	h.cross.end(&in)
	if err != nil {
		w.Truncate(start)
		writeStatus(w, statusOf(err))
		writePostOpAttr(w, &attr)
		return h.fail(ctx, ProcRead, err)
	}
	n = max(0, min(n, count))
	b := w.Bytes()
	end := dataOff + n
	p := end + (4-n&3)&3
	clear(b[end:p]) // XDR padding; fs may have used the whole buffer
	tail := start + deferredHdr
	binary.BigEndian.PutUint32(b[tail:], uint32(n))
	var e uint32
	if eof {
		e = 1
	}
	binary.BigEndian.PutUint32(b[tail+4:], e)
	binary.BigEndian.PutUint32(b[tail+8:], uint32(n))
	w.Truncate(p)
	finishDeferred(w, start, &attr)
	return nil
}

// write is WRITE. A count that disagrees with the data sent is
// NFS3ERR_INVAL; more than MaxWrite bytes are written short, which the
// client sees in the returned count and continues from.
func (h *Handler) write(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer) error {
	var a writeArgs
	a.decode(r)
	if r.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	var (
		n      int
		stable fs.Stability
		wcc    fs.Wcc
	)
	fh, err := parseFH(a.fh)
	if err == nil && int64(a.count) != int64(len(a.data)) {
		err = fs.ErrInval
	}
	if err == nil {
		data := a.data
		if len(data) > int(h.maxWrite) {
			data = data[:h.maxWrite]
		}
		var in lock.Intent
		if in, err = h.cross.write(fh, a.offset, len(data)); err == nil {
			n, stable, wcc, err = h.fs.Write(ctx, cl, fh, a.offset, data, a.stable)
			h.cross.end(&in)
		}
	}
	writeStatus(w, statusOf(err))
	writeWcc(w, &wcc)
	if err != nil {
		return h.fail(ctx, ProcWrite, err)
	}
	w.Uint32(uint32(n))
	w.Uint32(uint32(stable))
	verf := h.fs.WriteVerifier()
	w.FixedOpaque(verf[:])
	return nil
}

// commit is COMMIT. The verifier lets the client detect a restart since
// its UNSTABLE writes, after which it must send them again.
func (h *Handler) commit(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer) error {
	var a ioArgs
	a.decode(r)
	if r.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	var wcc fs.Wcc
	fh, err := parseFH(a.fh)
	if err == nil {
		wcc, err = h.fs.Commit(ctx, cl, fh, a.offset, uint64(a.count))
	}
	writeStatus(w, statusOf(err))
	writeWcc(w, &wcc)
	if err != nil {
		return h.fail(ctx, ProcCommit, err)
	}
	verf := h.fs.WriteVerifier()
	w.FixedOpaque(verf[:])
	return nil
}
