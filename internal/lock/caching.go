package lock

import (
	"slices"
	"time"
)

// Caching is what a caching grant lets its holder cache: reads, handles
// (a close it may delay) and writes. The bits are those of an SMB2 lease
// state; an oplock is a grant of R (level II), RW (exclusive) or RWH
// (batch).
type Caching uint8

// Caching bits.
const (
	CacheRead   Caching = 1
	CacheHandle Caching = 2
	CacheWrite  Caching = 4

	cacheAll = CacheRead | CacheHandle | CacheWrite
)

func (c Caching) String() string {
	if c == 0 {
		return "none"
	}
	b := make([]byte, 0, 3)
	if c&CacheRead != 0 {
		b = append(b, 'R')
	}
	if c&CacheWrite != 0 {
		b = append(b, 'W')
	}
	if c&CacheHandle != 0 {
		b = append(b, 'H')
	}
	return string(b)
}

// LeaseOwner is the holder of an SMB lease: the client (as in SMBOwner)
// and the lease key the client chose. The opens that share the lease are
// SMBOwners; an oplock's holder is its open itself.
func LeaseOwner(client string, key [16]byte) Owner {
	return Owner{Proto: SMB, Host: client, OH: string(key[:])}
}

// DefaultBreakTimeout is how long a break waits for its acknowledgment
// when the request gives no deadline (MS-SMB2's 35 seconds).
const DefaultBreakTimeout = 35 * time.Second

// grant is a caching grant in a file's table.
type grant struct {
	owner    *owner
	lease    bool
	epochs   bool // the epoch counts changes (SMB2 lease v2)
	state    Caching
	breaking bool    // a break waits for the holder's acknowledgment
	breakTo  Caching // what the break in progress leaves
	need     Caching // the most a later break must leave, once this one is acknowledged
	series   bool    // conflicts came during a break: the breaks that follow keep its epoch
	epoch    uint16
	deadline int64   // when an unacknowledged break is revoked
	timeout  int64   // how long the break in progress was given
	opens    []Owner // the opens that share the grant (one for an oplock)
	since    int64
}

// Break is a break to send to the holder of a caching grant: its state goes
// from From to To. AckRequired says the holder must acknowledge it; until
// then the grant keeps From. Epoch is the grant's new epoch (SMB2 lease v2).
type Break struct {
	File        FileKey
	Holder      Owner
	Lease       bool
	From, To    Caching
	Epoch       uint16
	AckRequired bool
}

// CacheRequest is an open that asks for caching, or that may make others
// give up theirs.
type CacheRequest struct {
	File FileKey
	// Open is the open (SMBOwner); Holder the lease (LeaseOwner), or Open
	// again for an oplock.
	Open, Holder Owner
	Lease        bool
	Want         Caching
	// Epochs makes a new lease count its changes in an epoch, starting
	// at the one after Epoch, which the client sent (SMB2 lease v2). A
	// lease made without keeps epoch 0.
	Epochs bool
	Epoch  uint16
	// Access and Share are the open's data access and share access: an open
	// that would meet a sharing violation breaks others' handle caching,
	// since closing a cached handle may let it in.
	Access Access
	Share  ShareAccess
	// Overwrite says the open truncates the file: others' read caching goes.
	Overwrite bool
	// StatLeases and StatOplocks say the open is a stat open, which
	// breaks no lease or no oplock: it only looks at or sets attributes
	// (for leases, also reads the security descriptor).
	StatLeases, StatOplocks bool
	// Deadline is when breaks sent for this request are revoked if not
	// acknowledged.
	Deadline time.Time
	// Waited says the open already waited for breaks: it waits on while
	// any break of another holder is in progress, so that opens that
	// waited go on once the file's breaks are over.
	Waited bool
}

// OpenDecision is what PrepareOpen and Contend decide.
type OpenDecision struct {
	// Status is Granted, or Invalid when the lease key already names a
	// lease on another file.
	Status Status
	// Wait says the request must wait until the breaks in progress end: a
	// BreakDone notice for the file, or their Deadline (call Expire then).
	Wait     bool
	Deadline time.Time
	// Notices are the breaks to send (Status Breaking).
	Notices []Notice
}

// CacheGrant is the caching an open got, or a grant's state after an
// acknowledgment.
type CacheGrant struct {
	State    Caching
	Epoch    uint16
	Breaking bool // a break of the grant waits for its acknowledgment
	BreakTo  Caching
	Epochs   bool // the lease was made with Epochs
}

