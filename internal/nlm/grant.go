package nlm

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// blocked is a blocking LOCK waiting in the lock manager, with what the
// GRANTED callback needs once it is granted. Its slices are its own.
type blocked struct {
	owner     lock.Owner
	file      lock.FileKey
	rng       lock.Range
	exclusive bool
	peer      peer
	msg       bool   // came as LOCK_MSG: the grant goes as GRANTED_MSG
	cookie    []byte // the request's, echoed in the callback
	lock      wireLock
}

// grant is a granted waiter whose client is being told.
type grant struct {
	*blocked
	id lock.WaiterID
	// stopped (under Handler.mu) means the client no longer needs telling:
	// it polled and learned the grant, cancelled, unlocked, or its host
	// is gone. The lock is then not given back when the callback fails.
	stopped bool
	res     chan Stat // GRANTED_RES answers to a GRANTED_MSG
}

// resKey matches a GRANTED_RES with its GRANTED_MSG: the client's address
// and the cookie, which the client echoes.
type resKey struct {
	addr   netip.Addr
	cookie string
}

// enqueue records a queued blocking LOCK (h.mu held) and reports whether it
// is new; a client polling again for the same lock updates the record, so
// that the callback answers its latest request.
func (h *Handler) enqueue(id lock.WaiterID, req lock.Request, p peer, a *lockArgs, msg bool) bool {
	b := h.pending[id]
	fresh := b == nil
	if fresh {
		b = &blocked{owner: req.Owner, file: req.File, rng: req.Range, exclusive: a.exclusive, lock: a.lock.clone()}
		h.pending[id] = b
	}
	b.peer, b.msg = p, msg
	b.cookie = append(b.cookie[:0], a.cookie...)
	return fresh
}

// Deliver acts on notices about NLM waiters: a granted one is told with
// a GRANTED callback; one dropped (cancelled with its host, or to break a
// deadlock a later grant made) is forgotten, and its client finds out when
// it polls. Notices about other protocols' waiters are ignored.
func (h *Handler) Deliver(ns []lock.Notice) {
	for i := range ns {
		n := &ns[i]
		if n.Lock.Owner.Proto != lock.NLM {
			continue
		}
		var g *grant
		h.mu.Lock()
		b := h.pending[n.Waiter]
		delete(h.pending, n.Waiter)
		if b != nil && n.Status == lock.Granted && h.ctx.Err() == nil {
			g = &grant{blocked: b, id: n.Waiter}
			h.grants[n.Waiter] = g
			h.wg.Add(1)
		}
		h.mu.Unlock()
		switch n.Status {
		case lock.Granted:
			h.count(EventGranted)
		case lock.Deadlock:
			h.count(EventDeadlock)
		}
		if g != nil {
			go h.runGrant(g)
		}
	}
}

// runGrant tells the client of a granted waiter, with retries. A client
// that refuses the grant (its process gave up waiting) or cannot be
// reached gives the lock back; the client finds it again, if it still
// wants it, when it polls.
func (h *Handler) runGrant(g *grant) {
	defer h.wg.Done()
	pause := h.grantBackoff
	for try := 0; try < h.grantRetries; try++ {
		if try > 0 {
			t := time.NewTimer(pause)
			select {
			case <-t.C:
			case <-h.ctx.Done():
				t.Stop()
				h.finishGrant(g, false)
				return
			}
			pause = min(2*pause, 8*time.Second)
		}
		if h.grantStopped(g) {
			h.finishGrant(g, false)
			return
		}
		if try == 0 {
			// The client hears of the grant only once it is durable.
			if err := h.journal.Granted(h.ctx, g.file, g.owner); err != nil {
				h.log.Error("nlm: lock granted to a waiter but not persisted; given back", "host", g.owner.Host, "err", err)
				h.finishGrant(g, true)
				return
			}
		}
		st, err := h.sendGrant(g)
		if err != nil {
			h.log.Debug("nlm: GRANTED callback failed", "host", g.owner.Host, "addr", g.peer.remote, "try", try+1, "err", err)
			continue
		}
		switch st {
		case StatGranted:
			h.finishGrant(g, false)
			return
		case StatDeniedGrace:
			continue
		}
		h.log.Debug("nlm: client refused a grant; lock given back", "host", g.owner.Host, "stat", st)
		h.finishGrant(g, true)
		return
	}
	if h.ctx.Err() == nil {
		h.log.Warn("nlm: client unreachable for its GRANTED callback; lock given back",
			"host", g.owner.Host, "addr", g.peer.remote, "tries", h.grantRetries)
	}
	h.finishGrant(g, h.ctx.Err() == nil)
}

func (h *Handler) grantStopped(g *grant) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return g.stopped
}

