package smb

import (
	"context"
	"encoding/binary"
	"sync"

	"github.com/tandemfs/tandem/internal/lock"
)

func init() { register(CmdLock, serveLock) }

// SMB2 LOCK takes or releases byte-range locks of an open in the unified
// lock manager, where they meet the locks of NFS clients (NLM) and of
// other opens. A request is either all unlocks or all locks, as its first
// element says. Several locks in one request must all fail immediately;
// they are taken in order, and if one is refused (or is not a lock) those
// taken before it are released again.
// A single lock without FAIL_IMMEDIATELY waits: the request goes
// asynchronous and completes when the lock manager grants it (a Notice,
// routed back through Server.Deliver), or with STATUS_CANCELLED when the
// client cancels it, closes the open or goes away. Closing an open
// releases its locks.

// Lock element flags.
const (
	lockShared          = 0x01
	lockExclusive       = 0x02
	lockUnlock          = 0x04
	lockFailImmediately = 0x10
)

// lockWaits are the LOCK requests waiting in the lock manager.
type lockWaits struct {
	mu sync.Mutex
	m  map[lock.WaiterID]*lockWait
}

type lockWait struct {
	p       *Pending
	done    chan struct{} // closed when the request is completed
	granted func()        // called when the lock is granted
}

func (lw *lockWaits) init() { lw.m = map[lock.WaiterID]*lockWait{} }

// take removes a waiter and reports whether it was still there.
func (lw *lockWaits) take(id lock.WaiterID, want *lockWait) bool {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if w := lw.m[id]; w != nil && (want == nil || w == want) {
		delete(lw.m, id)
		return true
	}
	return false
}

// Deliver completes the waiting SMB2 LOCK requests that notices of the
// lock manager concern; notices about other protocols' waiters are
// ignored. The server that routes notices between protocols gives the
// SMB ones here.
func (s *Server) Deliver(ns []lock.Notice) {
	for _, n := range ns {
		if n.Lock.Owner.Proto != lock.SMB {
			continue
		}
		if n.Status == lock.Breaking || n.Status == lock.BreakDone {
			s.deliverCaching(n)
			continue
		}
		waits := &s.ops.waits
		waits.mu.Lock()
		w := waits.m[n.Waiter]
		delete(waits.m, n.Waiter)
		waits.mu.Unlock()
		if w == nil {
			continue
		}
		s.observeLock(n.Status)
		st := StatusSuccess
		switch n.Status {
		case lock.Granted:
		case lock.Cancelled:
			// Dropped because its open was closed: Windows answers the
			// waiting request STATUS_RANGE_NOT_LOCKED.
			st = StatusRangeNotLocked
		default:
			st = StatusLockNotGranted
		}
		close(w.done)
		if st != StatusSuccess {
			w.p.Complete(lockResponse(st))
			continue
		}
		w.granted()
		// The client hears of the lock once it is durable; the caller
		// whose change granted it does not wait for that.
		go func(w *lockWait, n lock.Notice) {
			st := StatusSuccess
			if err := s.journal().Granted(context.Background(), n.Lock.File, n.Lock.Owner); err != nil {
				st = s.undoLock(n.Lock.File, n.Lock.Owner, []lock.Range{n.Lock.Range}, err)
			}
			w.p.Complete(lockResponse(st))
		}(w, n)
	}
}

// durable waits until the locks just granted to owner are persisted; if
// they cannot be, they are given back and the status says so.
func (s *Server) durable(ctx context.Context, k lock.FileKey, owner lock.Owner, rs []lock.Range) Status {
	if err := s.journal().Granted(ctx, k, owner); err != nil {
		return s.undoLock(k, owner, rs, err)
	}
	return StatusSuccess
}

func (s *Server) undoLock(k lock.FileKey, owner lock.Owner, rs []lock.Range, err error) Status {
	s.log.Error("smb: lock granted but not persisted; given back", "file", k, "err", err)
	for _, r := range rs {
		_, ns := s.locks().Unlock(k, owner, r)
		s.route(ns)
	}
	s.journal().Lazy()
	return StatusInsufficientResources
}

