package nfs3

import (
	"context"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// getattr is GETATTR. fs.GetAttr takes no caller, so the export's client
// networks are checked here; attributes are otherwise readable by anyone
// who holds the handle, as in every NFSv3 server.
func (h *Handler) getattr(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer) error {
	fhb := decodeFH(r)
	if r.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	a, err := h.attrOf(ctx, fhb, cl)
	if err != nil {
		writeStatus(w, statusOf(err))
		return h.fail(ctx, ProcGetAttr, err)
	}
	writeStatus(w, StatusOK)
	writeFattr3(w, &a)
	return nil
}

// attrOf parses a handle, checks that the caller may use its share and
// returns its attributes, for the procedures whose fs call has no caller.
func (h *Handler) attrOf(ctx context.Context, fhb []byte, cl *fs.Caller) (fs.Attr, error) {
	fh, err := h.checkFH(fhb, cl)
	if err != nil {
		return fs.Attr{}, err
	}
	h.settle(fh)
	return h.fs.GetAttr(ctx, fh)
}

// checkFH parses a handle and checks the caller against its share's
// client networks.
func (h *Handler) checkFH(fhb []byte, cl *fs.Caller) (fs.Handle, error) {
	fh, err := parseFH(fhb)
	if err != nil {
		return fh, err
	}
	return fh, h.fs.CheckClient(fh, cl)
}

// setattr is SETATTR; a guard makes it conditional on the file's ctime
// (NFS3ERR_NOT_SYNC when it moved), so that a retransmitted truncate does
// not destroy data written since.
func (h *Handler) setattr(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer) error {
	var a setattrArgs
	a.decode(r)
	if r.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	var wcc fs.Wcc
	fh, err := parseFH(a.fh)
	if err == nil {
		var guard *int64
		if a.guard {
			guard = &a.guardCtime
		}
		var in lock.Intent
		if in, err = h.cross.setattr(fh, &a.attr); err == nil {
			wcc, err = h.fs.SetAttr(ctx, cl, fh, a.attr, guard)
			h.cross.end(&in)
		}
	}
	writeStatus(w, statusOf(err))
	writeWcc(w, &wcc)
	if err != nil {
		return h.fail(ctx, ProcSetAttr, err)
	}
	return nil
}

// access is ACCESS: which of the asked rights the caller has, decided by
// the server so that ACLs, squashing and SMB share modes count.
func (h *Handler) access(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer) error {
	var a accessArgs
	a.decode(r)
	if r.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	var (
		granted uint32
		attr    fs.Attr
	)
	fh, err := parseFH(a.fh)
	if err == nil {
		granted, attr, err = h.fs.Access(ctx, cl, fh, a.access)
	}
	writeStatus(w, statusOf(err))
	writePostOpAttr(w, &attr)
	if err != nil {
		return h.fail(ctx, ProcAccess, err)
	}
	w.Uint32(granted & a.access)
	return nil
}
