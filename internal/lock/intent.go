package lock

import (
	"time"
)

// NFS requests in progress. An NFS request has no open and holds no lock,
// but SMB's locks and share modes bind it, and SMB's requests must see it:
// an SMB open that denies write, arriving while an NFS WRITE is between
// its check and its write, would otherwise be granted and then see the
// file change under it. So an NFS request holds an intent for its
// duration (BeginIO, then Intent.End), taken in one step with the check of
// what SMB holds, and SMB's requests treat it as what the request does:
//
//   - AddShare refuses an SMB open whose share access denies it
//     (STATUS_SHARING_VIOLATION), and PrepareOpen makes such an open wait
//     until the request ends (a BreakDone notice), as it waits for breaks;
//   - an SMB lock over the bytes it reads (exclusive) or writes (any) is
//     Denied when it must not wait, and otherwise queued until it ends;
//   - GrantCaching caches nothing of data being written, no writes over a
//     read in progress, and no handles of a file being removed.
//
// Nearly every file has no lock state, and an NFS READ or WRITE must cost
// next to nothing there. An intent is therefore published in a slot of a
// small fixed table, with atomic stores and no allocation and no mutex,
// before the request checks (Idle) that the file has no state; an SMB
// request makes the file's table (which makes the file not Idle) before it
// looks at the slots. With the sequentially consistent atomics of Go, one
// of the two sees the other: either the NFS request finds the file has
// state and checks it under the mutex, or the SMB request finds the
// intent. Only when the table is full does an intent go in the file's
// table instead.

// IOKind is what an NFS request does to a file.
type IOKind uint8

// Kinds of NFS requests.
const (
	IORead   IOKind = iota + 1 // READ of a range
	IOWrite                    // WRITE of a range
	IOResize                   // a change of size: SETATTR, CREATE over a file with a size
	IODelete                   // REMOVE, RMDIR, RENAME of the file or over it
)

// access is what the request needs other opens to share.
func (k IOKind) access() Access {
	switch k {
	case IORead:
		return AccessRead
	case IOWrite, IOResize:
		return AccessWrite
	case IODelete:
		return AccessDelete
	}
	return 0
}

// drops is the caching a grant may not have while the request is in
// progress: no copy of data being written, no writes cached over a read
// (which broke them first), no cached handles of a file being removed.
func (k IOKind) drops() Caching {
	switch k {
	case IORead:
		return CacheWrite
	case IOWrite, IOResize:
		return cacheAll
	case IODelete:
		return CacheHandle
	}
	return 0
}

// Contention is what must be broken before the request may go.
func (k IOKind) Contention() Contention {
	switch k {
	case IORead:
		return ContendRead
	case IODelete:
		return ContendRemove
	}
	return ContendWrite
}

// intent is an NFS request in progress as the SMB side judges it.
type intent struct {
	kind   IOKind
	span   span
	ranged bool // it touches the bytes of span
}

// bindsLock reports whether the intent stops an SMB lock of mode want
// over s: an exclusive lock would refuse the read, any lock the write.
func (in intent) bindsLock(s span, want Mode) bool {
	if !in.ranged || !overlaps(in.span, s) {
		return false
	}
	return in.kind == IOWrite || in.kind == IORead && want == Exclusive
}

// bindsOpen reports whether the intent stops an SMB open with data
// access a and share access s (MS-FSA 2.1.5.1.2.2 with the NFS request
// as an open that shares everything).
func (in intent) bindsOpen(a Access, s ShareAccess) bool {
	return a != 0 && in.kind.access()&^Access(s) != 0
}

// tabled is an intent kept in a file's table.
type tabled struct {
	intent
	id     uint64
	waited bool // an SMB request waits for it: End settles the file
}

// Intent is an NFS request in progress on a file, from BeginIO until
// End. The zero Intent holds nothing.
type Intent struct {
	m    *Manager
	slot *ioSlot
	pub  uint64 // the slot's state as published
	key  FileKey
	id   uint64 // in the file's table, when slot is nil
}

