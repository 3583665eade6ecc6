package server

import (
	"context"
	"encoding/binary"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandemfs/tandem/internal/nfs3"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// maxProc bounds the per-procedure series; every program served has
// fewer procedures, and higher numbers are counted together.
const maxProc = 32

// latencyBuckets span 50 µs to 3.3 s, a request served from memory to
// one that waited for a lease break or a disk flush.
var latencyBuckets = prometheus.ExponentialBuckets(0.00005, 4, 9)

// requestMetrics are the series every protocol shares: requests and their
// latency by operation name, errors by status, bytes moved.
type requestMetrics struct {
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	read     *prometheus.CounterVec
	written  *prometheus.CounterVec
	rpcErrs  *prometheus.CounterVec
}

func newRequestMetrics(reg prometheus.Registerer) *requestMetrics {
	m := &requestMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_requests_total", Help: "Requests served, by protocol (nfs, mount, nlm, nsm, portmap, smb) and operation name.",
		}, []string{"protocol", "op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_request_errors_total", Help: "Requests answered with an error status, by protocol and status name (NFS3ERR_*, MNT3ERR_*, NLM4_*, STATUS_*).",
		}, []string{"protocol", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tandem_request_duration_seconds", Help: "Time to serve one request, by protocol and operation name.",
			Buckets: latencyBuckets,
		}, []string{"protocol", "op"}),
		read: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_read_bytes_total", Help: "File data bytes sent to clients by READ, by protocol.",
		}, []string{"protocol"}),
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_written_bytes_total", Help: "File data bytes written by clients with WRITE, by protocol.",
		}, []string{"protocol"}),
		rpcErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_rpc_rejected_total", Help: "ONC RPC calls refused at the RPC level (garbage arguments, unavailable procedure, system error), by program.",
		}, []string{"protocol"}),
	}
	reg.MustRegister(m.requests, m.errors, m.duration, m.read, m.written, m.rpcErrs)
	return m
}

// statusCounters finds the error counter of a protocol's status. The
// series are made on first use and kept, so that a status seen again
// costs a map read, not a label lookup.
type statusCounters struct {
	vec   *prometheus.CounterVec
	proto string
	name  func(uint32) string
	m     sync.Map // uint32 -> prometheus.Counter
}

func (sc *statusCounters) inc(st uint32) {
	if c, ok := sc.m.Load(st); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	c := sc.vec.WithLabelValues(sc.proto, sc.name(st))
	sc.m.Store(st, c)
	c.Inc()
}

// rpcStatus says where a program's replies keep their status: the first
// word (NFS, MOUNT) or after the cookie (NLM); none for the others.
type rpcStatus int

const (
	statusNone rpcStatus = iota
	statusFirst
	statusAfterCookie
)

// wrap counts a program's calls. The label lookups happen here, once, so
// that serving a call only touches pre-resolved counters.
func (m *requestMetrics) wrap(name string, h rpc.Handler) rpc.Handler {
	names := procNames[name]
	var calls [maxProc + 1]prometheus.Counter
	var durs [maxProc + 1]prometheus.Observer
	for i := range calls {
		op := "OTHER"
		if i < len(names) && i < maxProc {
			op = names[i]
		} else if i < maxProc {
			op = strconv.Itoa(i)
		}
		calls[i] = m.requests.WithLabelValues(name, op)
		durs[i] = m.duration.WithLabelValues(name, op)
	}
	rejected := m.rpcErrs.WithLabelValues(name)
	where := map[string]rpcStatus{"nfs": statusFirst, "mount": statusFirst, "nlm": statusAfterCookie}[name]
	errs := &statusCounters{vec: m.errors, proto: name, name: statusNamer(name)}
	read, written := m.read.WithLabelValues(name), m.written.WithLabelValues(name)
	isNFS := name == "nfs"
	return rpc.HandlerFunc(func(ctx context.Context, c *rpc.Call, w *xdr.Writer) error {
		t0 := time.Now()
		at := w.Len()
		var wrote uint32
		if isNFS && c.Proc == nfs3.ProcWrite {
			wrote = writeCount(c.Args.Rest())
		}
		err := h.ServeRPC(ctx, c, w)
		p := min(c.Proc, maxProc)
		calls[p].Inc()
		durs[p].Observe(time.Since(t0).Seconds())
		if err != nil {
			if !errors.Is(err, rpc.ErrDrop) {
				rejected.Inc()
			}
			return err
		}
		if where == statusNone || c.Proc == 0 || (name == "mount" && c.Proc != 1) {
			return nil
		}
		res := w.Bytes()[at:]
		st, ok := replyStatus(res, where)
		switch {
		case !ok:
		case st != 0:
			errs.inc(st)
		case isNFS && c.Proc == nfs3.ProcWrite:
			written.Add(float64(wrote))
		case isNFS && c.Proc == nfs3.ProcRead:
			read.Add(float64(readCount(res)))
		}
		return nil
	})
}

// replyStatus reads the status of a reply's results.
func replyStatus(res []byte, where rpcStatus) (uint32, bool) {
	off := 0
	if where == statusAfterCookie {
		if len(res) < 4 {
			return 0, false
		}
		n := int(binary.BigEndian.Uint32(res))
		off = 4 + (n+3)&^3
	}
	if len(res) < off+4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(res[off:]), true
}

// writeCount reads the count of WRITE3args: fh, offset, count.
func writeCount(args []byte) uint32 {
	if len(args) < 4 {
		return 0
	}
	off := 4 + (int(binary.BigEndian.Uint32(args))+3)&^3 + 8
	if len(args) < off+4 {
		return 0
	}
	return binary.BigEndian.Uint32(args[off:])
}

// readCount reads the count of READ3resok: status, post_op_attr, count.
func readCount(res []byte) uint32 {
	off := 4
	if len(res) < off+4 {
		return 0
	}
	if binary.BigEndian.Uint32(res[off:]) != 0 {
		off += 84 // fattr3
	}
	off += 4
	if len(res) < off+4 {
		return 0
	}
	return binary.BigEndian.Uint32(res[off:])
}

// statusNamer names a program's status codes.
func statusNamer(prog string) func(uint32) string {
	switch prog {
	case "nfs":
		return func(s uint32) string { return nfs3.Status(s).String() }
	case "mount":
		return func(s uint32) string {
			if n, ok := mountStatusNames[s]; ok {
				return n
			}
			return "MNT3ERR_" + strconv.FormatUint(uint64(s), 10)
		}
	case "nlm":
		return func(s uint32) string {
			if int(s) < len(nlmStatusNames) {
				return nlmStatusNames[s]
			}
			return "NLM4_" + strconv.FormatUint(uint64(s), 10)
		}
	}
	return func(s uint32) string { return strconv.FormatUint(uint64(s), 10) }
}
