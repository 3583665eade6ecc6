package nfs3

import (
	"context"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// FSINFO properties.
const (
	fsfLink        = 0x0001
	fsfSymlink     = 0x0002
	fsfHomogeneous = 0x0008
	fsfCanSetTime  = 0x0010
)

// rtmult and wtmult: the client's I/O is best aligned to a page.
const ioMult = 4096

// fsstat is FSSTAT: capacity and file counts, which change all the time
// (invarsec 0: the client should not cache them).
func (h *Handler) fsstat(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer) error {
	fhb := decodeFH(r)
	if r.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	var (
		st   fs.FSStat
		attr fs.Attr
	)
	fh, err := h.checkFH(fhb, cl)
	if err == nil {
		st, attr, err = h.fs.StatFS(ctx, fh)
	}
	writeStatus(w, statusOf(err))
	writePostOpAttr(w, &attr)
	if err != nil {
		return h.fail(ctx, ProcFSStat, err)
	}
	w.Uint64(st.TotalBytes)
	w.Uint64(st.FreeBytes)
	w.Uint64(st.AvailBytes)
	w.Uint64(st.TotalFiles)
	w.Uint64(st.FreeFiles)
	w.Uint64(st.AvailFiles)
	w.Uint32(0) // invarsec
	return nil
}

// fsinfo is FSINFO: the server's fixed limits and preferences, which the
// client reads once at mount time to size its I/O.
func (h *Handler) fsinfo(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer) error {
	fhb := decodeFH(r)
	if r.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	attr, err := h.attrOf(ctx, fhb, cl)
	writeStatus(w, statusOf(err))
	writePostOpAttr(w, &attr)
	if err != nil {
		return h.fail(ctx, ProcFSInfo, err)
	}
	w.Uint32(h.maxRead) // rtmax
	w.Uint32(h.maxRead) // rtpref
	w.Uint32(ioMult)    // rtmult
	w.Uint32(h.maxWrite)
	w.Uint32(h.maxWrite)
	w.Uint32(ioMult)
	w.Uint32(h.dirPref)
	w.Uint64(fs.MaxFileSize)
	w.Uint32(0) // time_delta: nanosecond timestamps
	w.Uint32(1)
	w.Uint32(fsfLink | fsfSymlink | fsfHomogeneous | fsfCanSetTime)
	return nil
}

// pathconf is PATHCONF: the POSIX limits, the same for every file.
func (h *Handler) pathconf(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer) error {
	fhb := decodeFH(r)
	if r.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	attr, err := h.attrOf(ctx, fhb, cl)
	writeStatus(w, statusOf(err))
	writePostOpAttr(w, &attr)
	if err != nil {
		return h.fail(ctx, ProcPathConf, err)
	}
	w.Uint32(fs.MaxLinks)
	w.Uint32(fs.MaxNameLen)
	w.Bool(true)  // no_trunc: long names are refused, not cut
	w.Bool(true)  // chown_restricted
	w.Bool(false) // case_insensitive
	w.Bool(true)  // case_preserving
	return nil
}
