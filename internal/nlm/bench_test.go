package nlm

import (
	"context"
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

// BenchmarkLockUnlock is the server's side of one LOCK and one UNLOCK,
// without the network: decoding, the file check, the lock manager,
// encoding.
func BenchmarkLockUnlock(b *testing.B) {
	fsys, err := fs.New(metamem.New(), contentmem.New(), fs.Options{})
	if err != nil {
		b.Fatal(err)
	}
	root, err := fsys.AddShare(context.Background(), fs.ShareConfig{Name: "export"})
	if err != nil {
		b.Fatal(err)
	}
	fh, _, _, err := fsys.Create(context.Background(), &fs.Caller{}, root, "f", fs.CreateHow{})
	if err != nil {
		b.Fatal(err)
	}
	h := New(fsys, lock.New(lock.Config{}), Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer h.Close()
	alock := func(w *xdr.Writer) {
		w.String("client")
		w.Opaque(fh.Bytes())
		w.Opaque([]byte("1@client"))
		w.Uint32(1)
		w.Uint64(100)
		w.Uint64(10)
	}
	lw := xdr.NewWriter(nil)
	lw.Opaque([]byte("cookie"))
	lw.Bool(false)
	lw.Bool(true)
	alock(lw)
	lw.Bool(false)
	lw.Int32(1)
	uw := xdr.NewWriter(nil)
	uw.Opaque([]byte("cookie"))
	alock(uw)
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 700}
	c := &rpc.Call{Prog: Program, Vers: 4, Network: "tcp", LocalAddr: addr, RemoteAddr: addr, Cred: rpc.Cred{Flavor: rpc.AuthSys}}
	var r xdr.Reader
	var w xdr.Writer
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		for _, a := range []struct {
			proc uint32
			args []byte
		}{{ProcLock, lw.Bytes()}, {ProcUnlock, uw.Bytes()}} {
			r.Reset(a.args)
			c.Proc, c.Args = a.proc, &r
			w.Reset()
			if err := h.ServeRPC(ctx, c, &w); err != nil {
				b.Fatal(err)
			}
			if st := w.Bytes()[len(w.Bytes())-1]; st != 0 {
				b.Fatalf("proc %d: stat %d", a.proc, st)
			}
		}
	}
}