func (g *grant) cacheGrant() CacheGrant {
	return CacheGrant{State: g.state, Epoch: g.epoch, Breaking: g.breaking, BreakTo: g.breakTo, Epochs: g.epochs}
}

// grantOf returns the grant of holder o in f, or nil.
func (f *file) grantOf(o *owner) *grant {
	if o == nil {
		return nil
	}
	for i := range f.caching {
		if f.caching[i].owner == o {
			return &f.caching[i]
		}
	}
	return nil
}

// sharedBy reports whether the open o is one of the opens of g.
func (g *grant) sharedBy(o Owner) bool { return slices.Contains(g.opens, o) }

// PrepareOpen decides, before an open is added, which caching grants of
// other holders must break for it (MS-SMB2 3.3.5.9, MS-FSA 2.1.5.17): write
// caching goes, or with a sharing violation handle caching; an overwrite
// also takes read and handle caching. An oplock breaks to level II or none.
// The open waits while a grant holding what it needs gone has not
// acknowledged its break, and while an NFS request in progress does what
// it would deny (intent.go). A stat open breaks nothing.
func (m *Manager) PrepareOpen(req CacheRequest) OpenDecision {
	m.mu.Lock()
	defer m.mu.Unlock()
	if req.Lease {
		if ow := m.owners[req.Holder]; ow != nil {
			for _, r := range ow.files {
				if r.f.key != req.File && r.f.grantOf(ow) != nil {
					return OpenDecision{Status: Invalid}
				}
			}
		}
	}
	f := m.files[req.File]
	if req.Access != 0 && m.unified(req.File.Share) &&
		m.ioHolds(req.File, f, true, func(x intent) bool { return x.bindsOpen(req.Access, req.Share) }) {
		// An NFS request in progress does what the open would deny: wait
		// for its end (a BreakDone), then ask again.
		return OpenDecision{Wait: true, Deadline: timeOf(m.clock() + int64(ioWaitBound))}
	}
	if f == nil || len(f.caching) == 0 || req.StatLeases && req.StatOplocks && !req.Overwrite {
		return OpenDecision{}
	}
	violation := false
	for i := range f.shares {
		r := &f.shares[i]
		if r.owner.Owner != req.Open && sharingConflict(req.Access, req.Share, r.access, r.share) {
			violation = true
			break
		}
	}
	remove := CacheWrite
	if violation {
		remove = CacheHandle
	}
	drop := remove
	if req.Overwrite {
		drop |= CacheRead | CacheHandle
	}
	var skip func(*grant) bool
	if !req.Overwrite && (req.StatLeases || req.StatOplocks) {
		skip = func(g *grant) bool { return g.lease && req.StatLeases || !g.lease && req.StatOplocks }
	}
	return m.contend(f, m.owners[req.Holder], remove, drop, nanosOf(req.Deadline), skip, req.Waited)
}

// contend breaks what drop names of every grant of f but except's and
// those skip selects, and says whether to wait for the acknowledgment of
// those that hold a bit of delay.
func (m *Manager) contend(f *file, except *owner, delay, drop Caching, deadline int64, skip func(*grant) bool, waited bool) OpenDecision {
	var d OpenDecision
	var until int64
	for i := range f.caching {
		g := &f.caching[i]
		if g.owner == except && except != nil || skip != nil && skip(g) {
			continue
		}
		if g.owner.Prior {
			// Its holder has no connection to hear a break: what needs
			// its caching gone waits until it is reclaimed (and then
			// broken as usual) or released when grace ends.
			if g.state&drop != 0 {
				d.Wait = true
				if until == 0 || m.grace.until < until {
					until = m.grace.until
				}
			}
			continue
		}
		target := g.state &^ drop
		if target&CacheRead == 0 {
			target = 0 // handle caching alone is no state
		}
		if !g.breaking && target == g.state {
			continue
		}
		if !g.lease {
			target &^= CacheHandle | CacheWrite // oplocks break to level II or none
		}
		if g.breaking {
			g.need &= target
			if g.state&delay != 0 || waited {
				d.Wait = true
				if until == 0 || g.deadline < until {
					until = g.deadline
				}
			}
			continue
		}
		if target == g.state {
			continue
		}
		d.Notices = append(d.Notices, m.startBreak(f, g, target, deadline))
		if g.breaking && g.state&delay != 0 {
			d.Wait = true
			if until == 0 || g.deadline < until {
				until = g.deadline
			}
		}
	}
	d.Deadline = timeOf(until)
	return d
}

