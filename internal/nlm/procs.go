package nlm

import (
	"context"
	"net/netip"

	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// serveTest answers TEST and TEST_MSG (F_GETLK): whether the lock could be
// had, and if not, the first lock in the way.
func (h *Handler) serveTest(ctx context.Context, c *rpc.Call, w *xdr.Writer) error {
	v4 := c.Vers == Version4
	var a testArgs
	readTestArgs(c.Args, v4, &a)
	if err := argsErr(c); err != nil {
		return err
	}
	key, st := h.fileOf(ctx, c, a.lock.fh)
	var hl holder
	switch {
	case st != StatGranted:
	case h.mgr.InGrace():
		st = StatDeniedGrace
	case !h.awaitWriters(ctx, key):
		st = StatDeniedGrace
	default:
		d := h.mgr.Test(lock.Request{
			File:  key,
			Owner: lock.NLMOwner(string(a.lock.caller), a.lock.svid, a.lock.oh),
			Range: lock.Range{Offset: a.lock.offset, Length: a.lock.length},
			Mode:  modeOf(a.exclusive),
		})
		st = statOf(d.Status)
		if d.Status == lock.Denied {
			hl = holderOf(d.Holder)
		}
	}
	h.answer(c, w, func(w *xdr.Writer) {
		writeTestRes(w, v4, a.cookie, wireStat(c.Vers, st), st == StatDenied, &hl)
	})
	return nil
}

// holderOf describes a conflicting lock as nlm4_holder. A lock of another
// protocol has no svid or owner handle to show.
func holderOf(l lock.Lock) holder {
	hl := holder{exclusive: l.Mode == lock.Exclusive, offset: l.Range.Offset, length: l.Range.Length}
	if l.Owner.Proto == lock.NLM {
		hl.svid, hl.oh = l.Owner.Svid, []byte(l.Owner.OH)
	}
	return hl
}

// serveLock answers LOCK, LOCK_MSG and NM_LOCK.
func (h *Handler) serveLock(ctx context.Context, c *rpc.Call, w *xdr.Writer) error {
	var a lockArgs
	readLockArgs(c.Args, c.Vers == Version4, &a)
	if err := argsErr(c); err != nil {
		return err
	}
	st := h.lock(ctx, c, &a)
	h.answer(c, w, func(w *xdr.Writer) { writeRes(w, a.cookie, wireStat(c.Vers, st)) })
	return nil
}

func (h *Handler) lock(ctx context.Context, c *rpc.Call, a *lockArgs) Stat {
	key, st := h.fileOf(ctx, c, a.lock.fh)
	if st != StatGranted {
		return st
	}
	p := peerOf(c)
	owner := lock.NLMOwner(string(a.lock.caller), a.lock.svid, a.lock.oh)
	req := lock.Request{
		File:  key,
		Owner: owner,
		Range: lock.Range{Offset: a.lock.offset, Length: a.lock.length},
		Mode:  modeOf(a.exclusive),
		Wait:  a.block,
	}
	if a.reclaim {
		h.seen(owner.Host, p, a.state, c.Proc != ProcNMLock)
		return h.reclaim(ctx, req)
	}
	if h.mgr.InGrace() || !h.awaitWriters(ctx, key) {
		return StatDeniedGrace
	}
	h.seen(owner.Host, p, a.state, c.Proc != ProcNMLock)
	var d lock.Decision
	if a.block {
		// The waiter is recorded under h.mu in the same step as it is
		// queued, so that a grant racing in from another call finds it.
		h.mu.Lock()
		d = h.mgr.Lock(req)
		if d.Status == lock.Queued && h.enqueue(d.Waiter, req, p, a, c.Proc == ProcLockMsg) {
			h.count(EventBlocked)
		}
		h.mu.Unlock()
	} else {
		d = h.mgr.Lock(req)
	}
	switch d.Status {
	case lock.Granted:
		if st := h.durable(ctx, req); st != StatGranted {
			if len(d.Notices) > 0 {
				h.route(d.Notices)
			}
			return st
		}
		h.count(EventGranted)
		// A client polling again for a lock granted meanwhile learns it
		// here; a GRANTED callback still on its way is then moot.
		h.settleGrants(owner, key, req.Range, true)
	case lock.Denied:
		h.count(EventDenied)
	case lock.Deadlock:
		h.count(EventDeadlock)
	}
	if len(d.Notices) > 0 {
		h.route(d.Notices)
	}
	return statOf(d.Status)
}

// serveCancel answers CANCEL and CANCEL_MSG: the client no longer wants a
// lock it asked to wait for.
func (h *Handler) serveCancel(c *rpc.Call, w *xdr.Writer) error {
	var a cancelArgs
	readCancelArgs(c.Args, c.Vers == Version4, &a)
	if err := argsErr(c); err != nil {
		return err
	}
	key, st := keyOf(a.lock.fh)
	if st == StatGranted {
		owner := lock.NLMOwner(string(a.lock.caller), a.lock.svid, a.lock.oh)
		rng := lock.Range{Offset: a.lock.offset, Length: a.lock.length}
		if !h.withdraw(key, owner, rng, modeOf(a.exclusive)) {
			// Granted already, and the client perhaps not told yet: it
			// does not want the lock, so it goes back.
			if h.settleGrants(owner, key, rng, true) {
				_, ns := h.mgr.Unlock(key, owner, rng)
				h.journal.Lazy()
				h.route(ns)
			}
		}
	}
	h.answer(c, w, func(w *xdr.Writer) { writeRes(w, a.cookie, wireStat(c.Vers, st)) })
	return nil
}

// withdraw cancels the owner's request waiting for exactly this range and
// mode and reports whether there was one.
func (h *Handler) withdraw(key lock.FileKey, owner lock.Owner, rng lock.Range, mode lock.Mode) bool {
	id, ok := h.mgr.FindWaiter(lock.Request{File: key, Owner: owner, Range: rng, Mode: mode, Wait: true})
	if !ok {
		return false
	}
	ns, ok := h.mgr.Cancel(id)
	if !ok {
		return false // granted between the two steps
	}
	h.mu.Lock()
	delete(h.pending, id)
	h.mu.Unlock()
	h.route(ns)
	return true
}

// serveUnlock answers UNLOCK and UNLOCK_MSG. As in POSIX, unlocking what
// is not held succeeds.
func (h *Handler) serveUnlock(ctx context.Context, c *rpc.Call, w *xdr.Writer) error {
	var a unlockArgs
	readUnlockArgs(c.Args, c.Vers == Version4, &a)
	if err := argsErr(c); err != nil {
		return err
	}
	key, st := keyOf(a.lock.fh)
	if st == StatGranted {
		owner := lock.NLMOwner(string(a.lock.caller), a.lock.svid, a.lock.oh)
		rng := lock.Range{Offset: a.lock.offset, Length: a.lock.length}
		if h.waiting() {
			// An UNLOCK also withdraws the owner's request waiting for
			// the same range, as Linux's server does: a client
			// interrupted while waiting may send UNLOCK rather than
			// CANCEL.
			if !h.withdraw(key, owner, rng, lock.Exclusive) {
				h.withdraw(key, owner, rng, lock.Shared)
			}
			h.settleGrants(owner, key, rng, false)
		}
		var ns []lock.Notice
		var s lock.Status
		s, ns = h.mgr.Unlock(key, owner, rng)
		st = statOf(s)
		if h.mgr.InGrace() {
			// What the owner gives up it need not reclaim first.
			prior := owner
			prior.Prior = true
			_, more := h.mgr.Unlock(key, prior, rng)
			ns = append(ns, more...)
		}
		if len(ns) > 0 {
			h.route(ns)
		}
		if err := h.journal.Released(ctx); err != nil {
			h.log.Error("nlm: unlock not persisted", "host", owner.Host, "err", err)
		}
	}
	h.answer(c, w, func(w *xdr.Writer) { writeRes(w, a.cookie, wireStat(c.Vers, st)) })
	return nil
}

// waiting reports whether any blocking request of this Handler waits or
// is being granted; UNLOCK looks for one of its owner's only then.
func (h *Handler) waiting() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.pending) > 0 || len(h.grants) > 0
}

