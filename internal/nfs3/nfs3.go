// Package nfs3 is the NFS version 3 server (RFC 1813, ONC RPC program
// 100003 version 3) over Tandem's protocol-neutral file system.
//
// NFSv3 is stateless: every call names its file by an opaque file handle
// (fs.Handle in wire form) and carries the caller's AUTH_SYS identity, so a
// request is decoded, turned into one fs call and encoded back, with
// nothing kept between calls. What makes the protocol more than a thin
// wrapper is what each reply must carry besides the answer:
//
//   - Attributes. Most replies carry post-operation attributes
//     (post_op_attr) of the file they touched, and operations that change a
//     directory or file carry weak cache consistency data (wcc_data): a
//     small "before" snapshot (size, mtime, ctime) and full "after"
//     attributes, which let a client tell whether its cache is still good
//     without another GETATTR. They are sent on failures too, so a client
//     learns the current state even when its request was refused.
//   - Write stability. WRITE may be UNSTABLE (the server may keep the data
//     in memory) until a COMMIT; the write verifier, which changes whenever
//     the server restarts, tells the client its uncommitted data may be lost
//     and must be sent again.
//   - Size limits. READ, READDIR and READDIRPLUS give a byte budget for the
//     reply; the server stops listing when the next entry would overflow it
//     and the client continues from the last cookie.
//
// NFS has no opens and its NLM locks are advisory, but SMB clients of the
// same files lock and open with share modes that Windows enforces. Given
// the lock manager SMB uses (Options.Locks), the handler honours them:
// READ, WRITE, SETATTR of the size, REMOVE, RMDIR and RENAME that an SMB
// lock or share mode forbids, and RENAME of a directory with SMB opens
// below it, answer NFS3ERR_ACCES (crossproto.go), unless the share's
// locking is unix (lock.Locking), where only SMB caching is broken.
//
// Every fs error becomes an nfsstat3 through the one table in status.go.
// Malformed arguments answer the RPC-level GARBAGE_ARGS, unknown procedures
// PROC_UNAVAIL; nothing a client sends can make a handler panic.
package nfs3

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
	"github.com/tandemfs/tandem/internal/rpcauth"
)

// The RPC program served.
const (
	Program = 100003
	Version = 3
)

// Procedure numbers.
const (
	ProcNull        = 0
	ProcGetAttr     = 1
	ProcSetAttr     = 2
	ProcLookup      = 3
	ProcAccess      = 4
	ProcReadLink    = 5
	ProcRead        = 6
	ProcWrite       = 7
	ProcCreate      = 8
	ProcMkdir       = 9
	ProcSymlink     = 10
	ProcMknod       = 11
	ProcRemove      = 12
	ProcRmdir       = 13
	ProcRename      = 14
	ProcLink        = 15
	ProcReadDir     = 16
	ProcReadDirPlus = 17
	ProcFSStat      = 18
	ProcFSInfo      = 19
	ProcPathConf    = 20
	ProcCommit      = 21

	numProcs = 22
)

var procNames = [numProcs]string{
	"NULL", "GETATTR", "SETATTR", "LOOKUP", "ACCESS", "READLINK", "READ",
	"WRITE", "CREATE", "MKDIR", "SYMLINK", "MKNOD", "REMOVE", "RMDIR",
	"RENAME", "LINK", "READDIR", "READDIRPLUS", "FSSTAT", "FSINFO",
	"PATHCONF", "COMMIT",
}

// Defaults for Options.
const (
	DefaultMaxRead  = 1 << 20
	DefaultMaxWrite = 1 << 20
	DefaultDirPref  = 64 << 10
)

// Options configure a Handler. The zero value is usable.
type Options struct {
	// Logger receives unexpected failures (errors outside the fs
	// vocabulary). Nil means slog.Default().
	Logger *slog.Logger
	// MaxRead and MaxWrite bound the data of one READ and WRITE and are
	// what FSINFO advertises as rtmax/rtpref and wtmax/wtpref. MaxRead also
	// bounds the size of a READDIR or READDIRPLUS reply. Zero means 1 MiB.
	MaxRead, MaxWrite uint32
	// DirPref is FSINFO's dtpref, the preferred READDIR size. Zero means
	// 64 KiB (or MaxRead if that is smaller).
	DirPref uint32
	// Locks is the unified lock manager, whose SMB caching grants READ
	// and WRITE break first (caching.go) and whose SMB byte-range locks
	// and share modes then bind them (crossGuard); nil means none.
	// Notices receives the breaks to send. BreakWait bounds how long a
	// request waits for them inline (zero: 1 s) before NFS3ERR_JUKEBOX;
	// BreakTimeout is when an unacknowledged break is revoked (zero:
	// lock.DefaultBreakTimeout).
	Locks                   *lock.Manager
	Notices                 func([]lock.Notice)
	BreakWait, BreakTimeout time.Duration
}

