package nlm

import (
	"context"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
	"github.com/tandemfs/tandem/internal/rpcauth"
)

// Monitor is the server's own status monitor (NSM). The Handler tells it
// which client hosts hold locks, so that it can notify them when this
// server restarts, and when a host's state is gone.
type Monitor interface {
	// Monitor records that host holds locks and talks to the server at
	// server from client. The Handler calls it when a host first locks,
	// or locks from a new address: not on every request.
	Monitor(host string, client, server netip.Addr)
	// Unmonitor forgets host (it rebooted, or freed all its locks).
	Unmonitor(host string)
}

// Event is a lock outcome the Handler counts.
type Event uint8

// Events.
const (
	EventGranted  Event = iota // a lock granted, at once or to a waiter
	EventDenied                // a lock refused because another owner holds a conflicting one
	EventBlocked               // a blocking lock queued to wait
	EventDeadlock              // a lock refused, or a waiter dropped, to break a deadlock
	numEvents
)

// Metrics counts events (the server exports them to Prometheus).
// Count must be cheap and safe for concurrent use.
type Metrics interface {
	Count(Event)
}

// Defaults for Options.
const (
	DefaultGrantTimeout = 5 * time.Second
	DefaultGrantRetries = 6
	DefaultGrantBackoff = 250 * time.Millisecond
)

// Options configure a Handler. The zero value is usable.
type Options struct {
	// Logger receives callback failures. Nil means slog.Default().
	Logger *slog.Logger
	// Monitor is told which hosts hold locks; nil means none is.
	Monitor Monitor
	// Notices receives the lock manager's notices that a call of this
	// Handler caused. They may concern waiters of any protocol (an NLM
	// UNLOCK can grant a waiting SMB lock), so the server routes them and
	// gives the NLM ones back to Deliver. Nil means Deliver.
	Notices func([]lock.Notice)
	// Metrics counts lock outcomes; nil counts nothing.
	Metrics Metrics
	// PortmapPort is the port of a client's portmapper, through which
	// callbacks find the client's NLM service. Zero means 111; tests run
	// their own portmapper elsewhere.
	PortmapPort int
	// Name is the caller name the server gives in its callbacks. Empty
	// means the host name.
	Name string
	// GrantTimeout bounds one GRANTED callback, and the wait for the
	// GRANTED_RES that answers a GRANTED_MSG. Zero means
	// DefaultGrantTimeout.
	GrantTimeout time.Duration
	// GrantRetries is how many times a GRANTED callback is tried before the
	// lock is given back (the client finds it again when it polls). Zero
	// means DefaultGrantRetries.
	GrantRetries int
	// GrantBackoff is the pause after the first failed try; it doubles
	// with each try. Zero means DefaultGrantBackoff.
	GrantBackoff time.Duration
	// Journal persists the lock manager's table: a grant is answered
	// once it is durable. Nil persists nothing.
	Journal lock.Journal
	// BreakWait bounds how long a LOCK or TEST waits for SMB clients to
	// give up write caching of the file (they flush, and send the
	// byte-range locks they kept to themselves) before the client is told
	// to retry. Zero means DefaultBreakWait.
	BreakWait time.Duration
	// BreakTimeout is how long a break waits for its acknowledgment before
	// it is revoked. Zero means lock.DefaultBreakTimeout.
	BreakTimeout time.Duration
}

// DefaultBreakWait is Options.BreakWait's default.
const DefaultBreakWait = 2 * time.Second

