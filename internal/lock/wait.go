package lock

import (
	"slices"
	"time"
)

// waiter is a queued lock request.
type waiter struct {
	id       WaiterID
	f        *file
	owner    *owner
	span     span
	mode     Mode
	since    int64
	deadline int64 // 0: none
	// overtakes lists the earlier waiters this one does not queue behind,
	// because they waited (directly or through others) for its owner when
	// it came. The list only shrinks in meaning as those waiters go, so a
	// waiter never gains an edge in the wait-for graph after it is queued.
	overtakes []WaiterID
}

func (w *waiter) lock() Lock {
	return Lock{
		File:  w.f.key,
		Owner: w.owner.Owner,
		Range: w.span.rangeFor(w.owner.Proto),
		Mode:  w.mode,
		Since: timeOf(w.since),
	}
}

// behind reports whether w queues behind the earlier waiter e: they are of
// different owners, their ranges overlap, one of them is exclusive, and w
// did not overtake e when it came.
func (w *waiter) behind(e *waiter) bool {
	return e.owner != w.owner && (e.mode == Exclusive || w.mode == Exclusive) &&
		overlaps(e.span, w.span) && !slices.Contains(w.overtakes, e.id)
}

func (m *Manager) enqueue(f *file, o *owner, s span, mode Mode, now, deadline int64, overtakes []WaiterID) *waiter {
	m.lastID++
	w := &waiter{id: m.lastID, f: f, owner: o, span: s, mode: mode, since: now, deadline: deadline, overtakes: overtakes}
	f.waiters = append(f.waiters, w)
	o.waiting = append(o.waiting, w)
	m.waiters[w.id] = w
	m.ref(o, f, 1)
	return w
}

// unqueue removes w from every list that holds it.
func (m *Manager) unqueue(w *waiter) {
	f, o := w.f, w.owner
	if i := slices.Index(f.waiters, w); i >= 0 {
		f.waiters = slices.Delete(f.waiters, i, i+1)
	}
	if i := slices.Index(o.waiting, w); i >= 0 {
		o.waiting = slices.Delete(o.waiting, i, i+1)
	}
	delete(m.waiters, w.id)
	m.ref(o, f, -1)
}

func (f *file) findWaiter(o *owner, s span, mode Mode) *waiter {
	for _, w := range f.waiters {
		if w.owner == o && w.span == s && w.mode == mode {
			return w
		}
	}
	return nil
}

// blocked reports whether the waiter at index i of f's queue cannot be
// granted yet: a granted lock conflicts with it, or it queues behind an
// earlier waiter.
func (f *file) blocked(i int) bool {
	w := f.waiters[i]
	if f.conflict(w.span, w.owner, w.mode) >= 0 {
		return true
	}
	for _, e := range f.waiters[:i] {
		if w.behind(e) {
			return true
		}
	}
	return false
}

// firstBlocker is what w waits for first: a conflicting granted lock, else
// the earlier waiter it queues behind.
func (m *Manager) firstBlocker(w *waiter) Lock {
	f := w.f
	if i := f.conflict(w.span, w.owner, w.mode); i >= 0 {
		return lockOf(f, &f.locks[i])
	}
	for _, e := range f.waiters {
		if e == w {
			break
		}
		if w.behind(e) {
			return e.lock()
		}
	}
	return Lock{}
}

// appendBlockers appends to dst the owners w waits for: its edges in the
// wait-for graph. An owner may appear more than once, and an SMB open
// waiting behind its own exclusive lock appears as its own blocker.
func appendBlockers(dst []*owner, w *waiter) []*owner {
	f := w.f
	for i := f.from(w.span); i < len(f.locks); i++ {
		x := &f.locks[i]
		if x.start > w.span.end {
			break
		}
		if overlaps(x.span, w.span) && conflicts(x.owner, x.mode, w.owner, w.mode) {
			dst = append(dst, x.owner)
		}
	}
	for _, e := range f.waiters {
		if e == w {
			break
		}
		if w.behind(e) {
			dst = append(dst, e.owner)
		}
	}
	return dst
}

// reaches reports whether from waits, directly or through other owners,
// for to (from != to). Edges are computed from the tables as they are now;
// an owner's edge to itself is ignored, because an SMB client can unlock
// what its own open waits for.
func (m *Manager) reaches(from, to *owner) bool {
	m.epoch++
	from.mark = m.epoch
	st := append(m.stack[:0], from)
	defer func() { m.stack = st[:0] }()
	for len(st) > 0 {
		x := st[len(st)-1]
		st = st[:len(st)-1]
		for _, w := range x.waiting {
			n := len(st)
			st = appendBlockers(st, w)
			k := n
			for _, b := range st[n:] {
				if b == to {
					return true
				}
				if b.mark != m.epoch {
					b.mark = m.epoch
					st[k] = b
					k++
				}
			}
			st = st[:k]
		}
	}
	return false
}

// wouldDeadlock reports whether o waiting for the granted locks that
// conflict with its request closes a cycle. Earlier waiters the request
// queues behind need no look: those that lead back to o are overtaken.
func (m *Manager) wouldDeadlock(f *file, s span, o *owner, mode Mode) bool {
	blk := m.blk[:0]
	for i := f.from(s); i < len(f.locks); i++ {
		x := &f.locks[i]
		if x.start > s.end {
			break
		}
		if x.owner != o && overlaps(x.span, s) && conflicts(x.owner, x.mode, o, mode) && !slices.Contains(blk, x.owner) {
			blk = append(blk, x.owner)
		}
	}
	m.blk = blk
	for _, b := range blk {
		if m.reaches(b, o) {
			clear(m.blk)
			return true
		}
	}
	clear(m.blk)
	return false
}