// lockOrReclaim asks for a lock that does not wait. During a grace period
// it first tries it as a reclaim: a client that lost its open in the
// restart and locks again through a new one (the Linux client does) gets
// back what an open of its own held (package lock, Reclaim).
func (s *Server) lockOrReclaim(req lock.Request) lock.Decision {
	if s.locks().InGrace() {
		if d := s.locks().Reclaim(req); d.Status != lock.NotLocked && d.Status != lock.Grace {
			return d
		}
	}
	return s.locks().Lock(req)
}

// lockResponse builds a LOCK response with status st.
func lockResponse(st Status) func(w *Response) {
	return func(w *Response) {
		if st != StatusSuccess {
			w.Error(st)
			return
		}
		binary.LittleEndian.PutUint16(w.Grow(4), 4)
	}
}

// lockElement is one of a request's ranges.
type lockElement struct {
	r     lock.Range
	flags uint32
}

func serveLock(w *Response, r *Request) {
	b := r.Body
	if len(b) < 48 || binary.LittleEndian.Uint16(b) != 48 {
		w.Error(StatusInvalidParameter)
		return
	}
	count := int(binary.LittleEndian.Uint16(b[2:]))
	if count == 0 || len(b) < 24+24*count {
		w.Error(StatusInvalidParameter)
		return
	}
	o, st := r.openOf(b[8:24])
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	switch {
	case o.isDir:
		w.Error(StatusInvalidParameter)
		return
	case !o.may(fileReadData | fileWriteData):
		w.Error(StatusAccessDenied)
		return
	}
	seq, replay := o.lockReplay(r, binary.LittleEndian.Uint32(b[4:]))
	if replay {
		lockResponse(StatusSuccess)(w)
		return
	}
	var arr [4]lockElement
	elems := arr[:0]
	for i := range count {
		e := b[24+24*i:]
		elems = append(elems, lockElement{
			r:     lock.Range{Offset: binary.LittleEndian.Uint64(e), Length: binary.LittleEndian.Uint64(e[8:])},
			flags: binary.LittleEndian.Uint32(e[16:]),
		})
	}
	s := r.Conn.srv
	key := o.key()
	// The elements are handled in order, and the first bad one stops the
	// request where it is (MS-SMB2 3.3.5.14.1, 3.3.5.14.2): unlocks done
	// before it stay done, locks taken before it are released again.
	if elems[0].flags&lockUnlock != 0 {
		for _, e := range elems {
			if e.flags != lockUnlock {
				w.Error(StatusInvalidParameter)
				return
			}
			st, ns := s.locks().Unlock(key, o.owner, e.r)
			s.route(ns)
			if st != lock.Granted {
				s.journal().Lazy()
				w.Error(lockStatus(st))
				return
			}
		}
		if err := s.journal().Released(r.Context()); err != nil {
			s.log.Error("smb: unlock not persisted", "file", key, "err", err)
		}
		o.lockDone(seq)
		lockResponse(StatusSuccess)(w)
		return
	}
	s.breakReadCaching(o)
	for i, e := range elems {
		st := StatusSuccess
		if !validLockFlags(e.flags, count > 1) {
			st = StatusInvalidParameter
		} else {
			req := lock.Request{File: key, Owner: o.owner, Range: e.r, Mode: lock.Shared, Wait: e.flags&lockFailImmediately == 0}
			if e.flags&lockExclusive != 0 {
				req.Mode = lock.Exclusive
			}
			if req.Wait {
				s.waitLock(w, r, req, func() { o.lockDone(seq) }) // the only element: validLockFlags saw to it
				return
			}
			d := s.lockOrReclaim(req)
			s.observeLock(d.Status)
			s.route(d.Notices)
			if d.Status != lock.Granted {
				st = lockStatus(d.Status)
			}
		}
		if st != StatusSuccess {
			for _, prev := range elems[:i] {
				_, ns := s.locks().Unlock(key, o.owner, prev.r)
				s.route(ns)
			}
			s.journal().Lazy()
			w.Error(st)
			return
		}
	}
	rs := make([]lock.Range, len(elems))
	for i, e := range elems {
		rs[i] = e.r
	}
	if st := s.durable(r.Context(), key, o.owner, rs); st != StatusSuccess {
		w.Error(st)
		return
	}
	o.lockDone(seq)
	lockResponse(StatusSuccess)(w)
}

