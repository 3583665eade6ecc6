package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/lockstore"
	"github.com/tandemfs/tandem/internal/nlm"
	"github.com/tandemfs/tandem/internal/nsm"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/smb"
)

// locks is the lock service: the one lock manager of every protocol, and
// the NLM and NSM front ends through which NFS clients lock.
type locks struct {
	mgr     *lock.Manager
	journal *lockstore.Journal
	nlm     *nlm.Handler
	nsm     *nsm.Service
	smb     atomic.Pointer[smb.Server] // set once SMB serves, while NLM already does
	log     *slog.Logger
	loaded  *lockstore.Loaded // at start, for the journal
	durable []smb.DurableOpen // the durable opens of the last run, until SMB restores them
	mu      sync.Mutex
	shares  []ShareLocking    // every share's locking, by name
	names   map[uint32]string // share names by id

	stop chan struct{} // ends the expirer
	wg   sync.WaitGroup
}

// startLocks makes the lock manager and its NFS front ends, and serves
// `tandem locks`. It restores the lock state a crash left, as prior state
// that clients reclaim in a grace period, and starts the journal that
// persists every change. The status monitor advances its state number
// here, so a failing store fails the start.
func (s *Server) startLocks(ctx context.Context, reg prometheus.Registerer) error {
	l := &locks{mgr: lock.New(lock.Config{Limits: lock.DefaultLimits, Track: true}), log: s.log, stop: make(chan struct{})}
	if err := s.setLockings(l); err != nil {
		return err
	}
	if err := s.recoverLocks(ctx, l); err != nil {
		return err
	}
	j, err := lockstore.New(l.mgr, s.meta, lockstore.Options{Logger: s.log.With("component", "lockstore"),
		Claims: l.loaded.Claims, Base: l.loaded.Base, Redo: s.redoPath()})
	if err != nil {
		return err
	}
	l.journal, l.loaded = j, nil
	var h *nlm.Handler
	svc, err := nsm.New(ctx, nsm.Options{
		Store:  s.meta,
		Logger: s.log.With("component", "nsm"),
		Rebooted: func(name string, state int32, from netip.Addr, nameIsFrom bool) []string {
			return h.Rebooted(name, state, from, nameIsFrom)
		},
	})
	if err != nil {
		return fmt.Errorf("status monitor: %w", err)
	}
	h = nlm.New(s.FS, l.mgr, nlm.Options{
		Logger:       s.log.With("component", "nlm"),
		Monitor:      svc,
		Notices:      l.route,
		Metrics:      newLockMetrics(reg, "nlm"),
		Journal:      l.journal,
		BreakTimeout: time.Duration(s.cfg.BreakTimeout),
	})
	// Hosts the monitor knew before are believed when they announce a
	// reboot, before they lock again: their prior locks go at once.
	for name, addr := range svc.Hosts() {
		h.Remember(name, addr)
	}
	l.nlm, l.nsm = h, svc
	s.locks = l
	s.admin.Handle("locks", func(context.Context, json.RawMessage) (any, error) {
		return l.entries(), nil
	})
	s.admin.Handle("locking", func(context.Context, json.RawMessage) (any, error) {
		_, sl := l.shareNames()
		return sl, nil
	})
	s.admin.Handle("grace-end", func(context.Context, json.RawMessage) (any, error) {
		return l.endGrace("ended by hand"), nil
	})
	l.wg.Add(1)
	go l.expire()
	s.log.Info("lock manager up", "nsm_state", svc.State())
	return nil
}

// ShareLocking is one share's locking, for `tandem locks`.
type ShareLocking struct {
	Share   string `json:"share"`
	Locking string `json:"locking"` // "unified" or "unix"
}

// setLockings tells the lock manager each share's locking, before
// anything is served, and keeps it told of every change.
func (s *Server) setLockings(l *locks) error {
	l.names = map[uint32]string{}
	for _, sh := range s.shares.list() {
		root, _, _ := s.FS.Share(sh.Name)
		if err := l.setShare(root, sh.ShareConfig, false); err != nil {
			return err
		}
	}
	s.shares.applied = func(root fs.Handle, c ShareConfig, removed bool) {
		if err := l.setShare(root, c, removed); err != nil {
			l.log.Error("share locking not applied", "share", c.Name, "err", err)
		}
	}
	return nil
}

