package server

import (
	"cmp"
	"context"
	"encoding/binary"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/meta"
	"github.com/tandemfs/tandem/internal/smb"
)

// numSMBCommands covers SMB2 commands 0x00-0x12; others count as OTHER.
const numSMBCommands = 0x13

// smbMetrics implements smb.Observer with pre-resolved series.
type smbMetrics struct {
	calls      [numSMBCommands + 1]prometheus.Counter
	durs       [numSMBCommands + 1]prometheus.Observer
	errs       *statusCounters
	read       prometheus.Counter
	written    prometheus.Counter
	accepted   prometheus.Counter
	locks      *lockMetrics
	logons     *logonGuard
	sessionCap prometheus.Counter // logons refused by the session cap

	breaks      [2]prometheus.Counter // oplock, lease
	ackLatency  prometheus.Observer
	lateAcks    prometheus.Counter
	timeouts    prometheus.Counter
	timeout     time.Duration
	mu          sync.Mutex
	outstanding map[lock.Owner]time.Time // breaks sent, waiting for their ack
}

func newSMBMetrics(reg prometheus.Registerer, m *requestMetrics, breakTimeout time.Duration) *smbMetrics {
	o := &smbMetrics{
		errs:        &statusCounters{vec: m.errors, proto: "smb", name: func(s uint32) string { return smb.Status(s).String() }},
		read:        m.read.WithLabelValues("smb"),
		written:     m.written.WithLabelValues("smb"),
		locks:       newLockMetrics(reg, "smb"),
		timeout:     cmp.Or(breakTimeout, lock.DefaultBreakTimeout),
		outstanding: map[lock.Owner]time.Time{},
	}
	for i := range o.calls {
		op := "OTHER"
		if i < numSMBCommands {
			op = smb.Command(i).String()
		}
		o.calls[i] = m.requests.WithLabelValues("smb", op)
		o.durs[i] = m.duration.WithLabelValues("smb", op)
	}
	accepted := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tandem_connections_accepted_total", Help: "Client connections accepted, by protocol.",
	}, []string{"protocol"})
	breaks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tandem_smb_breaks_total", Help: "Lease and oplock breaks sent to SMB clients, by kind (lease, oplock).",
	}, []string{"kind"})
	ack := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "tandem_smb_break_ack_seconds", Help: "Time from a lease or oplock break sent to its acknowledgment.",
		Buckets: latencyBuckets,
	})
	timeouts := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tandem_smb_break_timeouts_total", Help: "Lease and oplock breaks not acknowledged within the break timeout (the grant is revoked).",
	})
	late := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "tandem_smb_break_late_acks_total", Help: "Break acknowledgments refused because the break had already been revoked.",
	})
	reg.MustRegister(accepted, breaks, ack, timeouts, late)
	o.accepted = accepted.WithLabelValues("smb")
	o.breaks = [2]prometheus.Counter{breaks.WithLabelValues("oplock"), breaks.WithLabelValues("lease")}
	o.ackLatency, o.timeouts, o.lateAcks = ack, timeouts, late
	return o
}

// Request implements smb.Observer.
func (o *smbMetrics) Request(cmd smb.Command, st smb.Status, d time.Duration, client netip.Addr, req, resp []byte) {
	if cmd == smb.CmdSessionSetup {
		switch {
		case st == smb.StatusLogonFailure && o.logons != nil:
			o.logons.failed(client)
		case st == smb.StatusInsufficientResources && o.sessionCap != nil:
			o.sessionCap.Inc()
		}
	}
	i := min(int(cmd), numSMBCommands)
	o.calls[i].Inc()
	o.durs[i].Observe(d.Seconds())
	switch {
	case st.IsError():
		o.errs.inc(uint32(st))
	case st != smb.StatusSuccess:
	case cmd == smb.CmdRead && len(resp) >= 8:
		o.read.Add(float64(binary.LittleEndian.Uint32(resp[4:])))
	case cmd == smb.CmdWrite && len(req) >= 8:
		o.written.Add(float64(binary.LittleEndian.Uint32(req[4:])))
	}
}

// Lock implements smb.Observer.
func (o *smbMetrics) Lock(st lock.Status) {
	switch st {
	case lock.Granted:
		o.locks.granted.Inc()
	case lock.Denied:
		o.locks.denied.Inc()
	case lock.Queued:
		o.locks.blocked.Inc()
	case lock.Deadlock:
		o.locks.deadlock.Inc()
	}
}

