package rpc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// ErrServerClosed is returned by ServeTCP and ServeUDP after Shutdown.
var ErrServerClosed = errors.New("rpc: server closed")

// Defaults for ServerOptions.
const (
	// DefaultMaxRecordSize leaves room for the largest NFS WRITE a client
	// negotiates (1 MiB) many times over, plus headers.
	DefaultMaxRecordSize = 9 << 20
	// DefaultMaxFragments is generous: clients send one fragment per
	// record, though some split at 8 KiB.
	DefaultMaxFragments = 4096
	// DefaultMaxInFlight matches the slot tables of common clients.
	DefaultMaxInFlight = 64
	// DefaultIdleTimeout is how long Linux's server keeps a silent
	// connection.
	DefaultIdleTimeout = 6 * time.Minute
)

// ServerOptions configure a Server. The zero value gives the defaults.
type ServerOptions struct {
	// Logger receives connection-level events (a record over the size
	// limit, a handler panic). Nil means slog.Default().
	Logger *slog.Logger
	// MaxRecordSize bounds one incoming record on a stream; a peer that
	// sends more loses its connection. Zero means DefaultMaxRecordSize.
	MaxRecordSize int
	// MaxFragments bounds the fragments of one record. Zero means
	// DefaultMaxFragments.
	MaxFragments int
	// MaxInFlightPerConn bounds the calls being handled at once for one
	// TCP connection or one UDP socket; once reached, the server stops
	// reading from it until a call completes. Zero means
	// DefaultMaxInFlight.
	MaxInFlightPerConn int
	// IdleTimeout closes a TCP connection that has sent nothing and has no
	// call in flight for this long; it also bounds the time to receive one
	// record and to write one reply. Zero means DefaultIdleTimeout; a
	// negative value disables the timeouts.
	IdleTimeout time.Duration
}

// Server serves registered programs over TCP and UDP.
type Server struct {
	log         *slog.Logger
	maxRecord   int
	maxFrags    int
	maxInFlight int
	idle        time.Duration

	// forcePktinfo turns packet info on for sockets bound to a specific
	// address too, so that tests on loopback exercise that path.
	forcePktinfo bool

	progs atomic.Pointer[progTable]
	regMu sync.Mutex // serializes Register

	baseCtx context.Context
	cancel  context.CancelFunc

	closing   atomic.Bool
	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	packets   map[net.PacketConn]struct{}
	conns     map[*conn]struct{}
	active    sync.WaitGroup // connection and packet loops, each with its handlers
}

// progTable maps a program number to its registered version ranges. It is
// never modified once published.
type progTable map[uint32][]Program

