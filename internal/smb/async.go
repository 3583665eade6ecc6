package smb

import (
	"context"
	"sync"
	"sync/atomic"
)

// Pending is a request that went asynchronous: the client got an interim
// STATUS_PENDING response with its AsyncId and waits for the final one.
type Pending struct {
	id      uint64
	c       *Conn
	hdr     Header // the request's header
	session *Session
	encrypt *Session // set when the interim response is built
	ctx     context.Context
	cancel  context.CancelFunc
	ready   chan struct{} // closed once the interim response is sent

	// ended, when set, is called instead of cancelling the request when
	// its session ends; it completes the request itself, with
	// completeAfterEnd. Guarded by the connection's mu.
	ended    func()
	afterEnd atomic.Bool // send the final response although the session ended

	// then, when set, takes the final response instead of sending it;
	// set before ready is closed.
	then func(w *Response)

	once sync.Once
}

// newPending registers an asynchronous request.
func (c *Conn) newPending(r *Request) *Pending {
	p := &Pending{c: c, hdr: r.Header, session: r.Session, ready: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancel(c.ctx)
	c.mu.Lock()
	c.nextAsync++
	p.id = c.nextAsync
	c.pending[p.id] = p
	early := c.early.take(r.Header.MessageID)
	c.mu.Unlock()
	if early {
		p.cancel()
	}
	return p
}

// earlyCancels remembers the MessageIds of the last CANCELs that found
// nothing to cancel. Requests run concurrently, so a CANCEL sent right
// after its request can be served before the request went asynchronous;
// it then cancels the request as soon as it does. MessageIds are never
// reused on a connection, so a remembered one that never goes async does
// no harm and is soon forgotten.
type earlyCancels struct {
	ids  [8]uint64
	next int
}

func (e *earlyCancels) add(id uint64) {
	e.ids[e.next] = id
	e.next = (e.next + 1) % len(e.ids)
}

func (e *earlyCancels) take(id uint64) bool {
	for i, x := range e.ids {
		if x == id && id != 0 {
			e.ids[i] = 0
			return true
		}
	}
	return false
}

// ID is the AsyncId.
func (p *Pending) ID() uint64 { return p.id }

// Context is cancelled when the client sends CANCEL for the request, when
// its session logs off and when the connection goes. The handler then
// completes the request with STATUS_CANCELLED.
func (p *Pending) Context() context.Context { return p.ctx }

// Complete sends the final response, built by fill as a handler builds a
// synchronous one. Only the first call has an effect; it may come from any
// goroutine, the handler's own included. The final response always
// follows the interim one: until that is sent, fill and the send wait on a
// goroutine of their own. Nothing is sent if the session or connection is
// gone.
func (p *Pending) Complete(fill func(w *Response)) {
	p.once.Do(func() {
		select {
		case <-p.ready:
			p.complete(fill)
		default:
			go func() {
				<-p.ready
				p.complete(fill)
			}()
		}
	})
}

func (p *Pending) complete(fill func(w *Response)) {
	c := p.c
	c.mu.Lock()
	delete(c.pending, p.id)
	c.mu.Unlock()
	p.cancel()
	if p.session != nil && !p.afterEnd.Load() && !p.session.valid() {
		return
	}
	w := newResponse()
	fill(w)
	if w.Len() == 0 {
		w.errorBody()
	}
	h := Header{
		CreditCharge: p.hdr.CreditCharge,
		Status:       w.Status,
		Command:      p.hdr.Command,
		Flags:        FlagResponse | FlagAsync,
		MessageID:    p.hdr.MessageID,
		AsyncID:      p.id,
		SessionID:    p.hdr.SessionID,
	}
	s := p.session
	if p.encrypt == nil && s != nil && s.signer != nil && (p.hdr.Flags&FlagSigned != 0 || s.signingRequired) {
		w.signer = s.signerFor(c)
		h.Flags |= FlagSigned
	}
	h.encode(w.buf)
	if p.then != nil {
		p.then(w)
		return
	}
	if err := c.send([]*Response{w}, p.encrypt); err != nil {
		c.nc.Close()
	}
}

// cancelRequest serves CANCEL: it names its target by AsyncId when it has
// the async flag, else by MessageId. CANCEL has no response; the target
// completes with STATUS_CANCELLED.
func (c *Conn) cancelRequest(h Header) {
	c.mu.Lock()
	var p *Pending
	if h.Flags&FlagAsync != 0 {
		p = c.pending[h.AsyncID]
	} else {
		for _, q := range c.pending {
			if q.hdr.MessageID == h.MessageID {
				p = q
				break
			}
		}
		if p == nil {
			c.early.add(h.MessageID)
		}
	}
	c.mu.Unlock()
	if p != nil && p.hdr.SessionID == h.SessionID {
		p.cancel()
	}
}

// cancelSession cancels the pending requests of a session that ends, or
// lets those that asked end themselves.
func (c *Conn) cancelSession(s *Session) {
	c.mu.Lock()
	var ps []*Pending
	var ends []func()
	for _, p := range c.pending {
		switch {
		case p.session != s:
		case p.ended != nil:
			ends = append(ends, p.ended)
		default:
			ps = append(ps, p)
		}
	}
	c.mu.Unlock()
	for _, end := range ends {
		end()
	}
	for _, p := range ps {
		p.cancel()
	}
}

// onSessionEnd makes end run, instead of a cancellation, when the
// request's session ends.
func (p *Pending) onSessionEnd(end func()) {
	p.c.mu.Lock()
	p.ended = end
	p.c.mu.Unlock()
}

// completeAfterEnd is Complete for a request whose session is ending: the
// final response is sent all the same, signed as the session signed.
func (p *Pending) completeAfterEnd(fill func(w *Response)) {
	p.afterEnd.Store(true)
	p.Complete(fill)
}
