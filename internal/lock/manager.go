package lock

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Manager is the lock table of every file. Its methods are safe for
// concurrent use: each runs as one step under the Manager's mutex, does no
// I/O and starts no goroutine, so the outcome of a sequence of calls depends
// only on the calls and the clock.
type Manager struct {
	mu      sync.Mutex
	now     func() time.Time
	limits  Limits
	files   map[FileKey]*file
	owners  map[Owner]*owner
	hosts   map[client]*host
	waiters map[WaiterID]*waiter
	lastID  WaiterID
	count   int    // entries of every file
	epoch   uint64 // marks of the current wait-for graph walk

	grace   grace            // the grace period after a restart (grace.go)
	inGrace atomic.Bool      // grace.until != 0, for readers without mu
	prior   int              // owners with Prior set
	claims  map[Claim]bool   // the claims of clients during grace
	track   bool             // remember changed files (changes.go)
	changed map[FileKey]bool // files whose persisted state changed
	seq     atomic.Uint64    // number of the last change to persisted state

	presence presence // which files have a table, for readers without mu

	// onChange is closed at the next change of persisted state, for
	// AwaitBreaks; nil while nobody waits.
	onChange chan struct{}

	lockings   lockings                // shares whose locking is not Unified (locking.go)
	io         atomic.Pointer[ioTable] // intents of NFS requests (intent.go)
	lastIntent uint64                  // id of the last intent kept in a file's table

	// Scratch space, reused under mu so that the common paths do not
	// allocate: an owner that locks and unlocks again and again is made
	// and forgotten each time, so forgotten states are kept for reuse.
	stack      []*owner
	blk        []*owner
	idx        []int
	pieces     []entry
	freeOwners []*owner
	freeHosts  []*host
	freeFiles  []*file
}

// maxFree bounds each list of forgotten states kept for reuse.
const maxFree = 64

// file is the lock table of one file.
type file struct {
	key     FileKey
	locks   []entry   // granted byte ranges, by start, then in order of grant
	waiters []*waiter // queued requests, first come first
	shares  []reservation
	caching []grant  // leases and oplocks
	intents []tabled // NFS requests in progress, when the intent table was full
	// width bounds end-start of every lock (it may be stale upward), so
	// that a search for locks meeting a range can skip those that start
	// too early to reach it.
	width uint64
}

func (f *file) size() int {
	return len(f.locks) + len(f.waiters) + len(f.shares) + len(f.caching) + len(f.intents)
}

// entry is a granted byte-range lock.
type entry struct {
	span
	mode  Mode
	owner *owner
	since int64
}

// owner is the state of one Owner: how many entries it has in which files,
// the requests it has queued (its edges in the wait-for graph) and its host.
// An owner with no entries is forgotten.
type owner struct {
	Owner
	host       *host
	prev, next *owner // the host's owners
	n          int
	files      []fileRef
	fileBuf    [1]fileRef // files' first slot: most owners use one file
	waiting    []*waiter
	mark       uint64
}

type fileRef struct {
	f *file
	n int
}

// client names a host of one protocol: the unit of the per-client limit and
// of ReleaseHost.
type client struct {
	proto Proto
	name  string
}

type host struct {
	client
	n      int
	owners *owner // first of a list linked by owner.next
}

// New returns an empty Manager.
func New(c Config) *Manager {
	if c.Now == nil {
		c.Now = time.Now
	}
	return &Manager{
		now:     c.Now,
		limits:  c.Limits,
		files:   make(map[FileKey]*file),
		owners:  make(map[Owner]*owner),
		hosts:   make(map[client]*host),
		waiters: make(map[WaiterID]*waiter),
		track:   c.Track,
		changed: make(map[FileKey]bool),
		claims:  make(map[Claim]bool),
	}
}

func (m *Manager) clock() int64 { return m.now().UnixNano() }