// Handler serves NLM versions 1, 3 and 4 over a lock manager shared with
// the server's other protocols. It implements rpc.Handler and is safe for
// concurrent use. Close stops its callbacks.
type Handler struct {
	fs      *fs.FS
	mgr     *lock.Manager
	log     *slog.Logger
	monitor Monitor
	route   func([]lock.Notice)
	metrics Metrics
	name    string

	grantTimeout time.Duration
	grantRetries int
	grantBackoff time.Duration
	ports        portCache
	journal      lock.Journal
	breakWait    time.Duration
	breakTimeout time.Duration

	ctx    context.Context // ends with Close; bounds every callback
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	pending  map[lock.WaiterID]*blocked // blocking LOCKs waiting in the manager
	grants   map[lock.WaiterID]*grant   // granted waiters whose client is being told
	awaiting map[resKey]*grant          // GRANTED_MSG sent, GRANTED_RES not yet in
	hosts    hostBook
}

// New returns a Handler serving the files of fsys, locked in mgr.
func New(fsys *fs.FS, mgr *lock.Manager, opt Options) *Handler {
	h := &Handler{
		fs:           fsys,
		mgr:          mgr,
		log:          opt.Logger,
		monitor:      opt.Monitor,
		route:        opt.Notices,
		metrics:      opt.Metrics,
		name:         opt.Name,
		grantTimeout: opt.GrantTimeout,
		grantRetries: opt.GrantRetries,
		grantBackoff: opt.GrantBackoff,
		journal:      opt.Journal,
		breakWait:    opt.BreakWait,
		breakTimeout: opt.BreakTimeout,
		pending:      make(map[lock.WaiterID]*blocked),
		grants:       make(map[lock.WaiterID]*grant),
		awaiting:     make(map[resKey]*grant),
		hosts:        hostBook{m: make(map[string]*hostRec)},
	}
	h.ports.pmapPort = opt.PortmapPort
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.route == nil {
		h.route = h.Deliver
	}
	if h.name == "" {
		h.name, _ = os.Hostname()
	}
	if h.grantTimeout <= 0 {
		h.grantTimeout = DefaultGrantTimeout
	}
	if h.grantRetries <= 0 {
		h.grantRetries = DefaultGrantRetries
	}
	if h.grantBackoff <= 0 {
		h.grantBackoff = DefaultGrantBackoff
	}
	if h.journal == nil {
		h.journal = lock.NoJournal{}
	}
	if h.breakWait <= 0 {
		h.breakWait = DefaultBreakWait
	}
	if h.breakTimeout <= 0 {
		h.breakTimeout = lock.DefaultBreakTimeout
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h
}

// Programs are the registrations of h with an rpc.Server: NLM versions
// 1, 3 and 4. (Version 2 was never defined.)
func (h *Handler) Programs() []rpc.Program {
	return []rpc.Program{
		{Prog: Program, Low: Version1, High: Version1, Name: "nlm", Handler: h},
		{Prog: Program, Low: Version3, High: Version4, Name: "nlm", Handler: h},
	}
}

// Close stops the callbacks in progress and waits for them. Locks stay
// as they are.
func (h *Handler) Close() {
	// Under mu, so that Deliver starts no callback once Wait may run.
	h.mu.Lock()
	h.cancel()
	h.mu.Unlock()
	h.wg.Wait()
}

// count records an event if metrics are on.
func (h *Handler) count(e Event) {
	if h.metrics != nil {
		h.metrics.Count(e)
	}
}

// validProc reports whether vers defines proc: 0 to 15 everywhere, 20 to
// 23 from version 3 on.
func validProc(vers, proc uint32) bool {
	return proc <= ProcGrantedRes || (vers >= Version3 && proc >= ProcShare && proc <= ProcFreeAll)
}

// isMsg reports whether proc is one of the one-way _MSG procedures, whose
// result goes back in a _RES call rather than in the reply.
func isMsg(proc uint32) bool { return proc >= ProcTestMsg && proc <= ProcGrantedMsg }

// ServeRPC decodes one NLM call, runs it and encodes its result.
func (h *Handler) ServeRPC(ctx context.Context, c *rpc.Call, w *xdr.Writer) error {
	if !validProc(c.Vers, c.Proc) {
		return rpc.ErrProcUnavail
	}
	switch c.Proc {
	case ProcNull:
		return nil
	case ProcTest, ProcTestMsg:
		return h.serveTest(ctx, c, w)
	case ProcLock, ProcLockMsg, ProcNMLock:
		return h.serveLock(ctx, c, w)
	case ProcCancel, ProcCancelMsg:
		return h.serveCancel(c, w)
	case ProcUnlock, ProcUnlockMsg:
		return h.serveUnlock(ctx, c, w)
	case ProcGranted, ProcGrantedMsg:
		return h.serveGranted(c, w)
	case ProcTestRes:
		return serveTestRes(c)
	case ProcLockRes, ProcCancelRes, ProcUnlockRes:
		var a resArgs
		readRes(c.Args, &a)
		return argsErr(c)
	case ProcGrantedRes:
		return h.serveGrantedRes(c)
	case ProcShare:
		return h.serveShare(ctx, c, w)
	case ProcUnshare:
		return h.serveUnshare(ctx, c, w)
	case ProcFreeAll:
		return h.serveFreeAll(c)
	}
	return rpc.ErrProcUnavail
}

func argsErr(c *rpc.Call) error {
	if c.Args.Err() != nil {
		return rpc.ErrGarbageArgs
	}
	return nil
}

// peer is where a call came from and how: what a callback to the same
// client needs. Callbacks go only to the address a request came from, and
// leave from the address it came to, which is the server a client
// expects to hear from.
type peer struct {
	remote  netip.Addr
	local   netip.Addr
	network string // "tcp" or "udp"
	vers    uint32
}

func peerOf(c *rpc.Call) peer {
	return peer{remote: rpc.IPOf(c.RemoteAddr), local: rpc.IPOf(c.LocalAddr), network: c.Network, vers: c.Vers}
}

// answer sends a procedure's result: in the reply for the synchronous
// procedures, in the matching _RES call back to the client for the _MSG
// ones, whose own reply is empty.
func (h *Handler) answer(c *rpc.Call, w *xdr.Writer, enc func(*xdr.Writer)) {
	if !isMsg(c.Proc) {
		enc(w)
		return
	}
	mw := xdr.NewWriter(make([]byte, 0, 64))
	enc(mw)
	h.sendRes(peerOf(c), c.Proc+ProcTestRes-ProcTestMsg, mw.Bytes())
}

// callerOf maps the RPC credential to the file system's caller, for the
// share's client rules. The rpc layer admits no flavor rpcauth refuses;
// one that got through would count as anonymous.
func callerOf(c *rpc.Call) fs.Caller {
	var cl fs.Caller
	if rpcauth.Caller(c, &cl) != nil {
		cl = fs.Caller{Anonymous: true, Addr: rpc.IPOf(c.RemoteAddr)}
	}
	return cl
}

// fileOf resolves a lock's file handle, checking that the file exists and
// that the share admits the caller.
func (h *Handler) fileOf(ctx context.Context, c *rpc.Call, fh []byte) (lock.FileKey, Stat) {
	hd, err := fs.ParseHandle(fh)
	if err != nil {
		return lock.FileKey{}, StatStaleFH
	}
	cl := callerOf(c)
	if _, _, err := h.fs.Access(ctx, &cl, hd, 0); err != nil {
		return lock.FileKey{}, statOfErr(err)
	}
	return lock.KeyOf(hd), StatGranted
}

// keyOf resolves a handle without looking the file up: for requests that
// only give state back (UNLOCK, CANCEL, UNSHARE), which must work even
// for a file removed meanwhile.
func keyOf(fh []byte) (lock.FileKey, Stat) {
	hd, err := fs.ParseHandle(fh)
	if err != nil {
		return lock.FileKey{}, StatStaleFH
	}
	return lock.KeyOf(hd), StatGranted
}

func modeOf(exclusive bool) lock.Mode {
	if exclusive {
		return lock.Exclusive
	}
	return lock.Shared
}
