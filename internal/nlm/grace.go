package nlm

import (
	"context"
	"net/netip"
	"time"

	"github.com/tandemfs/tandem/internal/lock"
)

// # After a restart: grace and reclaim
//
// The lock manager's table is persisted; after a crash it comes back as
// prior state and a grace period starts (package lock, grace.go). The
// server's status monitor tells every client host that held locks that the
// server rebooted (SM_NOTIFY), and their lock managers send each lock they
// hold again with reclaim set. During grace, as NFS servers do:
//
//   - a reclaim gets back exactly what the owner held (NLM4_GRANTED), and
//     anything else it asks for is NLM4_DENIED;
//   - every other LOCK, TEST and SHARE is NLM4_DENIED_GRACE_PERIOD: the
//     client waits a few seconds and asks again, by which time the holders
//     have reclaimed or grace has ended;
//   - after grace, a reclaim is NLM4_DENIED_GRACE_PERIOD (knfsd's answer):
//     what was not reclaimed has been released.
//
// # SMB clients that cache locks
//
// An SMB client holding a write-caching lease keeps its applications'
// byte-range locks to itself (the Linux client does), so the table does
// not show them. Before deciding a LOCK or TEST, the Handler breaks write
// caching of the file: the client flushes, sends the locks it kept, then
// acknowledges. A client slow to do so makes the NLM client retry
// (NLM4_DENIED_GRACE_PERIOD, which Linux's lockd meets with a pause and a
// new try), so that no server thread waits long for it.

// awaitWriters breaks SMB write caching of the file for a LOCK or TEST
// and reports whether the decision may go on.
func (h *Handler) awaitWriters(ctx context.Context, key lock.FileKey) bool {
	now := time.Now()
	return lock.AwaitBreaks(ctx, h.mgr, key, lock.ContendLock, now.Add(h.breakTimeout), now.Add(h.breakWait), h.route)
}

// reclaim serves a LOCK with reclaim set.
func (h *Handler) reclaim(ctx context.Context, req lock.Request) Stat {
	d := h.mgr.Reclaim(req)
	if len(d.Notices) > 0 {
		h.route(d.Notices)
	}
	switch d.Status {
	case lock.Granted:
		if st := h.durable(ctx, req); st != StatGranted {
			return st
		}
		h.count(EventGranted)
		return StatGranted
	case lock.NotLocked:
		h.log.Info("nlm: reclaim of a lock the host did not hold refused", "host", req.Owner.Host,
			"file", req.File, "offset", req.Range.Offset, "length", req.Range.Length)
		return StatDenied
	}
	return statOf(d.Status)
}

// durable waits until the lock req was just granted is persisted, and
// gives it back if it cannot be.
func (h *Handler) durable(ctx context.Context, req lock.Request) Stat {
	if err := h.journal.Granted(ctx, req.File, req.Owner); err != nil {
		h.log.Error("nlm: lock granted but not persisted; given back", "host", req.Owner.Host, "err", err)
		if _, ns := h.mgr.Unlock(req.File, req.Owner, req.Range); len(ns) > 0 {
			h.route(ns)
		}
		h.journal.Lazy()
		return StatDeniedNoLocks
	}
	return StatGranted
}

// Remember seeds the host book with a host the status monitor knew before
// a restart and the address it was seen at, so that a reboot notification
// from it is believed (its prior locks go) before it locks again.
func (h *Handler) Remember(host string, addr netip.Addr) {
	h.hosts.seen(host, addr, 0, false)
}

// reclaimShare takes back a share reservation the owner held before the
// restart; the SHARE then sets it as asked.
func (h *Handler) reclaimShare(key lock.FileKey, owner lock.Owner) bool {
	prior := owner
	prior.Prior = true
	for _, r := range h.mgr.FileRecords(key) {
		if r.Kind == lock.KindShare && r.Owner == prior {
			ns, ok := h.mgr.ReclaimOwner(owner)
			if len(ns) > 0 {
				h.route(ns)
			}
			return ok
		}
	}
	return false
}