// timeOf turns a stored clock reading back into a time; 0 is no time.
func timeOf(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func nanosOf(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// ownerOf returns the state of o, making it if it has none.
func (m *Manager) ownerOf(o Owner) *owner {
	if ow := m.owners[o]; ow != nil {
		return ow
	}
	c := client{proto: o.Proto, name: o.Host}
	h := m.hosts[c]
	if h == nil {
		h = pop(&m.freeHosts)
		h.client = c
		m.hosts[c] = h
	}
	ow := pop(&m.freeOwners)
	ow.Owner, ow.host, ow.next = o, h, h.owners
	ow.files = ow.fileBuf[:0]
	if h.owners != nil {
		h.owners.prev = ow
	}
	h.owners = ow
	m.owners[o] = ow
	if o.Prior {
		m.prior++
	}
	return ow
}

// fileOf returns the table of k, making it if it has none.
func (m *Manager) fileOf(k FileKey) *file {
	if f := m.files[k]; f != nil {
		return f
	}
	f := pop(&m.freeFiles)
	f.key = k
	m.presence.add(k)
	m.files[k] = f
	return f
}

func pop[T any](free *[]*T) *T {
	if n := len(*free); n > 0 {
		x := (*free)[n-1]
		(*free)[n-1] = nil
		*free = (*free)[:n-1]
		return x
	}
	return new(T)
}

func push[T any](free *[]*T, x *T) {
	if len(*free) < maxFree {
		*free = append(*free, x)
	}
}

// ref adds d (which may be negative) to the entries o has in f and keeps
// the counts of the owner, its host and the server.
func (m *Manager) ref(o *owner, f *file, d int) {
	if d == 0 {
		return
	}
	found := false
	for i := range o.files {
		if o.files[i].f == f {
			o.files[i].n += d
			if o.files[i].n == 0 {
				o.files = slices.Delete(o.files, i, i+1)
			}
			found = true
			break
		}
	}
	if !found {
		o.files = append(o.files, fileRef{f: f, n: d})
	}
	o.n += d
	o.host.n += d
	m.count += d
	m.touch(f)
	m.gcOwner(o)
}

// gcOwner forgets o, and its host, once they hold nothing. Nothing may
// point at o afterwards: its state is reused for the next new owner.
func (m *Manager) gcOwner(o *owner) {
	if o.n != 0 || len(o.waiting) != 0 || m.owners[o.Owner] != o {
		return
	}
	delete(m.owners, o.Owner)
	if o.Prior {
		m.prior--
	}
	h := o.host
	if o.prev != nil {
		o.prev.next = o.next
	} else {
		h.owners = o.next
	}
	if o.next != nil {
		o.next.prev = o.prev
	}
	if h.owners == nil {
		delete(m.hosts, h.client)
		*h = host{}
		push(&m.freeHosts, h)
	}
	waiting := o.waiting[:0]
	*o = owner{waiting: waiting}
	push(&m.freeOwners, o)
}

// gcFile forgets the table of f once it is empty. Nothing may point at f
// afterwards: its state is reused for the next new file.
func (m *Manager) gcFile(f *file) {
	if f.size() != 0 || m.files[f.key] != f {
		return
	}
	m.presence.remove(f.key)
	delete(m.files, f.key)
	*f = file{locks: f.locks[:0], waiters: f.waiters[:0], shares: f.shares[:0], caching: f.caching[:0], intents: f.intents[:0]}
	push(&m.freeFiles, f)
}

// admit reports whether d more entries for o in f stay within the limits.
func (m *Manager) admit(o *owner, f *file, d int) bool {
	if d <= 0 {
		return true
	}
	l := m.limits
	switch {
	case l.Total > 0 && m.count+d > l.Total:
		return false
	case l.PerFile > 0 && f.size()+d > l.PerFile:
		return false
	case l.PerClient > 0 && o.host.n+d > l.PerClient:
		return false
	}
	return true
}

// lockOf describes a granted entry of f.
func lockOf(f *file, x *entry) Lock {
	return Lock{
		File:  f.key,
		Owner: x.owner.Owner,
		Range: x.span.rangeFor(x.owner.Proto),
		Mode:  x.mode,
		Since: timeOf(x.since),
	}
}

// upper is the index at which an entry starting at start goes: after every
// entry that starts at or before it, so that entries of equal start keep
// the order they were granted in (SMB unlock depends on it).
func (f *file) upper(start uint64) int {
	lo, hi := 0, len(f.locks)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if f.locks[mid].start <= start {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

func (f *file) insert(x entry) {
	f.width = max(f.width, x.end-x.start)
	f.locks = slices.Insert(f.locks, f.upper(x.start), x)
}

// from is the index of the first lock that may overlap or touch s: every
// lock before it ends more than one byte before s starts.
func (f *file) from(s span) int {
	if s.start <= f.width || s.start-f.width <= 1 {
		return 0
	}
	lo, hi, min := 0, len(f.locks), s.start-f.width-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if f.locks[mid].start < min {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// removeAt removes the entries at the ascending indices idx.
func (f *file) removeAt(idx []int) {
	if len(idx) == 0 {
		return
	}
	widest := false
	j := idx[0]
	for k, i := range idx {
		widest = widest || f.locks[i].end-f.locks[i].start == f.width
		next := len(f.locks)
		if k+1 < len(idx) {
			next = idx[k+1]
		}
		j += copy(f.locks[j:], f.locks[i+1:next])
	}
	clear(f.locks[j:])
	f.locks = f.locks[:j]
	if widest {
		// Rare (the widest lock went): find the new bound, so that one
		// to-EOF lock does not slow the file's searches for good.
		f.width = 0
		for i := range f.locks {
			f.width = max(f.width, f.locks[i].end-f.locks[i].start)
		}
	}
}

// conflict returns the index of the first granted lock that stops req from
// locking s in mode want, or -1. req is nil for an owner with no state.
func (f *file) conflict(s span, req *owner, want Mode) int {
	for i := f.from(s); i < len(f.locks); i++ {
		x := &f.locks[i]
		if x.start > s.end {
			break
		}
		if overlaps(x.span, s) && conflicts(x.owner, x.mode, req, want) {
			return i
		}
	}
	return -1
}
