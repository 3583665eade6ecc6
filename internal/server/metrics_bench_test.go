package server

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandemfs/tandem/internal/nfs3"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
	"github.com/tandemfs/tandem/internal/smb"
)

// BenchmarkRPCMetrics is the cost the metrics add to one NFS WRITE: the
// wrapper around a handler that answers at once.
func BenchmarkRPCMetrics(b *testing.B) {
	m := newRequestMetrics(prometheus.NewRegistry())
	h := m.wrap("nfs", rpc.HandlerFunc(func(_ context.Context, _ *rpc.Call, w *xdr.Writer) error {
		w.Uint32(0)
		return nil
	}))
	var args xdr.Writer
	args.Opaque(make([]byte, 40))
	args.Uint64(0)
	args.Uint32(4096)
	var w xdr.Writer
	var r xdr.Reader
	c := &rpc.Call{Proc: nfs3.ProcWrite, Args: &r}
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(args.Bytes())
		w.Reset()
		_ = h.ServeRPC(context.Background(), c, &w)
	}
}

// BenchmarkSMBObserver is the cost of the observer for one SMB WRITE.
func BenchmarkSMBObserver(b *testing.B) {
	reg := prometheus.NewRegistry()
	o := newSMBMetrics(reg, newRequestMetrics(reg), time.Second)
	req := make([]byte, 48)
	req[4] = 0x10
	client := netip.MustParseAddr("127.0.0.1")
	b.ReportAllocs()
	for b.Loop() {
		o.Request(smb.CmdWrite, smb.StatusSuccess, time.Microsecond, client, req, nil)
	}
}
