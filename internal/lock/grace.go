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
// What a crash may leave (see package lockstore for the writes): after a
// kill of the server process, exactly the state of the last answered
// change (a release answered with none of its own, such as a close, may
// come back). After a crash of the machine, every grant answered is
// durable as a claim of its client on the file, and its exact range is
// durable with the claim (the client's first grant there) or within a
// second after it; so the records may miss the latest grants of a client
// on a file, or keep a release:
//
//   - a grant the records missed: when the client has no record left on
//     the file, its claim holds the whole file against everyone else and
//     lets the client reclaim what it held there; when some of its records
//     were kept, only those are reclaimable (the window for that is a
//     second after a grant while the client already held something on the
//     same file);
//   - a release the records kept comes back as prior state that nobody
//     reclaims (its owner let it go, and a reclaim must match), and goes
//     when grace ends; until then it holds back only what grace holds back
//     anyway or what met it a moment before the crash.
//
// Nobody else can take what a client held during grace.

// grace is the state of a grace period.
type grace struct {
	until int64 // when it ends; 0: no grace period
}

// Recover restores persisted records as prior state (every owner with
// Prior set, see Restore for what the records must be) and, if any,
// starts a grace period that ends at until.
//
// claims are the journal's claims (see Claim). A claim whose client has
// no record on the file (a crash came between the claim and the records)
// stands for what the client held there: the client may reclaim any range
// of the file that no other client's prior lock conflicts with, and until
// it reclaims something there the whole file is held against everyone
// else, as a prior exclusive lock of a placeholder owner of the client
// (see IsPlaceholder).
func (m *Manager) Recover(recs []Record, claims []Claim, until time.Time) error {
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
	for _, c := range claims {
		if !c.Proto.valid() || len(c.Host) > MaxHostLen {
			continue
		}
		if f := m.files[c.File]; f == nil || !f.holdsClient(c.Proto, c.Host) {
			m.claims[c] = true
			m.placeholder(c)
		}
	}
	if m.prior > 0 || len(m.claims) > 0 {
		m.grace.until = nanosOf(until)
		if m.grace.until == 0 {
			m.grace.until = 1
		}
		m.inGrace.Store(true)
	}
	if m.prior == 0 {
		clear(m.claims) // nothing held: nothing to reclaim
		m.grace = grace{}
		m.inGrace.Store(false)
	}
	return nil
}

// placeholderOH marks the owner of a claim's placeholder lock.
const placeholderOH = "\x00claim"

// IsPlaceholder reports whether o is the owner of a claim's placeholder:
// the lock that stands, after a restart, for state of its client on the
// file that the records did not keep. Its range is the whole file.
func (o Owner) IsPlaceholder() bool { return o.Prior && o.OH == placeholderOH }

// placeholder adds c's placeholder lock. It may overlap prior locks of
// others: it is no grant, only a bar to everyone but its client.
func (m *Manager) placeholder(c Claim) {
	o := m.ownerOf(Owner{Proto: c.Proto, Host: c.Host, OH: placeholderOH, Prior: true})
	f := m.fileOf(c.File)
	f.insert(entry{span: span{start: 0, end: maxOffset}, mode: Exclusive, owner: o, since: m.clock()})
	m.ref(o, f, 1)
}

