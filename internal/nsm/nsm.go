package nsm

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/tandemfs/tandem/internal/meta"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// RebootFunc acts on a reboot notification that came from from for name,
// announcing state; nameIsFrom says name is (or resolves to) from. It
// returns the lock-holding hosts it released (see nlm.Handler.Rebooted).
type RebootFunc func(name string, state int32, from netip.Addr, nameIsFrom bool) []string

// Defaults for Options.
const (
	DefaultNotifyTimeout = 5 * time.Second
	DefaultNotifyFor     = 15 * time.Minute
	DefaultMaxMonitors   = 10_000
)

// Options configure a Service.
type Options struct {
	// Store keeps the state number, the monitored hosts and the SM_MON
	// registrations. Required.
	Store meta.Store
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// Rebooted is told of each SM_NOTIFY; nil releases nothing.
	Rebooted RebootFunc
	// Resolve resolves a host name to its addresses, to check where a
	// notification comes from. Nil means the system resolver, bounded by
	// a 2 second timeout.
	Resolve func(ctx context.Context, name string) ([]netip.Addr, error)
	// PortmapPort is the port of a peer's portmapper, through which the
	// peer's status monitor (for SM_NOTIFY) and the programs that asked
	// for callbacks are found. Zero means 111.
	PortmapPort int
	// NotifyTimeout bounds one outgoing call. Zero means
	// DefaultNotifyTimeout.
	NotifyTimeout time.Duration
	// NotifyFor is how long the reboot notifications of a start are
	// retried for an unresponsive host, as sm-notify does. Zero means
	// DefaultNotifyFor.
	NotifyFor time.Duration
	// MaxMonitors bounds the SM_MON registrations; more get STAT_FAIL.
	// Zero means DefaultMaxMonitors.
	MaxMonitors int
}

// host is a client host that holds locks here: the address its lock
// requests come from and the server address they go to, which is where
// and under which name a restarted server tells it so.
type host struct {
	client, server netip.Addr
	// lastRun marks a record of an earlier run that has not locked in
	// this one: it is forgotten once told of the restart.
	lastRun bool
}

// monKey names an SM_MON registration.
type monKey struct {
	monName string
	myName  string
	prog    uint32
	vers    uint32
	proc    uint32
}

// registration is what an SM_MON asked for: its cookie, and the address
// it came from, which is where the callback goes.
type registration struct {
	priv [privSize]byte
	from netip.Addr
}

// Service is the server's status monitor: it serves NSM version 1, keeps
// and persists its state number, the hosts holding locks and the SM_MON
// registrations, and makes the outgoing calls. It implements rpc.Handler
// and nlm.Monitor, and is safe for concurrent use.
type Service struct {
	store         meta.Store
	log           *slog.Logger
	rebooted      RebootFunc
	resolve       func(ctx context.Context, name string) ([]netip.Addr, error)
	pmapPort      int
	notifyTimeout time.Duration
	notifyFor     time.Duration
	maxMons       int

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	state int32
	hosts map[string]*host
	mons  map[monKey]*registration
}

// New opens the monitor: it advances the stored state number (this start
// is a reboot as peers see it) and loads the monitored hosts and
// registrations. Call NotifyAll once the server serves, to tell the hosts
// of the restart.
func New(ctx context.Context, opt Options) (*Service, error) {
	if opt.Store == nil {
		return nil, errors.New("nsm: no store")
	}
	s := &Service{
		store:         opt.Store,
		log:           opt.Logger,
		rebooted:      opt.Rebooted,
		resolve:       opt.Resolve,
		pmapPort:      opt.PortmapPort,
		notifyTimeout: opt.NotifyTimeout,
		notifyFor:     opt.NotifyFor,
		maxMons:       opt.MaxMonitors,
		hosts:         make(map[string]*host),
		mons:          make(map[monKey]*registration),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.resolve == nil {
		s.resolve = systemResolve
	}
	if s.notifyTimeout <= 0 {
		s.notifyTimeout = DefaultNotifyTimeout
	}
	if s.notifyFor <= 0 {
		s.notifyFor = DefaultNotifyFor
	}
	if s.maxMons <= 0 {
		s.maxMons = DefaultMaxMonitors
	}
	var err error
	if s.state, err = bumpState(ctx, s.store, 2); err != nil {
		return nil, err
	}
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

func systemResolve(ctx context.Context, name string) ([]netip.Addr, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return net.DefaultResolver.LookupNetIP(ctx, "ip", name)
}

// Program is the registration of s with an rpc.Server.
func (s *Service) Program() rpc.Program {
	return rpc.Program{Prog: Program, Low: Version, High: Version, Name: "nsm", Handler: s}
}

// State is the current state number: odd, and higher after every start.
func (s *Service) State() int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Close stops the outgoing notifications and waits for them.
func (s *Service) Close() {
	s.mu.Lock()
	s.cancel()
	s.mu.Unlock()
	s.wg.Wait()
}

// Monitor records that host holds locks, talking from client to server.
// The record is persisted before Monitor returns, so that a crash right
// after still leads to a notification at the next start.
func (s *Service) Monitor(name string, client, server netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hosts[name]
	if h != nil && h.client == client && h.server == server {
		h.lastRun = false
		return
	}
	if h == nil {
		h = new(host)
		s.hosts[name] = h
	}
	*h = host{client: client, server: server}
	if err := s.put(s.ctx, hostKey(name), encodeHost(h)); err != nil {
		s.log.Error("nsm: cannot record a monitored host", "host", name, "err", err)
	}
}

// Unmonitor forgets a host that holds nothing any more.
func (s *Service) Unmonitor(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hosts[name] == nil {
		return
	}
	delete(s.hosts, name)
	if err := s.del(s.ctx, hostKey(name)); err != nil {
		s.log.Error("nsm: cannot forget a monitored host", "host", name, "err", err)
	}
}

// Hosts lists the monitored hosts by name, with the address each is known at.
func (s *Service) Hosts() map[string]netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]netip.Addr, len(s.hosts))
	for n, h := range s.hosts {
		out[n] = h.client
	}
	return out
}

