package smb

import (
	"context"
	"sync"
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
	c.mu.Unlock()
	return p
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
	if p.session != nil && !p.session.valid() {
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
	}
	c.mu.Unlock()
	if p != nil && p.hdr.SessionID == h.SessionID {
		p.cancel()
	}
}

// cancelSession cancels the pending requests of a session that ends.
func (c *Conn) cancelSession(s *Session) {
	c.mu.Lock()
	var ps []*Pending
	for _, p := range c.pending {
		if p.session == s {
			ps = append(ps, p)
		}
	}
	c.mu.Unlock()
	for _, p := range ps {
		p.cancel()
	}
}
