package nfs3

import (
	"context"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// lookup is LOOKUP: a name in a directory to a handle, with the
// attributes of both, so that a client walking a path needs one call per
// component.
func (h *Handler) lookup(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer) error {
	var a diropArgs
	a.decode(r)
	if r.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	var (
		obj          fs.Handle
		oattr, dattr fs.Attr
	)
	dir, err := parseFH(a.dir)
	if err == nil {
		obj, oattr, dattr, err = h.fs.Lookup(ctx, cl, dir, a.name)
	}
	if err == nil && h.settle(obj) {
		if at, aerr := h.fs.GetAttr(ctx, obj); aerr == nil {
			oattr = at
		}
	}
	writeStatus(w, statusOf(err))
	if err != nil {
		writePostOpAttr(w, &dattr)
		return h.fail(ctx, ProcLookup, err)
	}
	writeFH(w, obj)
	writePostOpAttr(w, &oattr)
	writePostOpAttr(w, &dattr)
	return nil
}

// readlink is READLINK.
func (h *Handler) readlink(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer) error {
	fhb := decodeFH(r)
	if r.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	var (
		target string
		attr   fs.Attr
	)
	fh, err := parseFH(fhb)
	if err == nil {
		target, attr, err = h.fs.ReadLink(ctx, cl, fh)
	}
	writeStatus(w, statusOf(err))
	writePostOpAttr(w, &attr)
	if err != nil {
		return h.fail(ctx, ProcReadLink, err)
	}
	w.String(target)
	return nil
}