// serveGranted answers GRANTED and GRANTED_MSG sent to the server. They
// are the server's own callbacks to clients; the server waits for no lock
// as a client, so the answer to GRANTED is DENIED, and GRANTED_MSG gets no
// GRANTED_RES (one more datagram to a forged source would help no one).
func (h *Handler) serveGranted(c *rpc.Call, w *xdr.Writer) error {
	var a testArgs
	readTestArgs(c.Args, c.Vers == Version4, &a)
	if err := argsErr(c); err != nil {
		return err
	}
	if c.Proc == ProcGranted {
		writeRes(w, a.cookie, uint32(StatDenied))
	}
	return nil
}

// serveTestRes accepts a TEST_RES. The server sends no TEST_MSG, so there
// is nothing to match it with.
func serveTestRes(c *rpc.Call) error {
	r := c.Args
	r.Opaque(maxNetobj)
	if r.Uint32() == uint32(StatDenied) {
		r.Bool()
		r.Uint32()
		r.Opaque(maxNetobj)
		if c.Vers == Version4 {
			r.Uint64()
			r.Uint64()
		} else {
			r.Uint32()
			r.Uint32()
		}
	}
	return argsErr(c)
}

// serveGrantedRes takes a client's answer to a GRANTED_MSG.
func (h *Handler) serveGrantedRes(c *rpc.Call) error {
	var a resArgs
	readRes(c.Args, &a)
	if err := argsErr(c); err != nil {
		return err
	}
	h.grantAnswered(rpc.IPOf(c.RemoteAddr), a.cookie, Stat(a.stat))
	return nil
}

