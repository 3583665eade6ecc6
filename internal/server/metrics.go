package server

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// maxProc bounds the per-procedure counters; every program served has
// fewer procedures, and higher numbers are counted together.
const maxProc = 32

type rpcMetrics struct {
	calls    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newRPCMetrics(reg prometheus.Registerer) *rpcMetrics {
	m := &rpcMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_rpc_calls_total", Help: "ONC RPC calls served, by program and procedure number.",
		}, []string{"program", "proc"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tandem_rpc_errors_total", Help: "ONC RPC calls answered with an RPC-level error (garbage args, unavailable procedure, system error).",
		}, []string{"program"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "tandem_rpc_duration_seconds", Help: "Time to serve one ONC RPC call.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 4, 9),
		}, []string{"program"}),
	}
	reg.MustRegister(m.calls, m.errors, m.duration)
	return m
}

// wrap counts a program's calls. The label lookups happen here, once, so
// that serving a call only touches pre-resolved counters.
func (m *rpcMetrics) wrap(name string, h rpc.Handler) rpc.Handler {
	var calls [maxProc + 1]prometheus.Counter
	for i := range calls {
		calls[i] = m.calls.WithLabelValues(name, strconv.Itoa(i))
	}
	errs := m.errors.WithLabelValues(name)
	dur := m.duration.WithLabelValues(name)
	return rpc.HandlerFunc(func(ctx context.Context, c *rpc.Call, w *xdr.Writer) error {
		t0 := time.Now()
		err := h.ServeRPC(ctx, c, w)
		calls[min(c.Proc, maxProc)].Inc()
		if err != nil && !errors.Is(err, rpc.ErrDrop) {
			errs.Inc()
		}
		dur.Observe(time.Since(t0).Seconds())
		return err
	})
}
