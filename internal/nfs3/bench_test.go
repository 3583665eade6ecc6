package nfs3

import (
	"context"
	"net"
	"testing"

	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// benchCall serves one call repeatedly with a reused reply buffer, as the
// RPC server does.
func benchCall(b *testing.B, e *env, proc uint32, enc func(w *xdr.Writer)) {
	aw := xdr.NewWriter(nil)
	enc(aw)
	args := aw.Bytes()
	var r xdr.Reader
	c := &rpc.Call{Prog: Program, Vers: Version, Proc: proc, Cred: credUser, Args: &r,
		RemoteAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 700}}
	w := xdr.NewWriter(make([]byte, 0, 2<<20))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(args)
		w.Reset()
		if err := e.h.ServeRPC(ctx, c, w); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetAttr(b *testing.B) {
	e := newEnv(b, Options{})
	benchCall(b, e, ProcGetAttr, fhArg(e.root))
}

func BenchmarkRead64K(b *testing.B) {
	e := newEnv(b, Options{})
	f := e.create(credUser, e.root, "f", 0644)
	e.writeFile(credUser, f, 0, make([]byte, 64<<10))
	b.SetBytes(64 << 10)
	benchCall(b, e, ProcRead, readArgs(f, 0, 64<<10))
}

func BenchmarkWrite64K(b *testing.B) {
	e := newEnv(b, Options{})
	f := e.create(credUser, e.root, "f", 0644)
	b.SetBytes(64 << 10)
	benchCall(b, e, ProcWrite, writeArgsOf(f, 0, 64<<10, 0, make([]byte, 64<<10)))
}

func BenchmarkLookup(b *testing.B) {
	e := newEnv(b, Options{})
	e.create(credUser, e.root, "f", 0644)
	benchCall(b, e, ProcLookup, diropArg(e.root, "f"))
}
