package smb

import (
	"context"
	"fmt"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
)

// Durable opens across a restart. The records of Options.Durable say what
// each open was; the lock manager's own records say what it held (share
// reservation, caching grant, byte-range locks), which it restores as the
// state of each owner's prior twin for a grace period. RestoreDurable
// rebuilds the opens, disconnected and without a tree; a reconnect then
// makes the prior state the open's own again (reclaim) and goes on as
// any reconnect. Until then the open's caching grant is prior state,
// which the lock manager never breaks: what needs it gone waits for the
// reconnect, the open's expiry or the end of the grace period.

// RestoreDurable recreates each record as a disconnected durable open,
// without a connection, that a DHnC or DH2C can reconnect to until its
// timeout (from now) or until, whichever comes first; then it is closed as
// an expired one is. A record that is not valid, or whose persistent
// FileId is in use, is skipped and logged. Persistent FileIds given out
// afterwards are above every restored one.
func (s *Server) RestoreDurable(recs []DurableOpen, until time.Time) {
	now := s.opt.Now()
	for i := range recs {
		if err := s.restoreDurable(&recs[i], min(recs[i].Timeout, until.Sub(now))); err != nil {
			s.log.Warn("smb: durable open not restored", "id", recs[i].Persistent, "err", err)
		}
	}
}

func (s *Server) restoreDurable(rec *DurableOpen, wait time.Duration) error {
	if err := rec.check(); err != nil {
		return err
	}
	for {
		n := s.ops.nextOpen.Load()
		if n >= rec.Persistent || s.ops.nextOpen.CompareAndSwap(n, rec.Persistent) {
			break
		}
	}
	o := &open{
		id:          FileID{Persistent: rec.Persistent, Volatile: rec.Volatile},
		srv:         s,
		caller:      fs.Caller{UID: rec.UID, GID: rec.GID, Groups: rec.Groups, Anonymous: rec.Anonymous, Addr: rec.Addr},
		h:           rec.File,
		access:      rec.Access,
		shareAccess: rec.ShareAccess,
		mode:        rec.Mode,
		owner:       lock.SMBOwner(rec.Client, rec.Persistent),
	}
	o.deleteOnClose = rec.DeleteOnClose
	o.caller.Judged = s.hasSD(context.Background(), &o.caller, o.h) // sdaccess.go
	if rec.V2 {
		o.createGuid = rec.CreateGuid
	}
	o.cache = cacheRef{holder: o.owner, want: rec.Caching}
	if rec.Lease {
		o.cache = cacheRef{holder: lock.LeaseOwner(rec.Client, rec.LeaseKey), lease: true, want: rec.Caching,
			v2: rec.LeaseV2, key: rec.LeaseKey, parent: rec.ParentKey, parentSet: rec.ParentSet}
		if rec.LeaseV2 && rec.Epoch > 0 {
			o.cache.epoch = rec.Epoch - 1 // a lease made again gets the epoch after the one asked for
		}
	}
	d := &durable{v2: rec.V2, timeout: rec.Timeout, user: rec.User, share: rec.Share, restored: true}

	ops := &s.ops
	ops.mu.Lock()
	defer ops.mu.Unlock()
	if ops.opens[o.id.Persistent] != nil {
		return fmt.Errorf("persistent FileId %#x in use", o.id.Persistent)
	}
	key := o.key()
	f := ops.files[key]
	if f == nil {
		f = &fileState{key: key, h: o.h}
		ops.files[key] = f
	}
	f.dir, f.name, f.path = rec.Dir, rec.Name, rec.Path
	f.opens++
	o.file = f
	o.dur = d
	ops.opens[o.id.Persistent] = o
	s.fs.Hold(o.h)
	if o.createGuid != ([16]byte{}) {
		k := createKey{o.owner.Host, o.createGuid}
		if ops.createGuids[k] == nil {
			ops.createGuids[k] = o
		}
	}
	s.disconnectLocked(o, wait)
	return nil
}

// reclaim makes what a restored open held before the restart its own
// again, as it reconnects: its share reservation, byte-range locks and
// place among its lease's opens, which the lock manager holds for the
// open's prior twin, and its caching grant, held for the prior twin of the
// lease (or of the open, for an oplock). Where there is nothing prior to
// take back (the grace period is over and released it, or its state was
// lost), the reconnect fails: the handle is gone with what it held.
func (s *Server) reclaim(o *open) bool {
	if !s.reclaimOwner(o.owner) {
		return false
	}
	if o.cache.lease {
		// Its place among the lease's opens came back with the open;
		// the grant itself comes back once, with the first open of the
		// lease to reconnect, in the state it had (not the one asked at
		// CREATE: breaks may have taken some away).
		s.reclaimOwner(o.cache.holder)
	}
	s.ops.mu.Lock()
	if o.dur != nil {
		o.dur.restored = false
	}
	s.ops.mu.Unlock()
	return true
}

// reclaimOwner makes what the prior twin of owner holds owner's own and
// reports whether there was any.
func (s *Server) reclaimOwner(owner lock.Owner) bool {
	ns, ok := s.locks().ReclaimOwner(owner)
	if ok {
		s.journal().Lazy()
	}
	s.route(ns)
	return ok
}

// releasePrior lets go of what a restored open that was never reconnected
// held before the restart: the state of its prior twin, which leaves its
// lease's grant too, and the grant with its last open. CREATEs waiting
// for that grant go on (a prior grant is never broken: they wait until it
// goes).
func (s *Server) releasePrior(o *open) {
	twin := o.owner
	twin.Prior = true
	ns := s.locks().ReleaseOwner(twin)
	s.journal().Lazy()
	s.route(ns)
	s.ops.caching.wake(o.key())
}
