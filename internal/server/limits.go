package server

import (
	"cmp"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandemfs/tandem/internal/rpc"
)

// LimitsConfig is the [limits] table: what keeps the server alive under
// too many, slow or hostile clients. Zero values take the defaults.
type LimitsConfig struct {
	// MaxConnections bounds the open connections of each protocol (NFS
	// over TCP, SMB); a connection over it is closed as soon as it is
	// accepted.
	MaxConnections int `toml:"max_connections"`
	// HandshakeTimeout: an SMB connection that has no session this long
	// after it was accepted (it sends nothing, dribbles, or keeps failing
	// to log on) is closed.
	HandshakeTimeout Duration `toml:"handshake_timeout"`
	// WriteTimeout: an SMB client that takes no reply bytes for this
	// long (it does not read) is cut off, so that replies waiting for it
	// do not pile up. NFS replies are bounded by NFSIdleTimeout.
	WriteTimeout Duration `toml:"write_timeout"`
	// LogonFailures failed SMB logons from one address within a minute
	// make its new connections refused for LogonLockout.
	LogonFailures int      `toml:"logon_failures"`
	LogonLockout  Duration `toml:"logon_lockout"`
	// NFSMaxInFlight bounds the calls of one NFS connection served at
	// once; the server reads no more from it until one is answered.
	NFSMaxInFlight int `toml:"nfs_max_inflight"`
	// NFSMaxRecordSize bounds one RPC record; a client sending a bigger
	// one loses its connection.
	NFSMaxRecordSize int `toml:"nfs_max_record_size"`
	// NFSIdleTimeout closes an NFS connection silent for this long with
	// no call in progress; it also bounds the receipt of one record (a
	// slow sender).
	NFSIdleTimeout Duration `toml:"nfs_idle_timeout"`
	// SMBMaxSessions bounds the SMB sessions of the server; a logon over
	// it is answered STATUS_INSUFFICIENT_RESOURCES.
	SMBMaxSessions int `toml:"smb_max_sessions"`
	// SMBMaxCredits bounds the requests an SMB client may have
	// outstanding on one connection.
	SMBMaxCredits int `toml:"smb_max_credits"`
}

// withDefaults fills the zero values.
func (l LimitsConfig) withDefaults() LimitsConfig {
	l.MaxConnections = cmp.Or(l.MaxConnections, 4096)
	l.HandshakeTimeout = cmp.Or(l.HandshakeTimeout, Duration(30*time.Second))
	l.WriteTimeout = cmp.Or(l.WriteTimeout, Duration(2*time.Minute))
	l.LogonFailures = cmp.Or(l.LogonFailures, 20)
	l.LogonLockout = cmp.Or(l.LogonLockout, Duration(time.Minute))
	l.NFSMaxInFlight = cmp.Or(l.NFSMaxInFlight, rpc.DefaultMaxInFlight)
	l.NFSMaxRecordSize = cmp.Or(l.NFSMaxRecordSize, rpc.DefaultMaxRecordSize)
	l.NFSIdleTimeout = cmp.Or(l.NFSIdleTimeout, Duration(rpc.DefaultIdleTimeout))
	l.SMBMaxSessions = cmp.Or(l.SMBMaxSessions, 16384)
	l.SMBMaxCredits = min(cmp.Or(l.SMBMaxCredits, 8192), 65535)
	return l
}

// limitMetrics counts what the limits refused.
type limitMetrics struct{ vec *prometheus.CounterVec }

func newLimitMetrics(reg prometheus.Registerer) *limitMetrics {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "tandem_limit_refusals_total",
		Help: "Connections refused or cut off by a limit, by protocol and limit (max_connections, handshake_timeout, logon_failures).",
	}, []string{"protocol", "limit"})
	reg.MustRegister(v)
	return &limitMetrics{vec: v}
}

// limitListener accepts at most max connections at once and refuses
// those from addresses locked out. It hands on the connections themselves,
// not wrappers, so that the protocols keep their vectored writes.
type limitListener struct {
	net.Listener
	max       int
	open      func() int  // connections open now
	lockout   *logonGuard // nil: none
	overCap   prometheus.Counter
	lockedOut prometheus.Counter
}

func (s *Server) limitListener(l net.Listener, proto string, open func() int, guard *logonGuard) *limitListener {
	m := s.limitMetrics.vec
	return &limitListener{
		Listener: l, max: s.cfg.Limits.MaxConnections, open: open, lockout: guard,
		overCap: m.WithLabelValues(proto, "max_connections"), lockedOut: m.WithLabelValues(proto, "logon_failures"),
	}
}

// Accept hands on the next connection the limits admit. Refused ones are
// closed at once: before any request there is no protocol error to send,
// and a closed connection is what a client handles (it retries later).
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.lockout != nil && l.lockout.lockedOut(c.RemoteAddr()) {
			l.lockedOut.Inc()
			c.Close()
			continue
		}
		if l.open() >= l.max {
			l.overCap.Inc()
			c.Close()
			continue
		}
		return c, nil
	}
}

// logonGuard counts failed SMB logons by client address and locks out an
// address that fails too often.
type logonGuard struct {
	max     int
	lockout time.Duration
	mu      sync.Mutex
	by      map[netip.Addr]*logonRecord
}

type logonRecord struct {
	window time.Time // start of the current minute of counting
	fails  int
	until  time.Time // locked out until
}

func newLogonGuard(max int, lockout time.Duration) *logonGuard {
	return &logonGuard{max: max, lockout: lockout, by: map[netip.Addr]*logonRecord{}}
}

func addrOf(a net.Addr) netip.Addr {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func (g *logonGuard) lockedOut(a net.Addr) bool {
	addr := addrOf(a)
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.by[addr]
	return r != nil && time.Now().Before(r.until)
}

// failed counts a failed logon from addr.
func (g *logonGuard) failed(addr netip.Addr) {
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.by) > 1<<16 { // forget the old, so that spoofed sources cannot grow it unbounded
		for a, r := range g.by {
			if now.After(r.until) && now.Sub(r.window) > time.Minute {
				delete(g.by, a)
			}
		}
	}
	r := g.by[addr]
	if r == nil {
		r = &logonRecord{window: now}
		g.by[addr] = r
	}
	if now.Sub(r.window) > time.Minute {
		r.window, r.fails = now, 0
	}
	r.fails++
	if r.fails >= g.max {
		r.until = now.Add(g.lockout)
		r.window, r.fails = now, 0
	}
}

// rpcOptions are the NFS listener's limits.
func (l LimitsConfig) rpcOptions() rpc.ServerOptions {
	return rpc.ServerOptions{
		MaxRecordSize:      l.NFSMaxRecordSize,
		MaxInFlightPerConn: l.NFSMaxInFlight,
		IdleTimeout:        time.Duration(l.NFSIdleTimeout),
	}
}
