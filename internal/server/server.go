// Package server wires Tandem together: config -> stores -> file system ->
// protocol front ends -> listeners. It owns process-level concerns (logging,
// metrics, signals are the caller's) and nothing protocol-specific.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tandemfs/tandem/internal/admin"
	"github.com/tandemfs/tandem/internal/content"
	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/identity"
	"github.com/tandemfs/tandem/internal/meta"
	"github.com/tandemfs/tandem/internal/mount"
	"github.com/tandemfs/tandem/internal/nfs3"
	"github.com/tandemfs/tandem/internal/portmap"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/smb"
)

// Server is a running Tandem.
type Server struct {
	cfg     Config
	log     *slog.Logger
	meta    meta.Store
	content content.Store
	FS      *fs.FS

	rpc     *rpc.Server
	pmap    *rpc.Server
	metrics *http.Server
	admin   *admin.Server
	locks   *locks
	ids     *identity.Store
	smb     *smb.Server
	shares  *shareSet

	reqMetrics   *requestMetrics
	limitMetrics *limitMetrics
	logons       *logonGuard
	smbMetrics   *smbMetrics // nil without SMB
	started      time.Time

	mu        sync.Mutex
	listeners []net.Listener
	listening []Listener // for `tandem status`
	conns     []net.PacketConn
	wg        sync.WaitGroup

	// NFSAddr is the TCP address the NFS/MOUNT listener is bound to.
	NFSAddr net.Addr
	// SMBAddr is the SMB listener's address (nil when SMB is off).
	SMBAddr net.Addr
	// MetricsAddr is the metrics listener's address (nil when off).
	MetricsAddr net.Addr
}

// Start opens the stores in cfg.Data and starts every listener. It returns
// once all of them accept connections.
func Start(ctx context.Context, cfg Config, log *slog.Logger) (_ *Server, err error) {
	s := &Server{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	t0 := time.Now()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.reqMetrics = newRequestMetrics(reg)
	s.limitMetrics = newLimitMetrics(reg)
	s.cfg.Limits = s.cfg.Limits.withDefaults()
	if err := s.openStores(ctx); err != nil {
		return nil, err
	}
	s.meta = newTimedStore(s.meta, reg)
	s.FS, err = fs.New(s.meta, s.content, fs.Options{})
	if err != nil {
		return nil, fmt.Errorf("file system: %w", err)
	}
	if err := s.setupShares(ctx); err != nil {
		return nil, err
	}
	for _, sh := range s.shares.list() {
		log.Info("share", "name", sh.Name, "nfs_path", "/"+sh.Name, "read_only", sh.ReadOnly, "locking", sh.Locking, "in_config", sh.InConfig)
	}
	log.Info("stores open", "data", cfg.Data, "meta", s.cfg.Meta.Backend, "content", s.cfg.Content.Backend,
		"took", time.Since(t0).Round(time.Millisecond))

	s.ids = identity.New(s.meta)
	s.started = time.Now()
	s.admin = admin.NewServer(log.With("component", "admin"))
	s.registerAdmin()
	if err := s.admin.Listen(cfg.Data); err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}

	m := s.reqMetrics
	if err := s.startLocks(ctx, reg); err != nil {
		return nil, err
	}

	ro := s.cfg.Limits.rpcOptions()
	ro.Logger = log.With("component", "rpc")
	s.rpc = rpc.NewServer(ro)
	progs := []rpc.Program{
		{Prog: mount.Program, Low: 1, High: 3, Name: "mount", Handler: mount.New(s.FS, mount.Options{Logger: log})},
		{Prog: nfs3.Program, Low: 3, High: 3, Name: "nfs", Handler: nfs3.New(s.FS, nfs3.Options{Logger: log, Locks: s.locks.mgr, Notices: s.locks.route,
			BreakTimeout: time.Duration(cfg.BreakTimeout)})},
	}
	progs = append(progs, s.locks.programs()...)
	for _, p := range progs {
		p.Handler = m.wrap(p.Name, p.Handler)
		s.rpc.Register(p)
	}

	host := cfg.Listen
	nfsAddr := net.JoinHostPort(host, strconv.Itoa(cfg.NFSPort))
	l, err := net.Listen("tcp", nfsAddr)
	if err != nil {
		return nil, fmt.Errorf("NFS listener: %w", err)
	}
	s.NFSAddr = l.Addr()
	s.serveTCP(s.rpc, s.limitListener(l, "nfs", func() int { return len(s.rpc.Peers()) }, nil))
	s.noteListener("nfs+mount+nlm+nsm", l.Addr().String(), "tcp")
	port := l.Addr().(*net.TCPAddr).Port
	if pc, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(port))); err != nil {
		log.Warn("no UDP for NFS/MOUNT", "addr", nfsAddr, "err", err)
	} else {
		s.serveUDP(s.rpc, pc)
		s.noteListener("nfs+mount+nlm+nsm", pc.LocalAddr().String(), "udp")
	}
	log.Info("listening", "service", "nfs+mount", "addr", l.Addr().String(), "transports", "tcp,udp",
		"mount", fmt.Sprintf("mount -t nfs -o vers=3,proto=tcp,port=%d,mountport=%d,mountproto=tcp HOST:/%s /mnt", port, port, cfg.FirstShare()))

	if cfg.PortmapPort != 0 {
		s.startPortmap(host, port)
	} else {
		log.Info("portmapper off (--portmap-port 0)")
	}
	s.locks.nsm.NotifyAll()
	if cfg.SMBPort != 0 {
		s.logons = newLogonGuard(s.cfg.Limits.LogonFailures, time.Duration(s.cfg.Limits.LogonLockout))
		s.smbMetrics = newSMBMetrics(reg, m, time.Duration(cfg.BreakTimeout))
		s.smbMetrics.logons = s.logons
		s.smbMetrics.sessionCap = s.limitMetrics.vec.WithLabelValues("smb", "max_sessions")
		if err := s.startSMB(ctx); err != nil {
			return nil, err
		}
	} else {
		log.Info("SMB off (--smb-port 0)")
	}
	s.registerGauges(reg, s.smbMetrics)
	if cfg.MetricsAddr != "" {
		ml, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			log.Warn("metrics listener failed; carrying on without it", "addr", cfg.MetricsAddr, "err", err)
		} else {
			mux := http.NewServeMux()
			mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
			s.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); _ = s.metrics.Serve(ml) }()
			s.MetricsAddr = ml.Addr()
			s.noteListener("metrics", "http://"+ml.Addr().String()+"/metrics", "tcp")
			log.Info("listening", "service", "metrics", "addr", "http://"+ml.Addr().String()+"/metrics")
		}
	}
	return s, nil
}

