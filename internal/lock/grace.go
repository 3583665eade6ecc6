package lock

import (
	"slices"
	"time"
)

// # Grace: taking state back after a restart
//
// The journal persists every file's locks, share reservations and caching
// grants. After a crash, Recover puts them back as prior state: each owner
// becomes its prior twin (the same Owner with Prior set), so that nobody,
// its own owner included, is taken for the holder until it asks for it
// back, and a grace period starts. Prior state binds everyone else as
// granted state does: a new lock that meets a prior lock is refused or
// waits, an NFS write into a prior SMB lock is refused (the NFS front end
// answers "try again"), a new open meets prior share reservations. Breaks
// are never sent to a prior caching grant (its holder has no connection):
// a request that would break it waits until it is reclaimed or released.
// A new caching grant on a file with prior state caches reads only.
//
// During grace the clients take back what they held:
//
//   - Reclaim: an NLM client's reclaim (NLM LOCK with reclaim set) gets a
//     range its owner's prior twin held in that mode; an SMB client that
//     lost its open (no durable handle) and locks again through a new
//     open gets a range that an open of the same client held exactly so.
//     What is reclaimed leaves the prior owner and belongs to the live
//     one. Anything else is NotLocked.
//   - ReclaimOwner: an SMB durable reconnect makes everything the open's
//     (and its lease's) prior twin holds its own at once.
//
// The grace period ends at its deadline (Expire) or by hand (EndGrace),
// which release what is still prior and grant the waiters behind it, or
// as soon as no prior state is left. Its rules for new requests of each
// protocol (NLM refuses every new lock during grace, as NFS servers do)
// are the front ends'; InGrace tells them, without the mutex.
//
// What a crash may leave: the journal writes a grant durably before the
// grant is answered, but a release lazily, so a lock released just before
// a crash may come back as prior state. Nobody reclaims it (its owner let
// it go, and a reclaim must match), so it goes when grace ends; until then
// it holds back only requests that grace holds back anyway or that would
// have met the lock a moment earlier. Nothing granted is lost.

// grace is the state of a grace period.
type grace struct {
	until int64 // when it ends; 0: no grace period
}

// Recover restores persisted records as prior state (every owner with
// Prior set, see Restore for what the records must be) and, if any,
// starts a grace period that ends at until.
func (m *Manager) Recover(recs []Record, until time.Time) error {
	prior := make([]Record, len(recs))
	for i, r := range recs {
		r.Owner.Prior = true
		prior[i] = r
	}
	if err := m.Restore(prior); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.prior > 0 {
		m.grace.until = nanosOf(until)
		if m.grace.until == 0 {
			m.grace.until = 1
		}
		m.inGrace.Store(true)
	}
	return nil
}

// InGrace reports whether a grace period is in progress.
func (m *Manager) InGrace() bool { return m.inGrace.Load() }

// GraceStatus describes the grace period: whether one is in progress, when
// it ends, and how many entries and owners are still prior.
type GraceStatus struct {
	Active      bool
	Ends        time.Time
	Unreclaimed int // entries
	Owners      int // prior owners
}

// Grace reports the grace period.
func (m *Manager) Grace() GraceStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	gs := GraceStatus{Active: m.grace.until != 0, Ends: timeOf(m.grace.until), Owners: m.prior}
	for _, o := range m.owners {
		if o.Prior {
			gs.Unreclaimed += o.n
		}
	}
	return gs
}

// EndGrace ends the grace period now: what is still prior is released.
// It returns the notices of the waiters this grants and a BreakDone for
// every file that had a prior caching grant (opens waiting for it go on).
func (m *Manager) EndGrace() []Notice {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.endGrace(nil)
}

func (m *Manager) endGrace(out []Notice) []Notice {
	m.grace = grace{}
	m.inGrace.Store(false)
	if m.prior == 0 {
		return out
	}
	var files []*file
	var done []Notice
	for _, o := range m.owners {
		if !o.Prior {
			continue
		}
		for _, r := range o.files {
			if !slices.Contains(files, r.f) {
				files = append(files, r.f)
			}
			if g := r.f.grantOf(o); g != nil {
				done = append(done, doneNotice(r.f, o.Owner))
			}
		}
	}
	out = m.release(files, func(x *owner) bool { return x.Prior })
	slices.SortFunc(done, func(a, b Notice) int {
		if a.Lock.File.less(b.Lock.File) {
			return -1
		}
		if b.Lock.File.less(a.Lock.File) {
			return 1
		}
		return 0
	})
	return append(out, done...)
}