// wake grants, first come first, every waiter of f that nothing blocks any
// more, until no more can be granted (a POSIX grant can free a range for an
// earlier waiter by downgrading its owner's lock).
func (m *Manager) wake(f *file, now int64, out []Notice) ([]Notice, bool) {
	any := false
	for progress := true; progress; {
		progress = false
		for i := 0; i < len(f.waiters); {
			if f.blocked(i) || m.waitsForIO(f, f.waiters[i]) {
				i++
				continue
			}
			w := f.waiters[i]
			// Apply before unqueueing, so the owner is not forgotten
			// between the two.
			m.apply(f, w.owner, w.span, w.mode, now)
			m.unqueue(w)
			l := w.lock()
			l.Since = timeOf(now)
			out = append(out, Notice{Waiter: w.id, Status: Granted, Lock: l})
			progress, any = true, true
		}
	}
	return out, any
}

// breakCycles drops, with a Deadlock notice, each waiter of f that a
// grant on f has put on a cycle. A grant adds edges only from f's waiters to
// the new holder; when one of them closes a cycle (the holder also waits
// elsewhere, through others, for that waiter's owner) no one on the cycle
// could ever go on.
func (m *Manager) breakCycles(f *file, out []Notice) ([]Notice, bool) {
	dropped := false
	for i := 0; i < len(f.waiters); {
		w := f.waiters[i]
		blk := appendBlockers(m.blk[:0], w)
		m.blk = blk
		cycle := false
		for _, b := range blk {
			if b != w.owner && m.reaches(b, w.owner) {
				cycle = true
				break
			}
		}
		clear(m.blk)
		if !cycle {
			i++
			continue
		}
		out = append(out, Notice{Waiter: w.id, Status: Deadlock, Lock: w.lock()})
		m.unqueue(w)
		dropped = true
	}
	return out, dropped
}

// settle brings f's waiters up to date after a change: it grants those that
// can go, and drops those a grant deadlocked, until neither happens.
// granted says the caller itself just granted a lock on f.
func (m *Manager) settle(f *file, now int64, granted bool, out []Notice) []Notice {
	for len(f.waiters) > 0 {
		var g, dropped bool
		out, g = m.wake(f, now, out)
		if !g && !granted {
			break
		}
		granted = false
		if out, dropped = m.breakCycles(f, out); !dropped {
			break
		}
	}
	return out
}

// FindWaiter returns the waiter queued for exactly this request (owner,
// file, range and mode), as NLM CANCEL names it.
func (m *Manager) FindWaiter(req Request) (WaiterID, bool) {
	if !req.Owner.valid() {
		return 0, false
	}
	s, st := spanFor(req.Owner.Proto, req.Range)
	if st != Granted {
		return 0, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f, o := m.files[req.File], m.owners[req.Owner]
	if f == nil || o == nil {
		return 0, false
	}
	if w := f.findWaiter(o, s, req.Mode); w != nil {
		return w.id, true
	}
	return 0, false
}

// Cancel drops a waiter (NLM CANCEL, SMB2 CANCEL) and returns the waiters
// that queued behind it and can now be granted. ok is false when id is not
// waiting (it was granted or dropped already).
func (m *Manager) Cancel(id WaiterID) (notices []Notice, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.waiters[id]
	if w == nil {
		return nil, false
	}
	f := w.f
	m.unqueue(w)
	notices = m.settle(f, m.clock(), false, nil)
	m.gcFile(f)
	return notices, true
}

// Expire drops the waiters whose deadline has passed, reporting each as
// Denied, revokes the breaks not acknowledged in time (BreakDone), ends a
// grace period whose time is up (EndGrace), and returns with them the
// waiters that this grants. Call it when NextDeadline says.
func (m *Manager) Expire() []Notice {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock()
	var gone []*waiter
	for _, w := range m.waiters {
		if w.deadline != 0 && w.deadline <= now {
			gone = append(gone, w)
		}
	}
	breaks := m.expireBreaks(now, nil)
	if m.grace.until != 0 && m.grace.until <= now {
		breaks = m.endGrace(breaks)
	}
	if len(gone) == 0 {
		return breaks
	}
	slices.SortFunc(gone, func(a, b *waiter) int { return cmpID(a.id, b.id) })
	var out []Notice
	var files []*file
	for _, w := range gone {
		out = append(out, Notice{Waiter: w.id, Status: Denied, Lock: w.lock()})
		if !slices.Contains(files, w.f) {
			files = append(files, w.f)
		}
		m.unqueue(w)
	}
	return append(m.settleAll(files, now, out), breaks...)
}

// settleAll settles each of files, in key order, and forgets the empty ones.
func (m *Manager) settleAll(files []*file, now int64, out []Notice) []Notice {
	slices.SortFunc(files, func(a, b *file) int {
		if a.key.less(b.key) {
			return -1
		}
		if b.key.less(a.key) {
			return 1
		}
		return 0
	})
	for _, f := range files {
		out = m.settle(f, now, false, out)
		m.gcFile(f)
	}
	return out
}

func cmpID(a, b WaiterID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// NextDeadline is the earliest deadline of a waiter, of a break or of the
// grace period, when Expire next has work; ok is false when there is none.
func (m *Manager) NextDeadline() (t time.Time, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := m.nextBreakDeadline()
	if g := m.grace.until; g != 0 && (next == 0 || g < next) {
		next = g
	}
	for _, w := range m.waiters {
		if w.deadline != 0 && (next == 0 || w.deadline < next) {
			next = w.deadline
		}
	}
	return timeOf(next), next != 0
}