// startPortmap serves portmap/rpcbind for our own programs. Failing to bind
// (port 111 taken by a system rpcbind, or no privilege) is not fatal: clients
// given explicit ports do not need it.
func (s *Server) startPortmap(host string, nfsPort int) {
	svc := portmap.New()
	var ms []portmap.Mapping
	for _, prot := range []uint32{portmap.ProtTCP, portmap.ProtUDP} {
		ms = append(ms, portmap.Mapping{Prog: nfs3.Program, Vers: 3, Prot: prot, Port: uint32(nfsPort)})
		for v := uint32(1); v <= 3; v++ {
			ms = append(ms, portmap.Mapping{Prog: mount.Program, Vers: v, Prot: prot, Port: uint32(nfsPort)})
		}
		ms = append(ms, portmap.MappingsFor(s.locks.programs(), prot, uint32(nfsPort))...)
	}
	svc.Set(ms)
	s.pmap = rpc.NewServer(rpc.ServerOptions{Logger: s.log.With("component", "portmap")})
	s.pmap.Register(rpc.Program{Prog: portmap.Prog, Low: 2, High: 4, Name: "portmap", Handler: s.reqMetrics.wrap("portmap", svc)})
	addr := net.JoinHostPort(host, strconv.Itoa(s.cfg.PortmapPort))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		s.log.Warn("portmapper not started; clients must be given port= and mountport=", "addr", addr, "err", err)
		return
	}
	s.serveTCP(s.pmap, l)
	s.noteListener("portmap", l.Addr().String(), "tcp")
	if pc, err := net.ListenPacket("udp", addr); err != nil {
		s.log.Warn("portmapper UDP not started", "addr", addr, "err", err)
	} else {
		s.serveUDP(s.pmap, pc)
		s.noteListener("portmap", pc.LocalAddr().String(), "udp")
	}
	s.log.Info("listening", "service", "portmap", "addr", l.Addr().String(), "transports", "tcp,udp")
}

func (s *Server) serveTCP(r *rpc.Server, l net.Listener) {
	s.mu.Lock()
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := r.ServeTCP(l); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, rpc.ErrServerClosed) {
			s.log.Error("tcp listener stopped", "addr", l.Addr(), "err", err)
		}
	}()
}

func (s *Server) serveUDP(r *rpc.Server, pc net.PacketConn) {
	s.mu.Lock()
	s.conns = append(s.conns, pc)
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := r.ServeUDP(pc); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, rpc.ErrServerClosed) {
			s.log.Error("udp listener stopped", "addr", pc.LocalAddr(), "err", err)
		}
	}()
}

// Shutdown stops accepting, lets calls in progress finish (bounded by
// ctx), makes every change durable and closes the stores.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.smb != nil {
		_ = s.smb.Shutdown(ctx)
	}
	for _, r := range []*rpc.Server{s.rpc, s.pmap} {
		if r != nil {
			_ = r.Shutdown(ctx)
		}
	}
	if s.metrics != nil {
		_ = s.metrics.Shutdown(ctx)
	}
	return s.Close()
}

// Close releases everything without waiting for calls in progress.
func (s *Server) Close() error {
	s.mu.Lock()
	for _, l := range s.listeners {
		_ = l.Close()
	}
	for _, c := range s.conns {
		_ = c.Close()
	}
	s.listeners, s.conns = nil, nil
	s.mu.Unlock()
	if s.metrics != nil {
		_ = s.metrics.Close()
	}
	if s.admin != nil {
		_ = s.admin.Close()
		s.admin = nil
	}
	s.wg.Wait()
	if s.locks != nil {
		s.locks.close()
		s.locks = nil
	}
	var errs []error
	if s.content != nil {
		errs = append(errs, s.content.Close())
		s.content = nil
	}
	if s.meta != nil {
		errs = append(errs, s.meta.Sync(), s.meta.Close())
		s.meta = nil
	}
	return errors.Join(errs...)
}