// startBreak starts breaking g to target. A grant that caches only reads
// (a level II oplock, an R lease) has nothing to flush: it breaks at once
// and needs no acknowledgment.
func (m *Manager) startBreak(f *file, g *grant, target Caching, deadline int64) Notice {
	from := g.state
	ack := from&(CacheWrite|CacheHandle) != 0
	// One epoch covers a break and those that conflicts arriving during
	// it make follow.
	if g.epochs && !g.series {
		g.epoch++
	}
	g.series = false
	if ack {
		now := m.clock()
		if deadline <= now {
			deadline = now + int64(DefaultBreakTimeout)
		}
		g.breaking, g.breakTo, g.need, g.deadline, g.timeout = true, target, target, deadline, deadline-now
	} else {
		g.state = target
		m.touch(f)
	}
	return Notice{Status: Breaking, Lock: Lock{File: f.key, Owner: g.owner.Owner},
		Break: Break{File: f.key, Holder: g.owner.Owner, Lease: g.lease, From: from, To: target, Epoch: g.epoch, AckRequired: ack}}
}

// GrantCaching gives an open that was just added (its share reservation
// is recorded) the caching it asked for, as far as the file's other opens
// allow: write caching only when no open of another holder and no NLM lock
// exists, nothing NFS requests in progress change (intent.go); for a lease no handle caching beside another's oplock, for an
// oplock nothing beside another's handle lease. An open of an existing
// lease joins it, and upgrades it when it asks for more than the lease
// holds and no break is in progress. A grant with no caching is kept for
// a lease (the client may upgrade it) and not made for an oplock.
func (m *Manager) GrantCaching(req CacheRequest) (CacheGrant, Status) {
	if !req.Open.valid() || !req.Holder.valid() || req.Want&^cacheAll != 0 {
		return CacheGrant{}, Invalid
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.files[req.File]
	if f == nil {
		return CacheGrant{}, Invalid // the open's share reservation is missing
	}
	ow := m.owners[req.Holder]
	mine := f.grantOf(ow)
	want := req.Want
	if want&CacheRead == 0 {
		want = 0 // handle or write caching without read caching is no state
	}
	if !req.Lease && want&CacheWrite == 0 {
		want &= CacheRead
	}
	for i := range f.shares {
		o := f.shares[i].owner.Owner
		if o != req.Open && (mine == nil || !mine.sharedBy(o)) {
			want &^= CacheWrite
			if !req.Lease && req.StatOplocks {
				want = 0 // a stat open beside others gets no oplock
			}
			break
		}
	}
	for i := range f.locks {
		if f.locks[i].owner.Proto == NLM {
			want &^= CacheWrite
			break
		}
	}
	// Nothing of what NFS requests in progress change is cached.
	want &^= m.ioDrops(req.File, f)
	if m.grace.until != 0 && f.hasPrior() {
		// What a reclaim may bring back must not find the file cached
		// for writes or with handles kept open.
		want &= CacheRead
	}
	for i := range f.caching {
		g := &f.caching[i]
		switch {
		case g == mine:
		case req.Lease && !g.lease && g.state != 0:
			want &^= CacheHandle
		case !req.Lease && g.lease && g.state&CacheHandle != 0:
			want = 0
		}
	}
	if !req.Lease && want&CacheWrite == 0 {
		want &= CacheRead
	}
	if mine != nil {
		m.touch(f)
		if !mine.sharedBy(req.Open) {
			mine.opens = append(mine.opens, req.Open)
		}
		// A lease is upgraded only when all that is asked can be had.
		if !mine.breaking && want == req.Want && want&^mine.state != 0 && mine.state&^want == 0 {
			mine.state = want
			if mine.epochs {
				mine.epoch++
			}
		}
		return mine.cacheGrant(), Granted
	}
	if !req.Lease && want == 0 {
		return CacheGrant{}, Granted
	}
	if ow == nil {
		ow = m.ownerOf(req.Holder)
	}
	if !m.admit(ow, f, 1) {
		m.gcOwner(ow)
		return CacheGrant{}, LimitExceeded
	}
	g := grant{owner: ow, lease: req.Lease, state: want, opens: []Owner{req.Open}, since: m.clock()}
	if req.Lease && req.Epochs {
		g.epochs, g.epoch = true, req.Epoch+1
	}
	f.caching = append(f.caching, g)
	m.ref(ow, f, 1)
	return g.cacheGrant(), Granted
}

// AckBreak is the holder's acknowledgment of a break: the grant keeps
// state, which must lie within what the break left. It is NotLocked when
// the holder has no grant, Denied when no break is in progress and Invalid
// when state keeps more than the break allows. The notices say the break
// is done and, if conflicts came while it was in progress, start the next.
func (m *Manager) AckBreak(holder Owner, state Caching) (CacheGrant, Status, []Notice) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ow := m.owners[holder]
	if ow == nil {
		return CacheGrant{}, NotLocked, nil
	}
	var f *file
	var g *grant
	for _, r := range ow.files {
		if g = r.f.grantOf(ow); g != nil {
			f = r.f
			break
		}
	}
	switch {
	case g == nil:
		return CacheGrant{}, NotLocked, nil
	case !g.breaking:
		return g.cacheGrant(), Denied, nil
	case state&^g.breakTo != 0:
		return g.cacheGrant(), Invalid, nil
	}
	g.state, g.breaking, g.breakTo, g.deadline = state, false, 0, 0
	m.touch(f)
	out := []Notice{doneNotice(f, g.owner.Owner)}
	// Conflicts that came during the break take what they need now, but
	// read caching alone, which needs no acknowledgment, goes when the
	// request that needs it gone asks again.
	if g.state&^g.need != 0 {
		g.series = true
	}
	if next := g.state & (g.need | CacheRead); next != g.state {
		out = append(out, m.startBreak(f, g, next, m.clock()+g.timeout))
		g.series = g.state&^g.need != 0 || g.breakTo&^g.need != 0
	}
	return g.cacheGrant(), Granted, out
}