// The DOS share modes map onto the lock manager's share reservations:
// the access asked for is the access, and what is not denied is shared.
// NLM knows no delete access, so a share never denies delete.
var (
	shareAccessOf = [...]lock.Access{
		accessNone:      0,
		accessRead:      lock.AccessRead,
		accessWrite:     lock.AccessWrite,
		accessReadWrite: lock.AccessRead | lock.AccessWrite,
	}
	shareModeOf = [...]lock.ShareAccess{
		denyNone:      lock.ShareRead | lock.ShareWrite | lock.ShareDelete,
		denyRead:      lock.ShareWrite | lock.ShareDelete,
		denyWrite:     lock.ShareRead | lock.ShareDelete,
		denyReadWrite: lock.ShareDelete,
	}
)

// serveShare answers SHARE: a DOS-style open reservation (PC-NFS clients).
func (h *Handler) serveShare(ctx context.Context, c *rpc.Call, w *xdr.Writer) error {
	var a shareArgs
	readShareArgs(c.Args, &a)
	if err := argsErr(c); err != nil {
		return err
	}
	key, st := h.fileOf(ctx, c, a.fh)
	owner := lock.NLMOwner(string(a.caller), 0, a.oh)
	switch {
	case st != StatGranted:
	case a.reclaim != h.mgr.InGrace():
		st = StatDeniedGrace // a new share during grace, a reclaim after it
	case a.reclaim && !h.reclaimShare(key, owner):
		st = StatDenied
	default:
		h.seen(owner.Host, peerOf(c), 0, true)
		_, s := h.mgr.AddShare(key, owner, shareAccessOf[a.access], shareModeOf[a.mode])
		st = statOf(s)
		if s == lock.Denied {
			h.count(EventDenied)
		}
		if s == lock.Granted {
			if err := h.journal.Granted(ctx, key, owner); err != nil {
				h.log.Error("nlm: share granted but not persisted; given back", "host", owner.Host, "err", err)
				h.mgr.RemoveShare(key, owner)
				st = StatDeniedNoLocks
			}
		}
	}
	writeShareRes(w, a.cookie, wireStat(c.Vers, st))
	return nil
}

// serveUnshare answers UNSHARE; removing a reservation that is not there
// succeeds.
func (h *Handler) serveUnshare(ctx context.Context, c *rpc.Call, w *xdr.Writer) error {
	var a shareArgs
	readShareArgs(c.Args, &a)
	if err := argsErr(c); err != nil {
		return err
	}
	key, st := keyOf(a.fh)
	if st == StatGranted {
		owner := lock.NLMOwner(string(a.caller), 0, a.oh)
		h.mgr.RemoveShare(key, owner)
		owner.Prior = true
		h.mgr.RemoveShare(key, owner)
		if err := h.journal.Released(ctx); err != nil {
			h.log.Error("nlm: unshare not persisted", "host", owner.Host, "err", err)
		}
	}
	writeShareRes(w, a.cookie, wireStat(c.Vers, st))
	return nil
}

// serveFreeAll answers FREE_ALL, which a client without a status monitor
// sends when it starts: every lock, waiter and share of that host goes.
// Like SM_NOTIFY it is believed only from an address the host's requests
// came from (or the address its name is): otherwise anyone could free
// anyone's locks.
func (h *Handler) serveFreeAll(c *rpc.Call) error {
	var a notifyArgs
	readNotifyArgs(c.Args, &a)
	if err := argsErr(c); err != nil {
		return err
	}
	from := rpc.IPOf(c.RemoteAddr)
	name := string(a.name)
	ok := h.hosts.forget(name, from)
	if !ok {
		if ip, err := netip.ParseAddr(name); err == nil && ip.Unmap() == from {
			ok = true
		}
	}
	if ok {
		h.releaseHost(name)
	} else {
		// Either a forgery or a host with nothing here; both change nothing.
		h.log.Debug("nlm: FREE_ALL ignored: host not seen at this address", "host", name, "from", from)
	}
	return nil
}
