package smb

import (
	"net/netip"
	"time"

	"github.com/tandemfs/tandem/internal/lock"
)

// Observer is told what the server does, for metrics. Its methods run on
// the serving goroutines, so they must be cheap and must not block.
type Observer interface {
	// Request reports one request served: its command, the status it was
	// answered with (StatusPending when it went asynchronous), the time it
	// took, the client's address, and its request and response bodies
	// (valid only during the call), from which READ and WRITE sizes can
	// be read.
	Request(cmd Command, st Status, d time.Duration, client netip.Addr, req, resp []byte)
	// Lock reports a byte-range lock decision: Granted (at once or to a
	// waiter), Denied, Queued (a request that waits) or Deadlock.
	Lock(st lock.Status)
	// BreakSent reports a lease or oplock break sent to holder, and
	// whether it waits for an acknowledgment; BreakAcked reports that
	// acknowledgment, ok false if it came too late.
	BreakSent(holder lock.Owner, lease, ackRequired bool)
	BreakAcked(holder lock.Owner, ok bool)
	// Accepted reports a new connection.
	Accepted()
}

// observeRequest reports a served request, if anyone listens.
func (c *Conn) observeRequest(h *Header, w *Response, r *Request, t0 time.Time) {
	if o := c.srv.opt.Observer; o != nil && w != nil {
		o.Request(h.Command, w.Status, time.Since(t0), c.remote, r.Body, w.Bytes())
	}
}

func (s *Server) observeLock(st lock.Status) {
	if o := s.opt.Observer; o != nil {
		o.Lock(st)
	}
}

func (s *Server) observeBreak(b *lock.Break) {
	if o := s.opt.Observer; o != nil {
		o.BreakSent(b.Holder, b.Lease, b.AckRequired)
	}
}

func (s *Server) observeAck(holder lock.Owner, st lock.Status) {
	if o := s.opt.Observer; o != nil {
		o.BreakAcked(holder, st == lock.Granted)
	}
}

// armWrite bounds the write about to start by Options.WriteTimeout: a
// client that reads no reply is cut off rather than waited for.
func (c *Conn) armWrite() {
	if d := c.srv.opt.WriteTimeout; d > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(d))
	}
}

// sessionsFull reports whether the server has Options.MaxSessions
// established sessions.
func (s *Server) sessionsFull() bool {
	if s.opt.MaxSessions <= 0 {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions) >= s.opt.MaxSessions
}