// ServeRPC serves one NSM call.
func (s *Service) ServeRPC(ctx context.Context, c *rpc.Call, w *xdr.Writer) error {
	r := c.Args
	from := rpc.IPOf(c.RemoteAddr)
	switch c.Proc {
	case ProcNull:
		return nil
	case ProcStat:
		r.Opaque(maxName)
		if r.Err() != nil {
			return rpc.ErrGarbageArgs
		}
		w.Uint32(StatSucc)
		w.Int32(s.State())
		return nil
	case ProcMon:
		var a monArgs
		readMon(r, &a)
		if r.Err() != nil {
			return rpc.ErrGarbageArgs
		}
		res := s.mon(&a, from)
		w.Uint32(res)
		w.Int32(s.State())
		return nil
	case ProcUnmon:
		var a monArgs
		readMonID(r, &a)
		if r.Err() != nil {
			return rpc.ErrGarbageArgs
		}
		s.unmon(func(k monKey) bool {
			return k.monName == string(a.monName) && k.myName == string(a.id.name) &&
				k.prog == a.id.prog && k.vers == a.id.vers && k.proc == a.id.proc
		}, from)
		w.Int32(s.State())
		return nil
	case ProcUnmonAll:
		var id myID
		readMyID(r, &id)
		if r.Err() != nil {
			return rpc.ErrGarbageArgs
		}
		s.unmon(func(k monKey) bool {
			return k.myName == string(id.name) && k.prog == id.prog && k.vers == id.vers && k.proc == id.proc
		}, from)
		w.Int32(s.State())
		return nil
	case ProcSimuCrash:
		// A simulated crash tells every peer that this host restarted.
		// Only a local administrator may ask for that, as with Linux's
		// statd; from elsewhere it is accepted and ignored.
		if from.IsLoopback() {
			s.simuCrash()
		} else {
			s.log.Warn("nsm: SM_SIMU_CRASH ignored from a remote address", "from", from)
		}
		return nil
	case ProcNotify:
		name := r.Opaque(maxName)
		state := r.Int32()
		if r.Err() != nil {
			return rpc.ErrGarbageArgs
		}
		s.notified(ctx, string(name), state, from)
		return nil
	}
	return rpc.ErrProcUnavail
}

// mon records an SM_MON registration.
func (s *Service) mon(a *monArgs, from netip.Addr) uint32 {
	k := monKey{monName: string(a.monName), myName: string(a.id.name), prog: a.id.prog, vers: a.id.vers, proc: a.id.proc}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mons[k] == nil && len(s.mons) >= s.maxMons {
		return StatFail
	}
	r := &registration{from: from}
	copy(r.priv[:], a.priv)
	if err := s.put(s.ctx, monKeyBytes(k), encodeMon(r)); err != nil {
		s.log.Error("nsm: cannot record SM_MON", "mon_name", k.monName, "err", err)
		return StatFail
	}
	s.mons[k] = r
	return StatSucc
}

// unmon drops the registrations that match and were made from from: only
// whoever registered may unregister.
func (s *Service) unmon(match func(monKey) bool, from netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys [][]byte
	for k, r := range s.mons {
		if match(k) && r.from == from {
			delete(s.mons, k)
			keys = append(keys, monKeyBytes(k))
		}
	}
	if len(keys) > 0 {
		if err := s.del(s.ctx, keys...); err != nil {
			s.log.Error("nsm: cannot drop SM_MON records", "err", err)
		}
	}
}

// notified acts on an SM_NOTIFY: the lock manager's hosts it concerns are
// released, then the registrations for that host are called back. A
// notification is believed only from an address the host was seen at or
// that its name is; anything else changes nothing.
func (s *Service) notified(ctx context.Context, name string, state int32, from netip.Addr) {
	var released []string
	known := false // name is from, by literal or by resolution
	resolved := false
	if ip, err := netip.ParseAddr(name); err == nil {
		known, resolved = ip.Unmap() == from, true
	}
	if s.rebooted != nil {
		released = s.rebooted(name, state, from, known)
	}
	// Resolving a name costs a DNS round trip; it is needed only when
	// the addresses the hosts were seen at did not settle it.
	if !resolved && (len(released) == 0 || s.hasMon(name)) {
		known = s.nameIs(ctx, name, from)
		if known && s.rebooted != nil {
			released = append(released, s.rebooted(name, state, from, true)...)
		}
	}
	if len(released) > 0 {
		s.log.Info("nsm: host rebooted; its locks are released", "name", name, "state", state, "from", from, "hosts", released)
	} else if !known {
		s.log.Info("nsm: SM_NOTIFY not matched to any host seen at its address", "name", name, "from", from)
	}
	verified := known
	for _, h := range released {
		verified = verified || strings.EqualFold(h, name)
	}
	if verified {
		s.callBack(name, state)
	}
}

func (s *Service) hasMon(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.mons {
		if strings.EqualFold(k.monName, name) {
			return true
		}
	}
	return false
}

// nameIs reports whether name resolves to from.
func (s *Service) nameIs(ctx context.Context, name string, from netip.Addr) bool {
	if !from.IsValid() {
		return false
	}
	addrs, err := s.resolve(ctx, name)
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if a.Unmap() == from {
			return true
		}
	}
	return false
}
