package nfs3

import (
	"context"
	"encoding/binary"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// readdir is READDIR and READDIRPLUS.
//
// The client bounds the reply: READDIR's count and READDIRPLUS's maxcount
// are the most bytes of the whole result (status included); READDIRPLUS's
// dircount bounds only the directory part of the entries (fileid, name and
// cookie), which a client sizes as if it had asked for a READDIR. Entries
// are encoded as fs lists them; the one that crosses a bound is backed out
// and listing stops, leaving eof false so that the client continues from
// the last cookie sent. When not even the first entry fits, the answer is
// NFS3ERR_TOOSMALL. The cookie verifier is the file system's: it rejects
// a stale one with NFS3ERR_BAD_COOKIE.
func (h *Handler) readdir(ctx context.Context, r *xdr.Reader, cl *fs.Caller, w *xdr.Writer, plus bool) error {
	proc := uint32(ProcReadDir)
	if plus {
		proc = ProcReadDirPlus
	}
	var a readdirArgs
	a.decode(r, plus)
	if r.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	dir, err := parseFH(a.fh)
	if err != nil {
		writeStatus(w, statusOf(err))
		w.Bool(false)
		return h.fail(ctx, proc, err)
	}

	start := reserveDeferred(w)
	verfOff := w.Reserve(8)
	// The budget counts the reply with attributes present; it can only be
	// shorter. The trailing 8 bytes are the end of the list and eof.
	limit := start + int(min(a.maxcount, h.maxRead)) - 8
	var (
		entries  int
		full     bool
		dirBytes uint64
	)
	dattr, verf, err := h.fs.ReadDir(ctx, cl, dir, a.cookie, a.verf, plus, func(e *fs.DirEntry) bool {
		mark := w.Len()
		w.Bool(true) // an entry follows
		w.Uint64(e.FileID)
		w.String(e.Name)
		w.Uint64(e.Cookie)
		dirBytes += uint64(w.Len() - mark)
		if plus {
			writePostOpAttr(w, &e.Attr)
			writePostOpFH(w, e.Handle)
		}
		// dircount is a hint about the client's directory cache; it never
		// stops the first entry, which only maxcount can refuse.
		if w.Len() > limit || (plus && entries > 0 && dirBytes > uint64(a.dircount)) {
			w.Truncate(mark)
			full = true
			return false
		}
		entries++
		return true
	})
	if err == nil && full && entries == 0 {
		err = fs.ErrTooSmall
	}
	if err != nil {
		w.Truncate(start)
		writeStatus(w, statusOf(err))
		writePostOpAttr(w, &dattr)
		return h.fail(ctx, proc, err)
	}
	w.Bool(false) // no more entries
	w.Bool(!full) // eof
	binary.BigEndian.PutUint64(w.Bytes()[verfOff:], verf)
	finishDeferred(w, start, &dattr)
	return nil
}