// validLockFlags reports whether a lock element's flags ask for a lock:
// shared or exclusive, not both, no unlock and no unknown flag; one of
// several locks in a request must fail immediately rather than wait.
func validLockFlags(f uint32, several bool) bool {
	switch {
	case f&^(lockShared|lockExclusive|lockFailImmediately) != 0:
		return false
	case f&(lockShared|lockExclusive) == 0 || f&(lockShared|lockExclusive) == lockShared|lockExclusive:
		return false
	case several && f&lockFailImmediately == 0:
		return false
	}
	return true
}

// waitLock asks for a lock that may wait. If it must, the request goes
// asynchronous until the lock manager decides, or the client cancels.
// granted runs when the lock is granted.
func (s *Server) waitLock(w *Response, r *Request, req lock.Request, granted func()) {
	waits := &s.ops.waits
	// Hold the table while asking, so that a notice granting the new
	// waiter cannot be delivered before the waiter is in it.
	waits.mu.Lock()
	var d lock.Decision
	if s.locks().InGrace() {
		if d = s.locks().Reclaim(req); d.Status == lock.NotLocked || d.Status == lock.Grace {
			d = s.locks().Lock(req)
		}
	} else {
		d = s.locks().Lock(req)
	}
	s.observeLock(d.Status)
	if d.Status != lock.Queued {
		waits.mu.Unlock()
		s.route(d.Notices)
		if d.Status != lock.Granted {
			w.Error(lockStatus(d.Status))
			return
		}
		if st := s.durable(r.Context(), req.File, req.Owner, []lock.Range{req.Range}); st != StatusSuccess {
			w.Error(st)
			return
		}
		granted()
		lockResponse(StatusSuccess)(w)
		return
	}
	lw := &lockWait{p: r.GoAsync(), done: make(chan struct{}), granted: granted}
	waits.m[d.Waiter] = lw
	waits.mu.Unlock()
	s.route(d.Notices)
	// A session that ends (LOGOFF) closes the waiter's open: the client
	// still hears of its request, as Windows answers one whose open was
	// closed, although the session is gone by the time it is answered.
	lw.p.onSessionEnd(func() { s.endLockWait(lw, d.Waiter, req, StatusRangeNotLocked, lw.p.completeAfterEnd) })
	go func() {
		select {
		case <-lw.done:
			return
		case <-lw.p.Context().Done():
		}
		s.endLockWait(lw, d.Waiter, req, StatusCancelled, lw.p.Complete)
	}()
}

// endLockWait takes a waiting LOCK out of the lock manager and completes
// it with st, unless it was completed meanwhile.
func (s *Server) endLockWait(lw *lockWait, id lock.WaiterID, req lock.Request, st Status, complete func(func(*Response))) {
	if !s.ops.waits.take(id, lw) {
		return // completed meanwhile
	}
	ns, waiting := s.locks().Cancel(id)
	s.route(ns)
	if waiting {
		complete(lockResponse(st))
		return
	}
	// Granted while being cancelled: the grant's notice found no waiter;
	// the lock is held, so say so.
	lw.granted()
	complete(lockResponse(s.durable(context.Background(), req.File, req.Owner, []lock.Range{req.Range})))
}

// lockStatus maps a refusal of the lock manager to the status of LOCK.
func lockStatus(st lock.Status) Status {
	switch st {
	case lock.Denied, lock.Deadlock, lock.Cancelled:
		return StatusLockNotGranted
	case lock.NotLocked:
		return StatusRangeNotLocked
	case lock.InvalidRange:
		return StatusInvalidLockRange
	case lock.LimitExceeded:
		return StatusInsufficientResources
	}
	return StatusInvalidParameter
}