// BeginIO checks an NFS request of kind on file k (n bytes at off for
// IORead and IOWrite) against what SMB holds and, if nothing refuses it,
// holds its intent until End, in one step. Granted: go on. Denied: an SMB
// share mode or lock refuses it; holder is its owner. Breaking: a caching
// grant conflicts with it: break it (Contend with kind's Contention) and
// ask again. Call End in every case, when the request is done or refused.
// On a file with no state it costs a few atomic operations and allocates
// nothing.
func (m *Manager) BeginIO(k FileKey, kind IOKind, off, n uint64) (in Intent, holder Owner, st Status) {
	var x intent
	x.kind = kind
	if kind == IORead || kind == IOWrite {
		x.span, x.ranged = ioSpan(off, n)
	}
	t := m.io.Load()
	if t == nil {
		t = m.ioTable()
	}
	slot, pub := t.claim(k, x)
	if slot != nil && m.Idle(k) {
		return Intent{m: m, slot: slot, pub: pub, key: k}, Owner{}, Granted
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.files[k]
	if f != nil {
		if holder, st = m.judgeIO(f, x); st != Granted {
			// The slot is freed by End, which the caller calls in every
			// case: an SMB lock may already have queued behind it.
			return Intent{m: m, slot: slot, pub: pub, key: k}, holder, st
		}
	}
	if slot != nil {
		return Intent{m: m, slot: slot, pub: pub, key: k}, Owner{}, Granted
	}
	if f == nil {
		f = m.fileOf(k)
	}
	m.lastIntent++
	f.intents = append(f.intents, tabled{intent: x, id: m.lastIntent})
	return Intent{m: m, key: k, id: m.lastIntent}, Owner{}, Granted
}

// judgeIO decides an NFS request against the state of f: caching grants
// it conflicts with first (their breaks may make their holders close
// opens that would refuse it), then SMB share modes and locks.
func (m *Manager) judgeIO(f *file, x intent) (Owner, Status) {
	drop := x.kind.drops()
	for i := range f.caching {
		if g := &f.caching[i]; g.state&drop != 0 {
			return g.owner.Owner, Breaking
		}
	}
	if !m.unified(f.key.Share) {
		return Owner{}, Granted
	}
	a := x.kind.access()
	for i := range f.shares {
		r := &f.shares[i]
		if r.access != 0 && r.owner.Proto == SMB && a&^Access(r.share) != 0 {
			return r.owner.Owner, Denied
		}
	}
	if !x.ranged || x.kind == IOResize {
		return Owner{}, Granted
	}
	for i := f.from(x.span); i < len(f.locks); i++ {
		l := &f.locks[i]
		if l.start > x.span.end {
			break
		}
		if overlaps(l.span, x.span) && ioConflicts(l.owner, l.mode, nil, false, x.kind == IOWrite) {
			return l.owner.Owner, Denied
		}
	}
	return Owner{}, Granted
}

// End ends the request: its intent goes, and SMB requests that waited for
// it go on (the notices to route: locks granted, and a BreakDone for the
// file, upon which opens that waited ask again). It may be called more
// than once.
func (in *Intent) End() []Notice {
	m := in.m
	if m == nil {
		return nil
	}
	in.m = nil
	if in.slot != nil {
		old := in.slot.state.Swap(nextFree(in.pub))
		if old&ioWaited == 0 {
			return nil
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.ioDone(m.files[in.key], in.key, nil)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.files[in.key]
	if f == nil {
		return nil
	}
	var out []Notice
	for i := range f.intents {
		if x := &f.intents[i]; x.id == in.id {
			waited := x.waited
			f.intents = append(f.intents[:i], f.intents[i+1:]...)
			if waited {
				out = m.ioDone(f, in.key, out)
			}
			break
		}
	}
	m.gcFile(f)
	return out
}

// ioDone lets the SMB requests that waited for an intent on file k go
// on: the file's lock waiters are settled, and a BreakDone tells opens
// waiting in PrepareOpen to ask again.
func (m *Manager) ioDone(f *file, k FileKey, out []Notice) []Notice {
	if f != nil {
		out = m.settle(f, m.clock(), false, out)
	}
	return append(out, Notice{Status: BreakDone, Lock: Lock{File: k, Owner: Owner{Proto: SMB}}})
}

// ioWaitBound is how long PrepareOpen lets an open wait for NFS requests
// in progress before it asks again, should their end not be heard of.
const ioWaitBound = 250 * time.Millisecond

// ioHolds reports whether an NFS request in progress on file k (whose
// table f may be nil) conflicts as binds says; with mark, the requests
// found are told that an SMB request waits for them. An SMB request that
// is to be granted asks it under the mutex once f exists, so that a
// request that started before either saw the file's state or is seen
// here.
func (m *Manager) ioHolds(k FileKey, f *file, mark bool, binds func(intent) bool) bool {
	found := false
	if f != nil {
		for i := range f.intents {
			if x := &f.intents[i]; binds(x.intent) {
				if !mark {
					return true
				}
				x.waited, found = true, true
			}
		}
	}
	if t := m.io.Load(); t != nil {
		found = t.holds(k, mark, binds) || found
	}
	return found
}

// ioDrops is the caching that NFS requests in progress on file k take
// from a grant made now.
func (m *Manager) ioDrops(k FileKey, f *file) Caching {
	var drop Caching
	m.ioHolds(k, f, false, func(x intent) bool {
		drop |= x.kind.drops()
		return false
	})
	return drop
}

// waitsForIO reports whether the SMB lock waiter w must wait on for an
// NFS request in progress, and marks the request so that its End settles
// the file.
func (m *Manager) waitsForIO(f *file, w *waiter) bool {
	if w.owner.Proto != SMB || !m.unified(f.key.Share) {
		return false
	}
	return m.ioHolds(f.key, f, true, func(x intent) bool { return x.bindsLock(w.span, w.mode) })
}
