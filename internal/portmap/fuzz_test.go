package portmap

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// Any arguments to any procedure of any version must be answered with
// results or an RPC-level error, never a panic, and results must decode.
func FuzzPortmapArgs(f *testing.F) {
	enc := func(fn func(*xdr.Writer)) []byte {
		w := xdr.NewWriter(nil)
		fn(w)
		return w.Bytes()
	}
	f.Add(uint32(2), uint32(pmapGetport), enc(func(w *xdr.Writer) { w.Uint32(100003); w.Uint32(3); w.Uint32(6); w.Uint32(0) }), false)
	f.Add(uint32(2), uint32(pmapDump), []byte{}, false)
	f.Add(uint32(2), uint32(pmapCallit), []byte{1, 2, 3}, false)
	f.Add(uint32(3), uint32(rpcbGetaddr), enc(rpcbArgs(100003, 3, "tcp")), false)
	f.Add(uint32(4), uint32(rpcbGetversaddr), enc(rpcbArgs(100005, 3, "tcp6")), true)
	f.Add(uint32(4), uint32(rpcbGetaddr), enc(rpcbArgs(100003, 1, "")), true)
	f.Add(uint32(4), uint32(rpcbDump), []byte{}, true)
	f.Add(uint32(3), uint32(rpcbSet), enc(func(w *xdr.Writer) { w.Uint32(1); w.Uint32(1); w.Uint32(0xffffffff) }), false)
	svc := New()
	svc.Set([]Mapping{
		{Prog: 100003, Vers: 3, Prot: ProtTCP, Port: 2049},
		{Prog: 100003, Vers: 3, Prot: ProtUDP, Port: 2049},
		{Prog: 100005, Vers: 3, Prot: ProtTCP, Port: 20048, Netid: "tcp6", Addr: "::1.78.80"},
		{Prog: 100005, Vers: 1, Prot: ProtTCP, Port: 20048},
	})
	f.Fuzz(func(t *testing.T, vers, proc uint32, args []byte, v6 bool) {
		var local net.Addr = &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 111}
		if v6 {
			local = &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 111}
		}
		c := &rpc.Call{Prog: Prog, Vers: vers, Proc: proc, Args: xdr.NewReader(args), Network: "udp", LocalAddr: local}
		w := xdr.NewWriter(nil)
		err := svc.ServeRPC(context.Background(), c, w)
		if err != nil {
			if !errors.Is(err, rpc.ErrGarbageArgs) && !errors.Is(err, rpc.ErrProcUnavail) && !errors.Is(err, rpc.ErrDrop) {
				t.Fatalf("vers %d proc %d: %v", vers, proc, err)
			}
			return
		}
		if c.Args.Err() != nil {
			t.Fatalf("vers %d proc %d: results after bad arguments: %v", vers, proc, c.Args.Err())
		}
		r := xdr.NewReader(w.Bytes())
		switch {
		case proc == procNull:
		case vers == 2 && (proc == pmapSet || proc == pmapUnset), vers > 2 && (proc == rpcbSet || proc == rpcbUnset):
			if r.Bool() {
				t.Fatal("SET/UNSET answered true")
			}
		case vers == 2 && proc == pmapGetport, vers > 2 && proc == rpcbGettime:
			r.Uint32()
		case vers == 2 && proc == pmapDump:
			for r.Bool() {
				r.Uint64()
				r.Uint64()
			}
		case proc == rpcbGetaddr, proc == rpcbGetversaddr:
			r.String(maxUaddr)
		case proc == rpcbDump:
			for r.Bool() {
				r.Uint64()
				r.String(maxNetid)
				r.String(maxUaddr)
				r.String(maxOwner)
			}
		default:
			t.Fatalf("vers %d proc %d answered", vers, proc)
		}
		if r.Err() != nil || r.Remaining() != 0 {
			t.Fatalf("vers %d proc %d: malformed results % x", vers, proc, w.Bytes())
		}
	})
}