// settleGrace ends the grace period once nothing is prior any more.
func (m *Manager) settleGrace(out []Notice) []Notice {
	if m.grace.until != 0 && m.prior == 0 {
		return m.endGrace(out)
	}
	return out
}

// Reclaim takes back, during grace, a byte-range lock held before the
// restart (see the top of this file): Granted, and the range is
// req.Owner's; NotLocked when nothing prior matches (the client did not
// hold it); Grace outside a grace period; Denied if a live lock conflicts,
// which two honest clients cannot make happen.
func (m *Manager) Reclaim(req Request) Decision {
	if !req.Owner.valid() || req.Owner.Prior || !req.Mode.valid() {
		return Decision{Status: Invalid}
	}
	s, st := spanFor(req.Owner.Proto, req.Range)
	if st != Granted {
		return Decision{Status: st}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.grace.until == 0 {
		return Decision{Status: Grace}
	}
	f := m.files[req.File]
	if f == nil {
		return Decision{Status: NotLocked}
	}
	var from *owner
	if req.Owner.Proto.posix() {
		from = m.owners[req.Owner.prior()]
		if from == nil || !f.covers(from, s, req.Mode) {
			return Decision{Status: NotLocked}
		}
		d, _ := m.posixPlan(f, from, s, 0, 0)
		m.posixCommit(f)
		m.ref(from, f, d)
	} else {
		i := f.priorExact(req.Owner, s, req.Mode)
		if i < 0 {
			return Decision{Status: NotLocked}
		}
		from = f.locks[i].owner
		f.removeAt(append(m.idx[:0], i))
		m.idx = m.idx[:0]
		from.refKeep(m, f)
	}
	now := m.clock()
	req.Wait = false
	d := m.lock(req, s, now, now)
	if d.Status != Granted {
		m.apply(f, from, s, req.Mode, now) // give it back: the decision stands
		m.gcOwner(from)
		return d
	}
	m.gcOwner(from)
	d.Notices = m.settleGrace(d.Notices)
	return d
}

// refKeep counts one entry of o in f gone without forgetting o yet.
func (o *owner) refKeep(m *Manager, f *file) {
	o.n++ // ref's gcOwner must not forget o: the entry may come back
	m.ref(o, f, -1)
	o.n--
}

// covers reports whether o's locks of mode cover every byte of s.
func (f *file) covers(o *owner, s span, mode Mode) bool {
	next := s.start
	for i := f.from(s); i < len(f.locks); i++ {
		x := &f.locks[i]
		if x.start > next {
			break
		}
		if x.owner != o || x.mode != mode || x.end < next {
			continue
		}
		if x.end >= s.end {
			return true
		}
		next = x.end + 1
	}
	return false
}

// priorExact finds a prior lock of an SMB open of the client of o with
// exactly span s and mode.
func (f *file) priorExact(o Owner, s span, mode Mode) int {
	for i := f.upper(s.start) - 1; i >= 0 && f.locks[i].start == s.start; i-- {
		x := &f.locks[i]
		if x.owner.Prior && x.owner.Proto == o.Proto && x.owner.Host == o.Host && x.span == s && x.mode == mode {
			return i
		}
	}
	return -1
}

// ReclaimOwner makes what o's prior twin holds (locks, share
// reservation, caching grants, a place among a lease's opens) o's own: an
// SMB durable open, or its lease, reconnected after a restart. It is false
// when there is nothing prior of o (grace ended, or it held nothing), or
// when o already holds state of its own. The notices are a BreakDone for
// every file where o holds a caching grant: requests that waited for it
// may now break it as usual.
func (m *Manager) ReclaimOwner(o Owner) ([]Notice, bool) {
	if o.Prior {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.owners[o.prior()]
	if p == nil || m.owners[o] != nil {
		return nil, false
	}
	twin := p.Owner
	delete(m.owners, twin)
	p.Owner = o
	m.owners[o] = p
	m.prior--
	var out []Notice
	for _, r := range p.files {
		for i := range r.f.caching {
			g := &r.f.caching[i]
			for j := range g.opens {
				if g.opens[j] == twin {
					g.opens[j] = o
				}
			}
			if g.owner == p {
				out = append(out, doneNotice(r.f, o))
			}
		}
		m.touch(r.f)
	}
	return m.settleGrace(out), true
}

// hasPrior reports whether f holds prior state.
func (f *file) hasPrior() bool {
	for i := range f.shares {
		if f.shares[i].owner.Prior {
			return true
		}
	}
	for i := range f.caching {
		if f.caching[i].owner.Prior {
			return true
		}
	}
	for i := range f.locks {
		if f.locks[i].owner.Prior {
			return true
		}
	}
	return false
}
