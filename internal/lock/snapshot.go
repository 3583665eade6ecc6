package lock

import (
	"fmt"
	"slices"
	"time"
)

// Record is one granted entry of the lock table, in the form that is
// persisted: a byte-range lock (Kind, File, Owner, Mode, Range, Since) or a
// share reservation (Kind, File, Owner, Access, ShareAccess, Since). The
// fields of the other kind are zero. Waiters are never records: a client
// whose request waited asks again after a restart.
type Record struct {
	Kind        Kind
	File        FileKey
	Owner       Owner
	Mode        Mode
	Range       Range
	Access      Access
	ShareAccess ShareAccess
	// A caching grant (KindCaching): its state, whether it is a lease
	// (else an oplock), whether the lease counts its changes in an
	// epoch (SMB2 lease v2) and that epoch, and the opens that share it,
	// by their Open numbers (the opens are SMB owners of Owner's Host).
	Caching Caching
	Lease   bool
	Epochs  bool
	Epoch   uint16
	Opens   []uint64
	Since   time.Time
}

// Entry is one line of a Snapshot: a record, or a waiter (Waiting, with its
// id and deadline), and its age on the Manager's clock.
type Entry struct {
	Record
	Waiting  bool
	Waiter   WaiterID
	Deadline time.Time
	Age      time.Duration
}

// Snapshot lists every share reservation, caching grant, granted lock and
// waiter, by file (in key order); within a file reservations first, then
// caching grants, then locks by offset, then waiters in queue order. `tandem locks` prints it.
func (m *Manager) Snapshot() []Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock()
	var out []Entry
	for _, f := range m.sortedFiles() {
		for i := range f.shares {
			out = append(out, entryOf(f.shareRecord(&f.shares[i]), now))
		}
		for i := range f.caching {
			out = append(out, entryOf(f.cachingRecord(&f.caching[i]), now))
		}
		for i := range f.locks {
			out = append(out, entryOf(f.lockRecord(&f.locks[i]), now))
		}
		for _, w := range f.waiters {
			e := entryOf(Record{Kind: KindRange, File: f.key, Owner: w.owner.Owner, Mode: w.mode,
				Range: w.span.rangeFor(w.owner.Proto), Since: timeOf(w.since)}, now)
			e.Waiting, e.Waiter, e.Deadline = true, w.id, timeOf(w.deadline)
			out = append(out, e)
		}
	}
	return out
}

func entryOf(r Record, now int64) Entry {
	return Entry{Record: r, Age: time.Duration(now - r.Since.UnixNano())}
}

func (f *file) lockRecord(x *entry) Record {
	return Record{Kind: KindRange, File: f.key, Owner: x.owner.Owner, Mode: x.mode,
		Range: x.span.rangeFor(x.owner.Proto), Since: timeOf(x.since)}
}

func (f *file) shareRecord(r *reservation) Record {
	return Record{Kind: KindShare, File: f.key, Owner: r.owner.Owner, Access: r.access,
		ShareAccess: r.share, Since: timeOf(r.since)}
}

func (m *Manager) sortedFiles() []*file {
	files := make([]*file, 0, len(m.files))
	for _, f := range m.files {
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b *file) int {
		if a.key.less(b.key) {
			return -1
		}
		return 1
	})
	return files
}

// Records returns the granted state of every file, in Snapshot's order.
// Restore of the result rebuilds the same state.
func (m *Manager) Records() []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Record
	for _, f := range m.sortedFiles() {
		out = f.appendRecords(out)
	}
	return out
}

// FileRecords returns the granted state of one file: what a caller persists
// for the file, in the same transaction, after a call that changed it.
func (m *Manager) FileRecords(k FileKey) []Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.files[k]
	if f == nil {
		return nil
	}
	return f.appendRecords(nil)
}

func (f *file) appendRecords(out []Record) []Record {
	for i := range f.shares {
		out = append(out, f.shareRecord(&f.shares[i]))
	}
	for i := range f.caching {
		out = append(out, f.cachingRecord(&f.caching[i]))
	}
	for i := range f.locks {
		out = append(out, f.lockRecord(&f.locks[i]))
	}
	return out
}

// Restore replaces the whole state with records, as on start-up from the
// persisted state. The records must be consistent: a record that is
// malformed, of a kind this package does not grant, or in conflict with an
// earlier one fails Restore, which then changes nothing. Limits do not
// apply. Waiters queued before are dropped without notices, and a grace
// period in progress ends without releasing anything.
func (m *Manager) Restore(recs []Record) error {
	n := New(Config{Now: m.now})
	for i, r := range recs {
		if err := n.restore(r); err != nil {
			return fmt.Errorf("lock: restore record %d (%v %v %v): %w", i, r.Kind, r.File, r.Owner, err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.presence.replace(m.files, n.files)
	m.files, m.owners, m.hosts, m.waiters, m.count, m.prior = n.files, n.owners, n.hosts, n.waiters, n.count, n.prior
	m.grace = grace{}
	m.inGrace.Store(false)
	clear(m.claims)
	m.seq.Add(1)
	return nil
}

// errRestore is why a record cannot be restored.
type errRestore string

func (e errRestore) Error() string { return string(e) }

func (m *Manager) restore(r Record) error {
	if !r.Owner.valid() {
		return errRestore("invalid owner")
	}
	since := nanosOf(r.Since)
	switch r.Kind {
	case KindRange:
		if !r.Mode.valid() || r.Access != 0 || r.ShareAccess != 0 {
			return errRestore("invalid range lock")
		}
		s, st := spanFor(r.Owner.Proto, r.Range)
		if st != Granted {
			return errRestore(st.String())
		}
		if d := m.lock(Request{File: r.File, Owner: r.Owner, Range: r.Range, Mode: r.Mode}, s, since, since); d.Status != Granted {
			return errRestore("conflicts with " + d.Holder.Owner.String())
		}
	case KindShare:
		if r.Mode != 0 || r.Range != (Range{}) || r.Access&^accessMask != 0 || r.ShareAccess&^accessMask != 0 {
			return errRestore("invalid share reservation")
		}
		if res, st := m.addShare(r.File, r.Owner, r.Access, r.ShareAccess, since); st != Granted {
			return errRestore("conflicts with " + res.Owner.String())
		}
	case KindCaching:
		return m.restoreCaching(r, since)
	default:
		return errRestore("kind not restorable")
	}
	return nil
}