func doneNotice(f *file, holder Owner) Notice {
	return Notice{Status: BreakDone, Lock: Lock{File: f.key, Owner: holder}}
}

// Contention is what another protocol is about to do to a file, for
// Contend.
type Contention uint8

// Contentions.
const (
	ContendRead   Contention = iota + 1 // a read: write caching goes (the holder flushes)
	ContendWrite                        // a write or a change of size: all data caching goes
	ContendRemove                       // a remove or rename: handle caching goes
	ContendLock                         // a byte-range lock: write caching goes
	// ContendSMBWrite is a change of data through an SMB open, which holds
	// no write caching itself: the grants that cache reads without writes
	// break to none, without waiting.
	ContendSMBWrite
)

// Contend breaks the caching grants that what another protocol (or
// another SMB holder, except) is about to do conflicts with, and says
// whether it must wait for their acknowledgment (an NFS server waits a
// short while, then asks the client to retry). The request goes on once
// no grant holds what it needs gone.
func (m *Manager) Contend(k FileKey, except Owner, c Contention, deadline time.Time) OpenDecision {
	var drop Caching
	switch c {
	case ContendRead, ContendLock:
		drop = CacheWrite
	case ContendWrite:
		drop = CacheRead | CacheWrite | CacheHandle
	case ContendRemove:
		drop = CacheHandle
	case ContendSMBWrite:
		drop = cacheAll
	default:
		return OpenDecision{Status: Invalid}
	}
	if m.Idle(k) {
		return OpenDecision{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.files[k]
	if f == nil || len(f.caching) == 0 {
		return OpenDecision{}
	}
	delay := drop
	switch c {
	case ContendWrite:
		delay = CacheWrite | CacheHandle // read caching needs no acknowledgment
	case ContendSMBWrite:
		delay = 0
	}
	var skip func(*grant) bool
	if c == ContendSMBWrite {
		skip = func(g *grant) bool { return g.state&CacheWrite != 0 }
	}
	return m.contend(f, m.owners[except], delay, drop, nanosOf(deadline), skip, false)
}

// HoldsCaching reports whether holder has a caching grant on any file.
func (m *Manager) HoldsCaching(holder Owner) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	ow := m.owners[holder]
	if ow == nil {
		return false
	}
	for _, r := range ow.files {
		if r.f.grantOf(ow) != nil {
			return true
		}
	}
	return false
}

// Caching reports the grant of holder on file k.
func (m *Manager) Caching(k FileKey, holder Owner) (CacheGrant, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.files[k]
	if f == nil {
		return CacheGrant{}, false
	}
	g := f.grantOf(m.owners[holder])
	if g == nil {
		return CacheGrant{}, false
	}
	return g.cacheGrant(), true
}

// dropCaching removes from f the opens that gone selects from the grants'
// opens, and the grants left with none or whose holder gone selects. A
// grant that goes while breaking ends its break (a BreakDone notice).
func (m *Manager) dropCaching(f *file, gone func(*owner) bool, out []Notice) []Notice {
	j := 0
	for i := range f.caching {
		g := f.caching[i]
		if !gone(g.owner) {
			opens := g.opens[:0]
			for _, o := range g.opens {
				if ow := m.owners[o]; ow == nil || !gone(ow) {
					opens = append(opens, o)
				}
			}
			if len(opens) != len(g.opens) {
				m.touch(f)
			}
			clear(g.opens[len(opens):])
			g.opens = opens
		}
		if gone(g.owner) || len(g.opens) == 0 {
			if g.breaking {
				out = append(out, doneNotice(f, g.owner.Owner))
			}
			m.ref(g.owner, f, -1)
			continue
		}
		f.caching[j] = g
		j++
	}
	clear(f.caching[j:])
	f.caching = f.caching[:j]
	return out
}

// expireBreaks revokes the breaks whose deadline passed: a holder that
// does not answer loses all caching (MS-SMB2 3.3.2.5: the lease state, or
// the oplock level, becomes none).
func (m *Manager) expireBreaks(now int64, out []Notice) []Notice {
	var files []*file
	for _, f := range m.files {
		for i := range f.caching {
			g := &f.caching[i]
			if g.breaking && g.deadline != 0 && g.deadline <= now {
				files = append(files, f)
				break
			}
		}
	}
	slices.SortFunc(files, func(a, b *file) int {
		if a.key.less(b.key) {
			return -1
		}
		return 1
	})
	for _, f := range files {
		for i := range f.caching {
			g := &f.caching[i]
			if g.breaking && g.deadline != 0 && g.deadline <= now {
				g.state, g.breaking, g.breakTo, g.deadline = 0, false, 0, 0
				m.touch(f)
				out = append(out, doneNotice(f, g.owner.Owner))
			}
		}
	}
	return out
}

// nextBreakDeadline is the earliest deadline of a break in progress, or 0.
func (m *Manager) nextBreakDeadline() int64 {
	var next int64
	for _, f := range m.files {
		for i := range f.caching {
			g := &f.caching[i]
			if g.breaking && g.deadline != 0 && (next == 0 || g.deadline < next) {
				next = g.deadline
			}
		}
	}
	return next
}

func (f *file) cachingRecord(g *grant) Record {
	r := Record{Kind: KindCaching, File: f.key, Owner: g.owner.Owner, Caching: g.state, Lease: g.lease,
		Epochs: g.epochs, Epoch: g.epoch, Opens: make([]uint64, len(g.opens)), Since: timeOf(g.since)}
	for i, o := range g.opens {
		r.Opens[i] = o.Open
	}
	return r
}

// restoreCaching adds the grant of a record to the table (Restore). The
// grant's opens are the SMB owners of the holder's host with the record's
// Open numbers and the holder's Prior.
func (m *Manager) restoreCaching(r Record, since int64) error {
	switch {
	case r.Owner.Proto != SMB || r.Mode != 0 || r.Range != (Range{}) || r.Access != 0 || r.ShareAccess != 0:
		return errRestore("invalid caching grant")
	case r.Caching&^cacheAll != 0 || len(r.Opens) == 0 || !r.Lease && len(r.Opens) != 1 || !r.Lease && r.Epochs:
		return errRestore("invalid caching grant")
	}
	f, ow := m.fileOf(r.File), m.ownerOf(r.Owner)
	if f.grantOf(ow) != nil {
		return errRestore("two grants of one holder")
	}
	g := grant{owner: ow, lease: r.Lease, epochs: r.Epochs, state: r.Caching, epoch: r.Epoch, since: since,
		opens: make([]Owner, len(r.Opens))}
	for i, id := range r.Opens {
		g.opens[i] = Owner{Proto: SMB, Host: r.Owner.Host, Open: id, Prior: r.Owner.Prior}
	}
	f.caching = append(f.caching, g)
	m.ref(ow, f, 1)
	return nil
}
