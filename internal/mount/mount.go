// Package mount is the MOUNT protocol (RFC 1813 appendix I, ONC RPC
// program 100005) that NFSv3 clients use before NFS itself.
//
// NFS names files by handle only, so a client needs a first handle, the
// root of an exported tree, to begin: MNT turns an export path ("/export",
// or "/" and any share name) into that handle and the authentication
// flavors the server accepts. The server also keeps an advisory list of who
// mounted what (DUMP, cleared by UMNT and UMNTALL) and publishes its export
// list (EXPORT, what `showmount -e` prints). The list is advisory only:
// NFSv3 is stateless, and a client that never calls MNT again keeps using
// its handle.
//
// Versions 1 and 2 share every procedure with version 3 except MNT, whose
// reply carries a fixed 32-byte handle for NFSv2; they are answered so that
// old tools (showmount) work, but the handle they return is useful only to
// NFSv3.
package mount

import (
	"context"
	"errors"
	"log/slog"
	"path"
	"strings"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
	"github.com/tandemfs/tandem/internal/rpcauth"
)

// The RPC program served, versions Version1 through Version3.
const (
	Program  = 100005
	Version1 = 1
	Version3 = 3
)

// Procedure numbers, the same in every version.
const (
	ProcNull    = 0
	ProcMnt     = 1
	ProcDump    = 2
	ProcUmnt    = 3
	ProcUmntAll = 4
	ProcExport  = 5
)

// Protocol limits: MNTPATHLEN, MNTNAMLEN, and FHSIZE of version 1.
const (
	maxPathLen = 1024
	maxNameLen = 255
	fhSizeV1   = 32
)

// Status is a mountstat3 (in versions 1 and 2, an errno of the same value).
type Status uint32

// The mountstat3 values.
const (
	StatusOK          Status = 0
	StatusPerm        Status = 1
	StatusNoEnt       Status = 2
	StatusIO          Status = 5
	StatusAccess      Status = 13
	StatusNotDir      Status = 20
	StatusInval       Status = 22
	StatusNameTooLong Status = 63
	StatusNotSupp     Status = 10004
	StatusServerFault Status = 10006
)

// statusOf maps the errors MNT can meet to mountstat3.
func statusOf(err error) Status {
	var fe fs.Error
	if !errors.As(err, &fe) {
		return StatusServerFault
	}
	switch fe {
	case fs.ErrAccess:
		return StatusAccess
	case fs.ErrPerm:
		return StatusPerm
	case fs.ErrNotExist, fs.ErrStale, fs.ErrBadHandle:
		return StatusNoEnt
	case fs.ErrNotDir:
		return StatusNotDir
	case fs.ErrIO:
		return StatusIO
	case fs.ErrInval:
		return StatusInval
	case fs.ErrNameTooLong:
		return StatusNameTooLong
	}
	return StatusServerFault
}

// Options configure a Handler. The zero value is usable.
type Options struct {
	// Logger receives unexpected failures. Nil means slog.Default().
	Logger *slog.Logger
}

// Handler serves MOUNT calls. It implements rpc.Handler and is safe for
// concurrent use.
type Handler struct {
	fs     *fs.FS
	log    *slog.Logger
	mounts mountList
}

// New returns a Handler exporting the shares of fsys.
func New(fsys *fs.FS, opt Options) *Handler {
	h := &Handler{fs: fsys, log: opt.Logger}
	if h.log == nil {
		h.log = slog.Default()
	}
	return h
}

// ServeRPC decodes one MOUNT call, runs it and encodes its results.
func (h *Handler) ServeRPC(ctx context.Context, c *rpc.Call, w *xdr.Writer) error {
	switch c.Proc {
	case ProcNull:
		return nil
	case ProcMnt:
		return h.mnt(ctx, c, w)
	case ProcDump:
		h.dump(w)
		return nil
	case ProcUmnt:
		p := c.Args.String(maxPathLen)
		if c.Args.Err() != nil {
			return rpc.ErrGarbageArgs
		}
		if name, ok := shareName(p); ok {
			h.mounts.remove(hostOf(c), "/"+name)
		}
		return nil
	case ProcUmntAll:
		h.mounts.removeHost(hostOf(c))
		return nil
	case ProcExport:
		h.export(w)
		return nil
	}
	return rpc.ErrProcUnavail
}

// authFlavors are the flavors MNT offers the client, preferred first.
var authFlavors = [...]uint32{rpc.AuthSys, rpc.AuthNone}

// mnt is MNT: an export path to its root handle.
func (h *Handler) mnt(ctx context.Context, c *rpc.Call, w *xdr.Writer) error {
	p := c.Args.String(maxPathLen)
	if c.Args.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	var cl fs.Caller
	if err := rpcauth.Caller(c, &cl); err != nil {
		return err
	}

	st := StatusNoEnt
	var root fs.Handle
	if name, ok := shareName(p); ok {
		var found bool
		if root, _, found = h.fs.Share(name); found {
			st = StatusOK
			if err := h.fs.CheckClient(root, &cl); err != nil {
				st = statusOf(err)
				if st == StatusServerFault {
					h.log.LogAttrs(ctx, slog.LevelError, "mount: unexpected error",
						slog.String("path", p), slog.Any("err", err))
				}
			} else {
				h.mounts.add(hostOf(c), "/"+name)
			}
		}
	}
	w.Uint32(uint32(st))
	if st != StatusOK {
		return nil
	}
	fh := root.Bytes()
	if c.Vers < Version3 {
		var fixed [fhSizeV1]byte
		copy(fixed[:], fh)
		w.FixedOpaque(fixed[:])
		return nil
	}
	w.Opaque(fh)
	w.Uint32(uint32(len(authFlavors)))
	for _, f := range authFlavors {
		w.Uint32(f)
	}
	return nil
}

// dump is DUMP: the mount list, as a linked list of (host, path).
func (h *Handler) dump(w *xdr.Writer) {
	for _, m := range h.mounts.list() {
		w.Bool(true)
		w.String(m.Host)
		w.String(m.Path)
	}
	w.Bool(false)
}

// export is EXPORT: every share with the networks allowed to mount it;
// an empty group list means everyone.
func (h *Handler) export(w *xdr.Writer) {
	for _, s := range h.fs.Shares() {
		w.Bool(true)
		w.String("/" + s.Name)
		for _, p := range s.Clients {
			w.Bool(true)
			w.String(p.String())
		}
		w.Bool(false)
	}
	w.Bool(false)
}

// shareName turns an export path into a share name: "/export",
// "/export/" and "//export" all name the share "export". Paths below a
// share's root are not exported.
func shareName(p string) (string, bool) {
	if !strings.HasPrefix(p, "/") {
		return "", false
	}
	name := path.Clean(p)[1:]
	if name == "" || strings.Contains(name, "/") {
		return "", false
	}
	return name, true
}

// hostOf names the client in the mount list: its address, which unlike
// the AUTH_SYS machine name it cannot choose; the machine name only when
// there is no address.
func hostOf(c *rpc.Call) string {
	if a := rpc.IPOf(c.RemoteAddr); a.IsValid() {
		return a.String()
	}
	if n := c.Cred.MachineName; len(n) <= maxNameLen {
		return n
	}
	return ""
}