// holdsClient reports whether f holds an entry of a prior owner of the
// client (proto, host).
func (f *file) holdsClient(p Proto, host string) bool {
	is := func(o *owner) bool { return o.Prior && o.Proto == p && o.Host == host }
	for i := range f.locks {
		if is(f.locks[i].owner) {
			return true
		}
	}
	for i := range f.shares {
		if is(f.shares[i].owner) {
			return true
		}
	}
	for i := range f.caching {
		if is(f.caching[i].owner) {
			return true
		}
	}
	return false
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
	clear(m.claims)
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
// req.Owner's; NotLocked when nothing prior matches and the records of the
// client on the file were not lost (it did not hold it); Grace outside a
// grace period; Denied if a live lock, or a prior lock of someone else,
// conflicts, which honest clients cannot make happen. The client's
// placeholder on the file goes with its first reclaim there.
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
	claimed := m.claims[ClaimOf(req.File, req.Owner)]
	var twin *owner
	exact := -1
	if f != nil {
		if req.Owner.Proto.posix() {
			if twin = m.owners[req.Owner.prior()]; twin != nil && !f.covers(twin, s, req.Mode) {
				twin = nil
			}
		} else {
			exact = f.priorExact(req.Owner, s, req.Mode)
		}
	}
	if twin == nil && exact < 0 && !claimed {
		return Decision{Status: NotLocked}
	}
	if f != nil {
		if i := f.reclaimConflict(s, m.owners[req.Owner], req.Mode, twin, exact); i >= 0 {
			return Decision{Status: Denied, Holder: lockOf(f, &f.locks[i])}
		}
		m.takePrior(f, req.Owner, s, twin, exact)
	}
	// Nothing live conflicts, nor anything prior but placeholders, which
	// stand for ranges unknown and bar only new requests.
	now := m.clock()
	d := m.grant(req, m.files[req.File], m.owners[req.Owner], s, now, now)
	d.Notices = m.settleGrace(d.Notices)
	return d
}

// reclaimConflict is the first lock of f that stops a reclaim of s in mode
// want by req, whose prior twin is twin (or whose client's prior lock at
// index exact it takes): a live lock that conflicts, or a prior lock of
// someone else (not a placeholder, which stands for unknown ranges) that
// conflicts.
func (f *file) reclaimConflict(s span, req *owner, want Mode, twin *owner, exact int) int {
	for i := f.from(s); i < len(f.locks); i++ {
		x := &f.locks[i]
		if x.start > s.end {
			break
		}
		if i == exact || x.owner == twin || x.owner.OH == placeholderOH && x.owner.Prior || !overlaps(x.span, s) {
			continue
		}
		if x.owner.Prior {
			if x.mode == Exclusive || want == Exclusive {
				return i
			}
			continue
		}
		if conflicts(x.owner, x.mode, req, want) {
			return i
		}
	}
	return -1
}

// takePrior removes from f what a reclaim of s by o takes over: the range
// from o's twin (POSIX) or the exact lock of its client (SMB), and the
// placeholder of o's client.
func (m *Manager) takePrior(f *file, o Owner, s span, twin *owner, exact int) {
	var touched []*owner
	if twin != nil {
		d, _ := m.posixPlan(f, twin, s, 0, 0)
		m.posixCommit(f)
		twin.refKeep(m, f, d)
		touched = append(touched, twin)
	}
	idx := m.idx[:0]
	for i := range f.locks {
		x := &f.locks[i]
		if !x.owner.Prior {
			continue
		}
		if i == exact || x.owner.OH == placeholderOH && x.owner.Proto == o.Proto && x.owner.Host == o.Host {
			idx = append(idx, i)
		}
	}
	for _, i := range idx {
		ow := f.locks[i].owner
		ow.refKeep(m, f, -1)
		touched = append(touched, ow)
	}
	f.removeAt(idx)
	m.idx = idx[:0]
	for _, ow := range touched {
		m.gcOwner(ow)
	}
}

// refKeep counts d entries of o in f added (or gone) without forgetting o
// yet: the caller still uses it.
func (o *owner) refKeep(m *Manager, f *file, d int) {
	o.n++ // ref's gcOwner must not forget o
	m.ref(o, f, d)
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
		m.dropPlaceholder(r.f, o.Proto, o.Host)
	}
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

// dropPlaceholder removes the placeholder of client (proto, host) from f:
// the client reclaimed state there.
func (m *Manager) dropPlaceholder(f *file, p Proto, host string) {
	for i := range f.locks {
		x := &f.locks[i]
		if x.owner.OH == placeholderOH && x.owner.Prior && x.owner.Proto == p && x.owner.Host == host {
			ow := x.owner
			f.removeAt(append(m.idx[:0], i))
			m.idx = m.idx[:0]
			m.ref(ow, f, -1)
			return
		}
	}
}