// setShare applies one share's locking, or forgets a removed share.
func (l *locks) setShare(root fs.Handle, c ShareConfig, removed bool) error {
	mode, err := c.locking()
	if err != nil {
		return fmt.Errorf("share %q: %w", c.Name, err)
	}
	if removed {
		mode = lock.Unified
	}
	l.mgr.SetLocking(root.Share, mode)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.shares = slices.DeleteFunc(l.shares, func(x ShareLocking) bool { return x.Share == c.Name })
	if removed {
		delete(l.names, root.Share)
		return nil
	}
	l.names[root.Share] = c.Name
	l.shares = append(l.shares, ShareLocking{Share: c.Name, Locking: mode.String()})
	slices.SortFunc(l.shares, func(a, b ShareLocking) int { return strings.Compare(a.Share, b.Share) })
	return nil
}

// shareNames copies the share names by id, and every share's locking.
func (l *locks) shareNames() (map[uint32]string, []ShareLocking) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.names), slices.Clone(l.shares)
}

// programs are the RPC programs of the lock service.
func (l *locks) programs() []rpc.Program {
	return append(l.nlm.Programs(), l.nsm.Program())
}

// route hands the lock manager's notices to the front end of each
// waiter's protocol; each front end picks out the waiters it owns, so an
// NLM unlock can grant an SMB waiter and an SMB close an NLM one.
func (l *locks) route(ns []lock.Notice) {
	l.nlm.Deliver(ns)
	if srv := l.smb.Load(); srv != nil {
		srv.Deliver(ns)
	}
}

// close stops the callbacks and notifications in progress, and writes
// what the journal has not yet.
func (l *locks) close() {
	close(l.stop)
	l.wg.Wait()
	l.nlm.Close()
	l.nsm.Close()
	if err := l.journal.Close(); err != nil {
		l.log.Error("lock state not persisted at shutdown", "err", err)
	}
}

// lockMetrics counts lock outcomes of one protocol for Prometheus.
type lockMetrics struct {
	granted, denied, blocked, deadlock prometheus.Counter
}

// newLockMetrics registers the lock counters with reg, or finds them
// there (every protocol's front end asks), and returns those of proto.
func newLockMetrics(reg prometheus.Registerer, proto string) *lockMetrics {
	vec := func(name, help string) prometheus.Counter {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"protocol"})
		if err := reg.Register(v); err != nil {
			are, ok := err.(prometheus.AlreadyRegisteredError)
			if !ok {
				panic(err)
			}
			v = are.ExistingCollector.(*prometheus.CounterVec)
		}
		return v.WithLabelValues(proto)
	}
	return &lockMetrics{
		granted: vec("tandem_lock_grants_total",
			"Byte-range locks granted, at once or to a waiting request, by protocol."),
		denied: vec("tandem_lock_denials_total",
			"Lock requests refused because another owner holds a conflicting lock, by protocol."),
		blocked: vec("tandem_lock_waits_total",
			"Blocking lock requests queued to wait, by protocol."),
		deadlock: vec("tandem_lock_deadlocks_total",
			"Lock requests refused, or waiters dropped, to break a deadlock, by protocol."),
	}
}

// Count implements nlm.Metrics.
func (m *lockMetrics) Count(e nlm.Event) {
	switch e {
	case nlm.EventGranted:
		m.granted.Inc()
	case nlm.EventDenied:
		m.denied.Inc()
	case nlm.EventBlocked:
		m.blocked.Inc()
	case nlm.EventDeadlock:
		m.deadlock.Inc()
	}
}