// Handler serves NFSv3 calls. It implements rpc.Handler and is safe for
// concurrent use.
type Handler struct {
	fs       *fs.FS
	log      *slog.Logger
	cross    crossGuard
	maxRead  uint32
	maxWrite uint32
	dirPref  uint32

	locks                   *lock.Manager
	notices                 func([]lock.Notice)
	breakWait, breakTimeout time.Duration
}

// New returns a Handler serving fsys.
func New(fsys *fs.FS, opt Options) *Handler {
	h := &Handler{
		fs:       fsys,
		log:      opt.Logger,
		maxRead:  opt.MaxRead,
		maxWrite: opt.MaxWrite,
		dirPref:  opt.DirPref,

		locks:        opt.Locks,
		notices:      opt.Notices,
		breakWait:    opt.BreakWait,
		breakTimeout: opt.BreakTimeout,
	}
	if h.breakWait == 0 {
		h.breakWait = defaultBreakWait
	}
	if h.breakTimeout == 0 {
		h.breakTimeout = lock.DefaultBreakTimeout
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.maxRead == 0 {
		h.maxRead = DefaultMaxRead
	}
	if h.maxWrite == 0 {
		h.maxWrite = DefaultMaxWrite
	}
	if h.dirPref == 0 {
		h.dirPref = DefaultDirPref
	}
	h.dirPref = min(h.dirPref, h.maxRead)
	h.cross = crossGuard{locks: opt.Locks, fs: fsys, contend: h.contend, contendKeys: h.contendKeys, route: h.route}
	return h
}

// ServeRPC decodes one NFSv3 call, runs it and encodes its results.
func (h *Handler) ServeRPC(ctx context.Context, c *rpc.Call, w *xdr.Writer) error {
	if c.Proc == ProcNull {
		return nil
	}
	if c.Proc >= numProcs {
		return rpc.ErrProcUnavail
	}
	var cl fs.Caller
	if err := rpcauth.Caller(c, &cl); err != nil {
		return err
	}
	r := c.Args
	var err error
	switch c.Proc {
	case ProcGetAttr:
		err = h.getattr(ctx, r, &cl, w)
	case ProcSetAttr:
		err = h.setattr(ctx, r, &cl, w)
	case ProcLookup:
		err = h.lookup(ctx, r, &cl, w)
	case ProcAccess:
		err = h.access(ctx, r, &cl, w)
	case ProcReadLink:
		err = h.readlink(ctx, r, &cl, w)
	case ProcRead:
		err = h.read(ctx, r, &cl, w)
	case ProcWrite:
		err = h.write(ctx, r, &cl, w)
	case ProcCreate:
		err = h.create(ctx, r, &cl, w)
	case ProcMkdir:
		err = h.mkdir(ctx, r, &cl, w)
	case ProcSymlink:
		err = h.symlink(ctx, r, &cl, w)
	case ProcMknod:
		err = h.mknod(ctx, r, &cl, w)
	case ProcRemove:
		err = h.remove(ctx, r, &cl, w)
	case ProcRmdir:
		err = h.rmdir(ctx, r, &cl, w)
	case ProcRename:
		err = h.rename(ctx, r, &cl, w)
	case ProcLink:
		err = h.link(ctx, r, &cl, w)
	case ProcReadDir:
		err = h.readdir(ctx, r, &cl, w, false)
	case ProcReadDirPlus:
		err = h.readdir(ctx, r, &cl, w, true)
	case ProcFSStat:
		err = h.fsstat(ctx, r, &cl, w)
	case ProcFSInfo:
		err = h.fsinfo(ctx, r, &cl, w)
	case ProcPathConf:
		err = h.pathconf(ctx, r, &cl, w)
	case ProcCommit:
		err = h.commit(ctx, r, &cl, w)
	}
	return err
}

// fail ends a procedure whose fs call returned err after its reply has
// been written with the mapped status. A cancelled context means the
// connection or the server is going away: no reply is better than a wrong
// one, and the client retransmits.
func (h *Handler) fail(ctx context.Context, proc uint32, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return rpc.ErrDrop
	}
	var fe fs.Error
	if !errors.As(err, &fe) {
		h.log.LogAttrs(ctx, slog.LevelError, "nfs3: unexpected error",
			slog.String("proc", procNames[proc]), slog.Any("err", err))
	}
	return nil
}