// NewServer returns a Server with no programs.
func NewServer(opt ServerOptions) *Server {
	s := &Server{
		log:         opt.Logger,
		maxRecord:   opt.MaxRecordSize,
		maxFrags:    opt.MaxFragments,
		maxInFlight: opt.MaxInFlightPerConn,
		idle:        opt.IdleTimeout,
		listeners:   make(map[net.Listener]struct{}),
		packets:     make(map[net.PacketConn]struct{}),
		conns:       make(map[*conn]struct{}),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.maxRecord <= 0 {
		s.maxRecord = DefaultMaxRecordSize
	}
	if s.maxFrags <= 0 {
		s.maxFrags = DefaultMaxFragments
	}
	if s.maxInFlight <= 0 {
		s.maxInFlight = DefaultMaxInFlight
	}
	if s.idle == 0 {
		s.idle = DefaultIdleTimeout
	}
	s.baseCtx, s.cancel = context.WithCancel(context.Background())
	s.progs.Store(&progTable{})
	return s
}

// Register adds a program's version range. A program may be registered
// several times with disjoint version ranges (one handler for NLM v1-3,
// another for v4). Register panics on a missing handler, an empty range or
// an overlap, as these are wiring mistakes. It may be called while serving.
func (s *Server) Register(p Program) {
	if p.Handler == nil || p.Low > p.High {
		panic(fmt.Sprintf("rpc: bad registration of program %d versions %d-%d", p.Prog, p.Low, p.High))
	}
	s.regMu.Lock()
	defer s.regMu.Unlock()
	old := *s.progs.Load()
	for _, q := range old[p.Prog] {
		if p.Low <= q.High && q.Low <= p.High {
			panic(fmt.Sprintf("rpc: program %d versions %d-%d registered twice", p.Prog, p.Low, p.High))
		}
	}
	t := make(progTable, len(old)+1)
	for k, v := range old {
		t[k] = v
	}
	vs := append(slices.Clip(old[p.Prog]), p)
	slices.SortFunc(vs, func(a, b Program) int { return cmp.Compare(a.Low, b.Low) })
	t[p.Prog] = vs
	s.progs.Store(&t)
}

// Programs returns the registered programs ordered by number and version.
func (s *Server) Programs() []Program {
	t := *s.progs.Load()
	var ps []Program
	for _, vs := range t {
		ps = append(ps, vs...)
	}
	slices.SortFunc(ps, func(a, b Program) int {
		if a.Prog != b.Prog {
			return cmp.Compare(a.Prog, b.Prog)
		}
		return cmp.Compare(a.Low, b.Low)
	})
	return ps
}

// lookup finds the handler for prog and vers. When prog is known but vers
// is not, it reports the lowest and highest versions served.
func (s *Server) lookup(prog, vers uint32) (h Handler, known bool, low, high uint32) {
	vs := (*s.progs.Load())[prog]
	if len(vs) == 0 {
		return nil, false, 0, 0
	}
	low, high = vs[0].Low, vs[0].High
	for _, p := range vs {
		if vers >= p.Low && vers <= p.High {
			return p.Handler, true, 0, 0
		}
		high = max(high, p.High)
	}
	return nil, true, low, high
}

// request is the state of one call from decoding to reply. Requests are
// pooled with their buffers, so a steady stream of calls allocates little.
type request struct {
	rec  []byte     // the incoming message; Call.Args reads from it
	args xdr.Reader // Call.Args
	call Call
	w    xdr.Writer // the handler's results
	hdr  [48]byte   // room for a record mark and the longest reply header
	from net.Addr   // UDP: where the reply goes
	oob  []byte     // UDP: control data to send the reply from the address called
	conn *conn      // TCP: the connection, while a worker serves the call
	h    Handler    // TCP: the handler, while a worker serves the call
}

// maxPooledBuf keeps one huge call (a 9 MiB record) from pinning its
// buffer in the pool forever; buffers for 1 MiB READ and WRITE stay.
const maxPooledBuf = 2<<20 + 64<<10

var requestPool = sync.Pool{New: func() any {
	r := new(request)
	r.call.Args = &r.args
	return r
}}

func getRequest() *request { return requestPool.Get().(*request) }

func putRequest(r *request) {
	if cap(r.rec) > maxPooledBuf {
		r.rec = nil
	}
	if cap(r.w.Bytes()) > maxPooledBuf {
		r.w = xdr.Writer{}
	}
	r.w.Reset()
	r.args.Reset(nil)
	r.rec = r.rec[:0]
	r.call = Call{Args: &r.args}
	r.from = nil
	r.oob = r.oob[:0]
	requestPool.Put(r)
}

// outcome is how a call is answered.
type outcome int

const (
	replyNone    outcome = iota // send nothing
	replyResults                // accepted SUCCESS, then the handler's results
	replyHeader                 // the reply header alone
)

// prepare decodes req.rec. When the RPC layer answers the call itself it
// returns a nil handler with the answer; the reply header (without record
// mark) is built in req.hdr[4:]. notRPC reports a message that shows the
// peer is not speaking RPC.
func (s *Server) prepare(req *request, names *nameCache) (h Handler, out outcome, hdr []byte, notRPC bool) {
	c := &req.call
	hdr = req.hdr[4:4]
	verdict, authStat := decodeCall(req.rec, c, names)
	switch verdict {
	case verdictReply, verdictShort:
		return nil, replyNone, nil, false
	case verdictNotRPC:
		return nil, replyNone, nil, true
	case verdictRPCMismatch:
		return nil, replyHeader, appendRPCMismatch(hdr, c.XID), false
	case verdictAuthError:
		return nil, replyHeader, appendAuthError(hdr, c.XID, authStat), false
	}
	h, known, low, high := s.lookup(c.Prog, c.Vers)
	if h == nil {
		if known {
			return nil, replyHeader, appendProgMismatch(hdr, c.XID, low, high), false
		}
		return nil, replyHeader, appendAccepted(hdr, c.XID, ProgUnavail), false
	}
	return h, replyNone, nil, false
}

// handle runs the handler of a prepared call and returns the answer.
func (s *Server) handle(h Handler, req *request) (outcome, []byte) {
	c := &req.call
	hdr := req.hdr[4:4]
	err := s.run(h, c, &req.w)
	switch {
	case err == nil && c.Args.Err() == nil:
		return replyResults, appendAccepted(hdr, c.XID, Success)
	case errors.Is(err, ErrDrop):
		return replyNone, nil
	case errors.Is(err, ErrProcUnavail):
		return replyHeader, appendAccepted(hdr, c.XID, ProcUnavail)
	case errors.Is(err, ErrAuthTooWeak):
		return replyHeader, appendAuthError(hdr, c.XID, AuthTooWeak)
	case c.Args.Err() != nil || errors.Is(err, ErrGarbageArgs) || isDecodeError(err):
		// A handler that read past the end of its arguments was given
		// garbage, whatever it returned.
		return replyHeader, appendAccepted(hdr, c.XID, GarbageArgs)
	default:
		if !errors.Is(err, ErrSystem) && !errors.Is(err, errPanic) {
			s.log.Warn("rpc: handler error", "prog", c.Prog, "vers", c.Vers, "proc", c.Proc, "remote", c.RemoteAddr, "err", err)
		}
		return replyHeader, appendAccepted(hdr, c.XID, SystemErr)
	}
}

func isDecodeError(err error) bool {
	return errors.Is(err, xdr.ErrShort) || errors.Is(err, xdr.ErrTooLong) || errors.Is(err, xdr.ErrBadBool)
}

var errPanic = errors.New("rpc: handler panicked")

// run calls the handler, turning a panic into errPanic so that one bad
// call costs one SYSTEM_ERR reply, not the connection or the process.
func (s *Server) run(h Handler, c *Call, w *xdr.Writer) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("rpc: handler panic", "prog", c.Prog, "vers", c.Vers, "proc", c.Proc, "remote", c.RemoteAddr,
				"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = errPanic
		}
	}()
	return h.ServeRPC(s.baseCtx, c, w)
}

// track adds a listener or packet conn to the set Shutdown closes. It
// reports false once the server is shutting down.
func (s *Server) track(l net.Listener, pc net.PacketConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return false
	}
	if l != nil {
		s.listeners[l] = struct{}{}
	}
	if pc != nil {
		s.packets[pc] = struct{}{}
	}
	s.active.Add(1)
	return true
}

func (s *Server) untrack(l net.Listener, pc net.PacketConn) {
	s.mu.Lock()
	delete(s.listeners, l)
	delete(s.packets, pc)
	s.mu.Unlock()
	s.active.Done()
}

// aLongTimeAgo is a deadline that has passed, to wake blocked readers.
var aLongTimeAgo = time.Unix(1, 0)

// Shutdown stops the server gracefully: it closes the listeners, stops
// reading new calls, lets the calls in flight finish and send their
// replies, then closes every connection. If ctx ends first, the handlers'
// context is cancelled, the connections are closed at once and ctx's error
// is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	for l := range s.listeners {
		l.Close()
	}
	for pc := range s.packets {
		pc.SetReadDeadline(aLongTimeAgo)
	}
	for c := range s.conns {
		c.nc.SetReadDeadline(aLongTimeAgo)
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.active.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		for pc := range s.packets {
			pc.Close()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}
