package lock

// Lock asks for a byte-range lock. It is Granted at once when no lock of
// another owner conflicts (and, for a request that may wait, no earlier
// waiter it conflicts with is queued; see fairness in the package
// documentation). Otherwise a request without Wait is Denied, and one with
// Wait is Queued, or refused with Deadlock when waiting would close a cycle
// of owners waiting for each other.
//
// A POSIX owner's lock replaces what the owner held in its range: it
// upgrades, downgrades, splits and merges the owner's locks there, so the
// owner holds exactly one mode on every byte. An SMB open's lock is added
// to what the open holds, and is removed only by an Unlock of the same
// range.
//
// A POSIX owner that sends a waiting request again (NLM clients retransmit
// blocking LOCKs) gets the waiter already queued for it.
func (m *Manager) Lock(req Request) Decision {
	if !req.Owner.valid() || !req.Mode.valid() {
		return Decision{Status: Invalid}
	}
	s, st := spanFor(req.Owner.Proto, req.Range)
	if st != Granted {
		return Decision{Status: st}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock()
	return m.lock(req, s, now, now)
}

// lock is Lock after validation; since is when a granted lock counts from.
func (m *Manager) lock(req Request, s span, now, since int64) Decision {
	f := m.files[req.File]
	o := m.owners[req.Owner]
	hi := -1
	if f != nil {
		if req.Wait && o != nil && o.Proto.posix() {
			if w := f.findWaiter(o, s, req.Mode); w != nil {
				return Decision{Status: Queued, Waiter: w.id, Holder: m.firstBlocker(w)}
			}
		}
		hi = f.conflict(s, o, req.Mode)
	}
	if hi >= 0 && !req.Wait {
		return Decision{Status: Denied, Holder: lockOf(f, &f.locks[hi])}
	}

	// A request that may wait does not overtake earlier waiters it
	// conflicts with, except those that wait, directly or through others,
	// for its own owner: queuing behind them would wait for itself.
	var (
		overtakes []WaiterID
		soft      *waiter
	)
	if req.Wait && f != nil {
		for _, w := range f.waiters {
			if w.owner == o || !overlaps(w.span, s) || (w.mode != Exclusive && req.Mode != Exclusive) {
				continue
			}
			if o != nil && m.reaches(w.owner, o) {
				overtakes = append(overtakes, w.id)
				continue
			}
			if soft == nil {
				soft = w
			}
		}
	}

	// An SMB lock over bytes an NFS request in progress reads or writes
	// waits for it, or fails at once (intent.go). The table is published
	// before the requests are looked at.
	io := false
	if hi < 0 && req.Owner.Proto == SMB && m.unified(req.File.Share) {
		if f == nil {
			f = m.fileOf(req.File)
		}
		io = m.ioHolds(req.File, f, req.Wait && soft == nil, func(x intent) bool { return x.bindsLock(s, req.Mode) })
	}
	if hi < 0 && soft == nil && !io {
		return m.grant(req, f, o, s, since, now)
	}

	holder := Lock{File: req.File}
	switch {
	case hi >= 0:
		holder = lockOf(f, &f.locks[hi])
	case soft != nil:
		holder = soft.lock()
	}
	if io && !req.Wait || !req.Deadline.IsZero() && req.Deadline.UnixNano() <= now {
		m.gcFile(f)
		return Decision{Status: Denied, Holder: holder}
	}
	if o != nil && m.wouldDeadlock(f, s, o, req.Mode) {
		m.gcFile(f)
		return Decision{Status: Deadlock, Holder: holder}
	}
	if o == nil {
		o = m.ownerOf(req.Owner)
	}
	if !m.admit(o, f, 1) {
		m.gcOwner(o)
		m.gcFile(f)
		return Decision{Status: LimitExceeded, Holder: holder}
	}
	w := m.enqueue(f, o, s, req.Mode, now, nanosOf(req.Deadline), overtakes)
	return Decision{Status: Queued, Holder: holder, Waiter: w.id}
}

// grant applies a lock that conflicts with nothing.
func (m *Manager) grant(req Request, f *file, o *owner, s span, since, now int64) Decision {
	if o == nil {
		o = m.ownerOf(req.Owner)
	}
	if f == nil {
		f = m.fileOf(req.File)
	}
	posix, d := o.Proto.posix(), 1
	if posix {
		d, _ = m.posixPlan(f, o, s, req.Mode, since)
	}
	if !m.admit(o, f, d) {
		clear(m.pieces)
		m.gcOwner(o)
		m.gcFile(f)
		return Decision{Status: LimitExceeded}
	}
	if posix {
		m.posixCommit(f)
	} else {
		f.insert(entry{span: s, mode: req.Mode, owner: o, since: since})
	}
	m.ref(o, f, d)
	return Decision{Status: Granted, Notices: m.settle(f, now, true, nil)}
}

// apply adds a lock that conflicts with nothing to the table.
func (m *Manager) apply(f *file, o *owner, s span, mode Mode, since int64) {
	if o.Proto.posix() {
		d, _ := m.posixPlan(f, o, s, mode, since)
		m.posixCommit(f)
		m.ref(o, f, d)
		return
	}
	f.insert(entry{span: s, mode: mode, owner: o, since: since})
	m.ref(o, f, 1)
}

// posixPlan works out how to set the bytes of s to mode for the POSIX
// owner o (mode 0 unlocks them), with POSIX's rules: o's locks over s are
// cut back or removed, what is left of them outside s stays, and the new
// lock merges with o's locks of the same mode that overlap or touch it. A
// merged lock counts from the earliest of its parts. It returns how many
// entries that adds (negative when it removes) and whether any lock of o's
// is touched. The plan is kept in m.idx (entries to remove) and m.pieces
// (entries to add) for posixCommit.
func (m *Manager) posixPlan(f *file, o *owner, s span, mode Mode, since int64) (int, bool) {
	idx, pieces := m.idx[:0], m.pieces[:0]
	ns, ne, nsince := s.start, s.end, since
	for i := f.from(s); i < len(f.locks); i++ {
		x := &f.locks[i]
		if x.start > s.end && (s.end == maxOffset || x.start != s.end+1) {
			break
		}
		if x.owner != o {
			continue
		}
		switch {
		case overlaps(x.span, s):
			idx = append(idx, i)
			if x.mode == mode {
				ns, ne, nsince = min(ns, x.start), max(ne, x.end), min(nsince, x.since)
				continue
			}
			if x.start < s.start {
				pieces = append(pieces, entry{span: span{start: x.start, end: s.start - 1}, mode: x.mode, owner: o, since: x.since})
			}
			if x.end > s.end {
				pieces = append(pieces, entry{span: span{start: s.end + 1, end: x.end}, mode: x.mode, owner: o, since: x.since})
			}
		case mode != 0 && x.mode == mode && touches(x.span, s):
			idx = append(idx, i)
			ns, ne, nsince = min(ns, x.start), max(ne, x.end), min(nsince, x.since)
		}
	}
	if mode != 0 {
		pieces = append(pieces, entry{span: span{start: ns, end: ne}, mode: mode, owner: o, since: nsince})
	}
	m.idx, m.pieces = idx, pieces
	return len(pieces) - len(idx), len(idx) > 0
}

// posixCommit applies the plan of the last posixPlan to f.
func (m *Manager) posixCommit(f *file) {
	m.touch(f)
	f.removeAt(m.idx)
	for _, p := range m.pieces {
		f.insert(p)
	}
	clear(m.pieces)
	m.idx, m.pieces = m.idx[:0], m.pieces[:0]
}

// Unlock releases a byte range and returns the waiters that this grants.
//
// For a POSIX owner it unlocks every byte of the range the owner holds,
// splitting a lock whose middle goes; it is Granted even when the owner
// held nothing there, as POSIX and NLM say. For an SMB open it removes one
// lock whose offset and length are exactly those given (an exclusive one
// before a shared one), else it is NotLocked (STATUS_RANGE_NOT_LOCKED).
//
// Unlock does not touch the owner's waiting requests: NLM, whose UNLOCK
// cancels them, calls FindWaiter and Cancel first.
func (m *Manager) Unlock(k FileKey, o Owner, r Range) (Status, []Notice) {
	if !o.valid() {
		return Invalid, nil
	}
	s, st := spanFor(o.Proto, r)
	if st != Granted {
		return st, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ow := m.files[k], m.owners[o]
	posix := o.Proto.posix()
	if f == nil || ow == nil {
		if posix {
			return Granted, nil
		}
		return NotLocked, nil
	}
	if posix {
		d, touched := m.posixPlan(f, ow, s, 0, 0)
		if !touched {
			return Granted, nil
		}
		m.posixCommit(f)
		m.ref(ow, f, d)
	} else {
		i := f.exact(ow, s)
		if i < 0 {
			return NotLocked, nil
		}
		f.removeAt(append(m.idx[:0], i))
		m.ref(ow, f, -1)
	}
	notices := m.settle(f, m.clock(), false, nil)
	m.gcFile(f)
	return Granted, notices
}

// exact finds the lock an SMB unlock of s by o removes (MS-FSA 2.1.5.9):
// one of o's locks with exactly that range, exclusive in preference to
// shared, and of several shared ones the last granted.
func (f *file) exact(o *owner, s span) int {
	found := -1
	for i := f.upper(s.start) - 1; i >= 0 && f.locks[i].start == s.start; i-- {
		x := &f.locks[i]
		if x.owner != o || x.span != s {
			continue
		}
		if x.mode == Exclusive {
			return i
		}
		if found < 0 {
			found = i
		}
	}
	return found
}

// Test reports whether Lock would find a conflicting lock (NLM TEST,
// F_GETLK): Granted when none does, Denied with the first one (in offset
// order) as Holder. It looks at granted locks only and changes nothing.
func (m *Manager) Test(req Request) Decision {
	if !req.Owner.valid() || !req.Mode.valid() {
		return Decision{Status: Invalid}
	}
	s, st := spanFor(req.Owner.Proto, req.Range)
	if st != Granted {
		return Decision{Status: st}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.files[req.File]
	if f == nil {
		return Decision{Status: Granted}
	}
	if i := f.conflict(s, m.owners[req.Owner], req.Mode); i >= 0 {
		return Decision{Status: Denied, Holder: lockOf(f, &f.locks[i])}
	}
	return Decision{Status: Granted}
}

// CheckIO reports whether reading (or, with write, writing) n bytes at off
// conflicts with a byte-range lock, and returns the first such lock.
//
// For SMB I/O, o is the open doing it and every owner's locks count (SMB
// locks are mandatory; NLM locks of others count too, so that an SMB client
// cannot write under an NFS client's lock). For NFS I/O, o is the zero
// Owner and only SMB locks count: an SMB open's lock refuses NFS writes,
// and its exclusive lock NFS reads, while NLM locks stay advisory. On a
// share whose Locking is Unix only SMB locks bind SMB I/O, and nothing
// binds NFS I/O.
func (m *Manager) CheckIO(k FileKey, o Owner, off, n uint64, write bool) (Lock, bool) {
	s, ok := ioSpan(off, n)
	if !ok || m.Idle(k) {
		return Lock{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.files[k]
	if f == nil || len(f.locks) == 0 {
		return Lock{}, false
	}
	smb := o.Proto == SMB
	unified := m.unified(k.Share)
	if !smb && !unified {
		return Lock{}, false
	}
	var req *owner
	if smb {
		req = m.owners[o]
	}
	for i := f.from(s); i < len(f.locks); i++ {
		x := &f.locks[i]
		if x.start > s.end {
			break
		}
		if !unified && x.owner.Proto != SMB {
			continue // an NLM lock is advisory to SMB I/O there too
		}
		if overlaps(x.span, s) && ioConflicts(x.owner, x.mode, req, smb, write) {
			return lockOf(f, x), true
		}
	}
	return Lock{}, false
}