// LockEntry is one line of `tandem locks`: a granted lock, a waiting
// request or a share reservation.
type LockEntry struct {
	File string `json:"file"` // share id:file id
	// Share names the file's share, and Locking says how the share's locks
	// and share modes bind the other protocol ("unified" or "unix").
	Share   string `json:"share"`
	Locking string `json:"locking"`
	Kind    string `json:"kind"` // "range", "share" or "caching"
	// Mode is "shared" or "exclusive" for a range; for a share
	// reservation, the access and what it lets others do ("rw/r--");
	// for a lease or oplock what it caches ("RWH"; "RW" is an exclusive
	// oplock, "R" level II).
	Mode   string `json:"mode"`
	Offset uint64 `json:"offset"`
	// Length 0 is "to the end of the file" for NLM and local owners, a
	// zero-length range for SMB.
	Length  uint64        `json:"length"`
	Proto   string        `json:"proto"`
	Owner   string        `json:"owner"`  // NLM: svid and owner handle; SMB: the open or lease key
	Client  string        `json:"client"` // NLM caller name, SMB client
	Age     time.Duration `json:"age_ns"`
	Waiting bool          `json:"waiting"`
	// Unreclaimed: held before the server restarted and not reclaimed
	// yet by its client; released when the grace period ends.
	Unreclaimed bool `json:"unreclaimed"`
	// Durable: the SMB open (or a lease of one) is a durable handle;
	// Disconnected: its client's connection is gone and the handle waits
	// for a reconnect.
	Durable      bool `json:"durable"`
	Disconnected bool `json:"disconnected"`
}

func (l *locks) entries() []LockEntry {
	snap := l.mgr.Snapshot()
	names, _ := l.shareNames()
	out := make([]LockEntry, 0, len(snap))
	// Durable SMB opens, by the owners of their entries: the open, and the
	// holder of its caching grant. A prior entry is its twin's.
	durable := map[lock.Owner]bool{} // owner -> disconnected
	if srv := l.smb.Load(); srv != nil {
		for _, d := range srv.DurableOpens() {
			o := lock.SMBOwner(d.Client, d.Persistent)
			durable[o] = durable[o] || d.Disconnected
			durable[d.Holder] = durable[d.Holder] || d.Disconnected
		}
	}
	for _, e := range snap {
		le := LockEntry{
			File:        e.File.String(),
			Share:       names[e.File.Share],
			Locking:     l.mgr.Locking(e.File.Share).String(),
			Kind:        e.Kind.String(),
			Proto:       e.Owner.Proto.String(),
			Owner:       ownerText(e.Owner),
			Client:      e.Owner.Host,
			Age:         e.Age,
			Waiting:     e.Waiting,
			Unreclaimed: e.Owner.Prior,
		}
		live := e.Owner
		live.Prior = false
		if disc, ok := durable[live]; ok && live.Proto == lock.SMB {
			le.Durable, le.Disconnected = true, disc
		}
		switch e.Kind {
		case lock.KindShare:
			le.Mode = accessText(byte(e.Access)) + "/" + accessText(byte(e.ShareAccess))
		case lock.KindCaching:
			le.Mode = e.Caching.String()
		default:
			le.Mode = e.Mode.String()
			le.Offset, le.Length = e.Range.Offset, e.Range.Length
		}
		out = append(out, le)
	}
	return out
}

// accessText spells read, write and delete bits as "rwd", "-" for each
// missing one.
func accessText(b byte) string {
	s := []byte("---")
	for i, c := range "rwd" {
		if b&(1<<i) != 0 {
			s[i] = byte(c)
		}
	}
	return string(s)
}

func ownerText(o lock.Owner) string {
	if o.IsPlaceholder() {
		return "claim (ranges lost in a crash of the machine)"
	}
	switch o.Proto {
	case lock.SMB:
		if o.OH != "" {
			return fmt.Sprintf("lease %x", o.OH)
		}
		return fmt.Sprintf("open %x", o.Open)
	}
	s := fmt.Sprintf("svid %d", o.Svid)
	if o.OH != "" {
		s += " oh " + printable(o.OH)
	}
	return s
}

// printable shows an owner handle as text when it is (Linux sends
// "pid@host"), else as hex, cut to a readable length.
func printable(s string) string {
	text := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			text = false
			break
		}
	}
	if !text {
		s = fmt.Sprintf("%x", s)
	}
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}
