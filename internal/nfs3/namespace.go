package nfs3

import (
	"context"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// The procedures that change a directory. Each replies with the
// directory's wcc_data whether it succeeded or not; the four that make a
// file (CREATE, MKDIR, SYMLINK, MKNOD) share one reply shape, diropres3.

// writeDirOpRes writes a CREATE/MKDIR/SYMLINK/MKNOD reply.
func (h *Handler) writeDirOpRes(ctx context.Context, w *xdr.Writer, proc uint32, obj fs.Handle, attr *fs.Attr, wcc *fs.Wcc, err error) error {
	writeStatus(w, statusOf(err))
	if err != nil {
		writeWcc(w, wcc)
		return h.fail(ctx, proc, err)
	}
	writePostOpFH(w, obj)
	writePostOpAttr(w, attr)
	writeWcc(w, wcc)
	return nil
}

// create is CREATE. UNCHECKED and GUARDED carry initial attributes;
// EXCLUSIVE carries a verifier that makes a retransmitted create succeed
// on the file it made the first time, and the client sets the attributes
// with a SETATTR afterwards.
func (h *Handler) create(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer) error {
	var a createArgs
	a.decode(r)
	if r.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	var (
		obj  fs.Handle
		attr fs.Attr
		wcc  fs.Wcc
	)
	dir, err := parseFH(a.where.dir)
	var in lock.Intent
	if err == nil {
		in, err = h.cross.create(ctx, cl, dir, a.where.name, &a.how)
	}
	if err == nil {
		obj, attr, wcc, err = h.fs.Create(ctx, cl, dir, a.where.name, a.how)
		h.cross.end(&in)
	}
	return h.writeDirOpRes(ctx, w, ProcCreate, obj, &attr, &wcc, err)
}

func (h *Handler) mkdir(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer) error {
	var a mkdirArgs
	a.decode(r)
	if r.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	var (
		obj  fs.Handle
		attr fs.Attr
		wcc  fs.Wcc
	)
	dir, err := parseFH(a.where.dir)
	if err == nil {
		obj, attr, wcc, err = h.fs.Mkdir(ctx, cl, dir, a.where.name, a.attr)
	}
	return h.writeDirOpRes(ctx, w, ProcMkdir, obj, &attr, &wcc, err)
}

func (h *Handler) symlink(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer) error {
	var a symlinkArgs
	a.decode(r)
	if r.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	var (
		obj  fs.Handle
		attr fs.Attr
		wcc  fs.Wcc
	)
	dir, err := parseFH(a.where.dir)
	if err == nil {
		obj, attr, wcc, err = h.fs.Symlink(ctx, cl, dir, a.where.name, a.target, a.attr)
	}
	return h.writeDirOpRes(ctx, w, ProcSymlink, obj, &attr, &wcc, err)
}

// mknod is MKNOD: devices, sockets and FIFOs. Regular files, directories
// and symlinks have their own procedures and are NFS3ERR_BADTYPE here.
func (h *Handler) mknod(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer) error {
	var a mknodArgs
	a.decode(r)
	if r.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	var (
		obj  fs.Handle
		attr fs.Attr
		wcc  fs.Wcc
	)
	dir, err := parseFH(a.where.dir)
	if err == nil && a.badType {
		err = fs.ErrBadType
	}
	if err == nil {
		obj, attr, wcc, err = h.fs.Mknod(ctx, cl, dir, a.where.name, a.typ, a.attr, a.major, a.minor)
	}
	return h.writeDirOpRes(ctx, w, ProcMknod, obj, &attr, &wcc, err)
}

func (h *Handler) remove(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer) error {
	return h.unlink(ctx, r, cl, w, ProcRemove)
}

func (h *Handler) rmdir(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer) error {
	return h.unlink(ctx, r, cl, w, ProcRmdir)
}

// unlink is REMOVE and RMDIR, which differ only in the fs call.
func (h *Handler) unlink(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer, proc uint32) error {
	var a diropArgs
	a.decode(r)
	if r.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	var wcc fs.Wcc
	dir, err := parseFH(a.dir)
	var hold held
	if err == nil {
		hold, err = h.cross.remove(ctx, cl, dir, a.name)
	}
	if err == nil {
		if proc == ProcRmdir {
			wcc, err = h.fs.Rmdir(ctx, cl, dir, a.name)
		} else {
			wcc, err = h.fs.Remove(ctx, cl, dir, a.name)
		}
		h.cross.release(&hold)
	}
	writeStatus(w, statusOf(err))
	writeWcc(w, &wcc)
	if err != nil {
		return h.fail(ctx, proc, err)
	}
	return nil
}

func (h *Handler) rename(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer) error {
	var a renameArgs
	a.decode(r)
	if r.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	var fromWcc, toWcc fs.Wcc
	from, err := parseFH(a.from.dir)
	var to fs.Handle
	if err == nil {
		to, err = parseFH(a.to.dir)
	}
	var hold held
	if err == nil {
		hold, err = h.cross.rename(ctx, cl, from, a.from.name, to, a.to.name)
	}
	if err == nil {
		fromWcc, toWcc, err = h.fs.Rename(ctx, cl, from, a.from.name, to, a.to.name)
		h.cross.release(&hold)
	}
	writeStatus(w, statusOf(err))
	writeWcc(w, &fromWcc)
	writeWcc(w, &toWcc)
	if err != nil {
		return h.fail(ctx, ProcRename, err)
	}
	return nil
}

func (h *Handler) link(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer) error {
	var a linkArgs
	a.decode(r)
	if r.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	var (
		attr fs.Attr
		wcc  fs.Wcc
	)
	fh, err := parseFH(a.fh)
	var dir fs.Handle
	if err == nil {
		dir, err = parseFH(a.link.dir)
	}
	if err == nil {
		attr, wcc, err = h.fs.Link(ctx, cl, fh, dir, a.link.name)
	}
	writeStatus(w, statusOf(err))
	writePostOpAttr(w, &attr)
	writeWcc(w, &wcc)
	if err != nil {
		return h.fail(ctx, ProcLink, err)
	}
	return nil
}
