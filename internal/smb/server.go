package smb

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/identity"
	"github.com/tandemfs/tandem/internal/lock"
)

// Dialects, as the DialectRevision of NEGOTIATE.
const (
	Dialect202      uint16 = 0x0202
	Dialect210      uint16 = 0x0210
	Dialect300      uint16 = 0x0300
	Dialect302      uint16 = 0x0302
	Dialect311      uint16 = 0x0311
	dialectWildcard uint16 = 0x02ff // "SMB 2.???": an SMB2 NEGOTIATE follows
)

// ShareOptions are the SMB-only settings of a share.
type ShareOptions struct {
	// Encrypt requires encryption on the share: clients below SMB 3.0 are
	// refused and every request on the tree must come encrypted.
	Encrypt bool
	// Guest lets guest and anonymous sessions connect to the share.
	Guest bool
	// Comment is the remark shown in share listings.
	Comment string
}

// Options configure a Server. The zero value is usable.
type Options struct {
	// Logger receives connection and protocol failures; nil means
	// slog.Default().
	Logger *slog.Logger
	// ServerGUID identifies the server to clients; zero means a random
	// one per Server. Give a stable one so that clients recognise the
	// server across restarts.
	ServerGUID [16]byte
	// Name is the NetBIOS computer name announced in NTLM (default
	// "TANDEM"); Domain the NetBIOS domain (default "WORKGROUP").
	Name, Domain string
	// Share returns the SMB settings of a share by name; nil means every
	// share has the zero ShareOptions.
	Share func(name string) ShareOptions
	// RequireSigning makes every authenticated session sign (guest and
	// anonymous sessions cannot).
	RequireSigning bool
	// Encrypt requires encryption of every authenticated session:
	// clients below SMB 3.0 cannot log on.
	Encrypt bool
	// MapToGuest turns a logon by an unknown user into a guest session
	// (Samba's "map to guest = bad user"); a wrong password for a known
	// user is always STATUS_LOGON_FAILURE.
	MapToGuest bool
	// MinDialect and MaxDialect bound the dialects offered; zero means
	// 2.0.2 and 3.1.1.
	MinDialect, MaxDialect uint16
	// MaxCredits bounds the credits a connection holds; zero means 8192.
	MaxCredits uint16
	// Locks is the unified lock manager the file operations use; nil
	// means a private one.
	Locks *lock.Manager
	// Notices receives the lock manager's notices that a call of this
	// server caused (closing an open or unlocking can grant a waiting NLM
	// lock). The server routes them and gives the SMB ones back to
	// Server.Deliver. Nil means Deliver.
	Notices func([]lock.Notice)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// BreakTimeout is how long an oplock or lease break waits for the
	// client's acknowledgment before it is revoked; zero means 35 s.
	BreakTimeout time.Duration
	// Journal persists the lock manager's table: a byte-range lock is
	// answered once it is durable. Nil persists nothing.
	Journal lock.Journal
	// Durable keeps durable opens across restarts (durablerecord.go); nil
	// means durable handles still work while the server runs, and are
	// forgotten when it stops.
	Durable DurableStore
	// DurableV1Timeout is how long a durable open granted to a DHnQ
	// request outlives its connection; zero means 16 minutes, as on
	// Windows and Samba.
	DurableV1Timeout time.Duration
	// DurableMaxTimeout caps the timeout a DH2Q request asks for; zero
	// means 300 s. A request that asks for none gets 60 s, or the cap if
	// it is lower.
	DurableMaxTimeout time.Duration
	// Observer, if set, is told of requests, locks, breaks and
	// connections, for metrics (observe.go).
	Observer Observer
	// WriteTimeout bounds each write to a client; one that takes no
	// reply bytes for this long loses its connection. Zero: no bound.
	WriteTimeout time.Duration
	// MaxSessions bounds the sessions of the server; a logon over it is
	// answered STATUS_INSUFFICIENT_RESOURCES. Zero: no bound.
	MaxSessions int
	// HandshakeTimeout closes a connection that has no session this long
	// after it was accepted (a client that sends nothing, dribbles, or
	// keeps failing to log on); OnHandshakeTimeout, if set, is told of
	// each. Zero: no bound.
	HandshakeTimeout   time.Duration
	OnHandshakeTimeout func()
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("smb: server closed")

// Server is an SMB2/3 server over a file system.
type Server struct {
	fs    *fs.FS
	ids   *identity.Store
	opt   Options
	log   *slog.Logger
	guid  [16]byte
	start time.Time

	closing atomic.Bool
	wg      sync.WaitGroup

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*Conn]struct{}
	sessions  map[uint64]*Session // every established session, for reconnects
	nextSID   uint64

	ops serverOps // the file operations' server-wide state (fileops.go)
}

// New returns a Server over fsys authenticating against ids.
func New(fsys *fs.FS, ids *identity.Store, opt Options) *Server {
	s := &Server{
		fs:        fsys,
		ids:       ids,
		opt:       opt,
		log:       opt.Logger,
		guid:      opt.ServerGUID,
		listeners: map[net.Listener]struct{}{},
		conns:     map[*Conn]struct{}{},
		sessions:  map[uint64]*Session{},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.opt.Now == nil {
		s.opt.Now = time.Now
	}
	if s.opt.Name == "" {
		s.opt.Name = "TANDEM"
	}
	if s.opt.Domain == "" {
		s.opt.Domain = "WORKGROUP"
	}
	if s.opt.MinDialect == 0 {
		s.opt.MinDialect = Dialect202
	}
	if s.opt.MaxDialect == 0 {
		s.opt.MaxDialect = Dialect311
	}
	if s.opt.MaxCredits == 0 {
		s.opt.MaxCredits = 8192
	}
	if s.opt.Locks == nil {
		s.opt.Locks = lock.New(lock.Config{Limits: lock.DefaultLimits})
	}
	s.ops.init(s.opt.Now())
	if s.guid == [16]byte{} {
		rand.Read(s.guid[:])
	}
	var b [8]byte
	rand.Read(b[:])
	// Session ids start at a random point so that ids of a previous run are
	// unlikely to name a session of this one.
	s.nextSID = uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 | uint64(b[3])<<16 | 1
	s.start = s.opt.Now()
	return s
}

// FS is the file system the server serves.
func (s *Server) FS() *fs.FS { return s.fs }

// Serve accepts connections on l until Shutdown or an accept error, and
// serves each on its own goroutine.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if s.opt.Observer != nil {
			s.opt.Observer.Accepted()
		}
		c := newConn(s, nc)
		s.mu.Lock()
		if s.closing.Load() {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		c.armHandshake()
		go func() {
			defer s.wg.Done()
			c.serve()
		}()
	}
}

// Shutdown stops accepting, closes every connection and waits for their
// goroutines until ctx ends. SMB has no graceful drain: clients reconnect
// and, with durable handles, resume.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		s.stopDurable()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// shareOptions is the SMB settings of a share.
func (s *Server) shareOptions(name string) ShareOptions {
	if s.opt.Share == nil {
		return ShareOptions{}
	}
	return s.opt.Share(name)
}

// newSessionID returns an unused session id.
func (s *Server) newSessionID() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		s.nextSID++
		id := s.nextSID
		if id == 0 || id == ^uint64(0) {
			continue
		}
		if _, used := s.sessions[id]; !used {
			return id
		}
	}
}

// filetime is t as a Windows FILETIME: 100 ns ticks since 1601.
func filetime(t time.Time) uint64 {
	return uint64(t.UnixNano()/100) + 116444736000000000
}
