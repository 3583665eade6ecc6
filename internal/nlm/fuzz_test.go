package nlm

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"

	contentmem "github.com/tandemfs/tandem/internal/content/memory"
	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
	metamem "github.com/tandemfs/tandem/internal/meta/memory"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// FuzzServe feeds arbitrary arguments to every procedure of every
// version. Nothing may panic, and every call ends in a result or an
// RPC-level error.
func FuzzServe(f *testing.F) {
	fsys, err := fs.New(metamem.New(), contentmem.New(), fs.Options{})
	if err != nil {
		f.Fatal(err)
	}
	root, err := fsys.AddShare(context.Background(), fs.ShareConfig{Name: "export"})
	if err != nil {
		f.Fatal(err)
	}
	fh, _, _, err := fsys.Create(context.Background(), &fs.Caller{}, root, "f", fs.CreateHow{})
	if err != nil {
		f.Fatal(err)
	}
	h := New(fsys, lock.New(lock.Config{Limits: lock.Limits{PerClient: 64, PerFile: 64, Total: 256}}), Options{
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		PortmapPort:  1, // callbacks find nothing
		GrantRetries: 1,
	})
	f.Cleanup(h.Close)

	seed := func(proc, vers byte, args func(*xdr.Writer)) {
		w := xdr.NewWriter(nil)
		args(w)
		f.Add(proc, vers, w.Bytes())
	}
	lk := func(w *xdr.Writer, v4 bool) {
		w.String("host")
		w.Opaque(fh.Bytes())
		w.Opaque([]byte("oh"))
		w.Uint32(7)
		if v4 {
			w.Uint64(0)
			w.Uint64(10)
		} else {
			w.Uint32(0)
			w.Uint32(10)
		}
	}
	for _, v := range []byte{1, 3, 4} {
		v4 := v == 4
		seed(ProcLock, v, func(w *xdr.Writer) {
			w.Opaque([]byte("c"))
			w.Bool(true)
			w.Bool(true)
			lk(w, v4)
			w.Bool(false)
			w.Int32(1)
		})
		seed(ProcTest, v, func(w *xdr.Writer) { w.Opaque([]byte("c")); w.Bool(true); lk(w, v4) })
		seed(ProcUnlock, v, func(w *xdr.Writer) { w.Opaque([]byte("c")); lk(w, v4) })
		seed(ProcCancel, v, func(w *xdr.Writer) { w.Opaque([]byte("c")); w.Bool(true); w.Bool(true); lk(w, v4) })
	}
	seed(ProcShare, 4, func(w *xdr.Writer) {
		w.Opaque([]byte("c"))
		w.String("host")
		w.Opaque(fh.Bytes())
		w.Opaque([]byte("oh"))
		w.Uint32(1)
		w.Uint32(3)
		w.Bool(false)
	})
	seed(ProcFreeAll, 4, func(w *xdr.Writer) { w.String("host"); w.Int32(3) })
	seed(ProcGrantedRes, 4, func(w *xdr.Writer) { w.Opaque([]byte("c")); w.Uint32(0) })

	remote := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 800}
	local := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2049}
	f.Fuzz(func(t *testing.T, proc, vers byte, args []byte) {
		c := &rpc.Call{
			Prog: Program, Vers: uint32(vers%5) | 1, Proc: uint32(proc % 25),
			Cred: rpc.Cred{Flavor: rpc.AuthSys}, Args: xdr.NewReader(args),
			Network: "udp", LocalAddr: local, RemoteAddr: remote,
		}
		if vers%5 == 4 {
			c.Vers = 4
		}
		var w xdr.Writer
		err := h.ServeRPC(context.Background(), c, &w)
		if err != nil && !errors.Is(err, rpc.ErrGarbageArgs) && !errors.Is(err, rpc.ErrProcUnavail) {
			t.Fatalf("proc %d vers %d: unexpected error %v", c.Proc, c.Vers, err)
		}
	})
}