// BreakSent implements smb.Observer.
func (o *smbMetrics) BreakSent(holder lock.Owner, lease, ackRequired bool) {
	k := 0
	if lease {
		k = 1
	}
	o.breaks[k].Inc()
	if !ackRequired {
		return
	}
	now := time.Now()
	o.mu.Lock()
	o.sweepLocked(now)
	if _, ok := o.outstanding[holder]; !ok {
		o.outstanding[holder] = now
	}
	o.mu.Unlock()
}

// BreakAcked implements smb.Observer.
func (o *smbMetrics) BreakAcked(holder lock.Owner, ok bool) {
	now := time.Now()
	o.mu.Lock()
	sent, found := o.outstanding[holder]
	delete(o.outstanding, holder)
	o.sweepLocked(now)
	o.mu.Unlock()
	if !ok {
		o.lateAcks.Inc()
		return
	}
	if found {
		o.ackLatency.Observe(now.Sub(sent).Seconds())
	}
}

// Accepted implements smb.Observer.
func (o *smbMetrics) Accepted() { o.accepted.Inc() }

// sweep counts the breaks whose acknowledgment is overdue as timed out.
func (o *smbMetrics) sweep() {
	o.mu.Lock()
	o.sweepLocked(time.Now())
	o.mu.Unlock()
}

func (o *smbMetrics) sweepLocked(now time.Time) {
	for h, t := range o.outstanding {
		if now.Sub(t) > o.timeout {
			delete(o.outstanding, h)
			o.timeouts.Inc()
		}
	}
}

// registerGauges exports what is open now, read when scraped.
func (s *Server) registerGauges(reg prometheus.Registerer, sm *smbMetrics) {
	conns := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tandem_connections", Help: "Client connections open now, by protocol.", ConstLabels: prometheus.Labels{"protocol": "nfs"},
	}, func() float64 {
		if s.rpc == nil {
			return 0
		}
		return float64(len(s.rpc.Peers()))
	})
	reg.MustRegister(conns)
	if s.smb == nil {
		return
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tandem_connections", Help: "Client connections open now, by protocol.", ConstLabels: prometheus.Labels{"protocol": "smb"},
		}, func() float64 { return float64(s.smb.Connections()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tandem_smb_sessions", Help: "SMB sessions established now.",
		}, func() float64 { return float64(len(s.smb.Sessions())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tandem_open_files", Help: "Files and directories SMB clients hold open now, durable handles waiting for a reconnect included.",
			ConstLabels: prometheus.Labels{"protocol": "smb"},
		}, func() float64 { return float64(s.smb.OpenFiles()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tandem_smb_breaks_outstanding", Help: "Lease and oplock breaks sent and not acknowledged yet.",
		}, func() float64 {
			sm.sweep()
			sm.mu.Lock()
			defer sm.mu.Unlock()
			return float64(len(sm.outstanding))
		}),
	)
}

// timedStore measures the metadata store's commits.
type timedStore struct {
	meta.Store
	update, lazy, sync prometheus.Observer
}

func newTimedStore(st meta.Store, reg prometheus.Registerer) *timedStore {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "tandem_meta_commit_duration_seconds", Help: "Time of one metadata store transaction that changes state, until durable (update), visible (update_lazy), or of a flush (sync).",
		Buckets: latencyBuckets,
	}, []string{"kind"})
	reg.MustRegister(h)
	return &timedStore{Store: st, update: h.WithLabelValues("update"), lazy: h.WithLabelValues("update_lazy"), sync: h.WithLabelValues("sync")}
}

func (t *timedStore) Update(ctx context.Context, fn func(meta.Tx) error) error {
	t0 := time.Now()
	err := t.Store.Update(ctx, fn)
	t.update.Observe(time.Since(t0).Seconds())
	return err
}

func (t *timedStore) UpdateLazy(ctx context.Context, fn func(meta.Tx) error) error {
	t0 := time.Now()
	err := t.Store.UpdateLazy(ctx, fn)
	t.lazy.Observe(time.Since(t0).Seconds())
	return err
}

func (t *timedStore) Sync() error {
	t0 := time.Now()
	err := t.Store.Sync()
	t.sync.Observe(time.Since(t0).Seconds())
	return err
}