// finishGrant forgets g and, if giveBack and the client did not settle it
// meanwhile, unlocks what was granted.
func (h *Handler) finishGrant(g *grant, giveBack bool) {
	h.mu.Lock()
	stopped := g.stopped
	g.stopped = true
	delete(h.grants, g.id)
	k := resKey{g.peer.remote, string(g.cookie)}
	if h.awaiting[k] == g {
		delete(h.awaiting, k)
	}
	h.mu.Unlock()
	if giveBack && !stopped {
		_, ns := h.mgr.Unlock(g.file, g.owner, g.rng)
		h.journal.Lazy()
		if len(ns) > 0 {
			h.route(ns)
		}
	}
}

// sendGrant makes one GRANTED call, or one GRANTED_MSG and the wait for
// its GRANTED_RES, and returns the client's answer.
func (h *Handler) sendGrant(g *grant) (Stat, error) {
	ctx, cancel := context.WithTimeout(h.ctx, h.grantTimeout)
	defer cancel()
	args := func(w *xdr.Writer) {
		writeTestArgs(w, g.peer.vers == Version4, &testArgs{cookie: g.cookie, exclusive: g.exclusive, lock: g.lock})
	}
	if !g.msg {
		var st Stat
		err := h.call(ctx, g.peer, ProcGranted, args, func(r *xdr.Reader) error {
			r.Opaque(maxNetobj)
			st = Stat(r.Uint32())
			return nil
		})
		return st, err
	}
	h.mu.Lock()
	if g.res == nil {
		g.res = make(chan Stat, 1)
	}
	h.awaiting[resKey{g.peer.remote, string(g.cookie)}] = g
	h.mu.Unlock()
	// The call's own reply is empty; some clients send none, so a
	// timeout here is not yet a failure: the GRANTED_RES is what counts.
	err := h.call(ctx, g.peer, ProcGrantedMsg, args, nil)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return 0, err
	}
	select {
	case st := <-g.res:
		return st, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// grantAnswered hands a GRANTED_RES to the grant waiting for it.
func (h *Handler) grantAnswered(from netip.Addr, cookie []byte, st Stat) {
	h.mu.Lock()
	g := h.awaiting[resKey{from, string(cookie)}]
	h.mu.Unlock()
	if g == nil {
		return
	}
	select {
	case g.res <- st:
	default:
	}
}

// settleGrants marks the callbacks in progress for owner's locks on file
// as no longer needed, and reports whether there were any. With exact, it
// takes only a grant of exactly rng; otherwise every grant that overlaps
// rng.
func (h *Handler) settleGrants(owner lock.Owner, file lock.FileKey, rng lock.Range, exact bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	found := false
	for _, g := range h.grants {
		if g.stopped || g.file != file || g.owner != owner {
			continue
		}
		if exact && g.rng != rng || !exact && !overlap(g.rng, rng) {
			continue
		}
		g.stopped = true
		found = true
	}
	return found
}

// overlap reports whether two NLM ranges share a byte; a length of 0, or
// one that runs past the last offset, reaches to the end of the file.
func overlap(a, b lock.Range) bool {
	last := func(r lock.Range) uint64 {
		if r.Length == 0 || r.Length-1 > ^uint64(0)-r.Offset {
			return ^uint64(0)
		}
		return r.Offset + r.Length - 1
	}
	return a.Offset <= last(b) && b.Offset <= last(a)
}

// releaseHost drops everything an NLM host holds or waits for, grants the
// waiters behind it, and tells the monitor the host is gone.
func (h *Handler) releaseHost(host string) {
	h.mu.Lock()
	for _, g := range h.grants {
		if g.owner.Host == host {
			g.stopped = true
		}
	}
	for id, b := range h.pending {
		if b.owner.Host == host {
			delete(h.pending, id)
		}
	}
	h.mu.Unlock()
	ns := h.mgr.ReleaseHost(lock.NLM, host)
	h.journal.Lazy()
	if len(ns) > 0 {
		h.route(ns)
	}
	h.hosts.drop(host)
	if h.monitor != nil {
		h.monitor.Unmonitor(host)
	}
}

// Rebooted acts on a reboot notification (SM_NOTIFY) that arrived from
// from for name announcing state: every NLM host it concerns loses its
// locks, shares and waiters, and the waiters behind them are granted. It
// returns those hosts.
//
// A host is concerned when its caller name is name (in any case) and the
// notification comes from an address its requests came from or that name
// is (nameIsFrom: the status monitor resolved name to from); or, when name
// is from, when its requests came from from (a client whose status
// monitor names it differently than its lock manager does). A host whose
// latest lock carried this very state has rebooted already and locked
// since: the notification is a replay and changes nothing.
func (h *Handler) Rebooted(name string, state int32, from netip.Addr, nameIsFrom bool) []string {
	hosts := h.hosts.rebooted(name, state, from, nameIsFrom)
	for _, host := range hosts {
		h.releaseHost(host)
	}
	return hosts
}
