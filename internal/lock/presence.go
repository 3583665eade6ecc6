package lock

import "sync/atomic"

// presenceBits is the log2 of how many counters presence spreads files
// over: a bucket is the top bits of a hash.
const presenceBits = 10

// presence is a hint, readable without the Manager's mutex, of which files
// have a table: a count of tables per bucket of file keys, and in all.
// Every NFS READ and WRITE asks the Manager about its file, and almost
// always the file has no lock, share reservation or caching grant; the
// hint answers that without taking the mutex, which every protocol's
// requests would otherwise contend on.
//
// The counts change under the mutex, when a table is made and when it is
// forgotten, and are read with atomic loads, so a zero count is exact for
// everything the Manager granted before the read began: a file whose
// bucket counts zero has no state. A non-zero count may belong to other
// files of the bucket; the caller then asks under the mutex.
type presence struct {
	files   atomic.Int64
	buckets [1 << presenceBits]atomic.Int32
}

// slot spreads keys over the buckets (Fibonacci hashing: file ids of one
// share are often consecutive, and the multiply scatters them).
func slot(k FileKey) uint64 {
	return (k.ID ^ uint64(k.Share)<<40) * 0x9e3779b97f4a7c15 >> (64 - presenceBits)
}

func (p *presence) bucket(k FileKey) *atomic.Int32 { return &p.buckets[slot(k)] }

func (p *presence) add(k FileKey) {
	p.bucket(k).Add(1)
	p.files.Add(1)
}

func (p *presence) remove(k FileKey) {
	p.bucket(k).Add(-1)
	p.files.Add(-1)
}

// replace moves the counts from the tables of old to those of new, adding
// first so that a file in both never counts zero on the way.
func (p *presence) replace(old, new map[FileKey]*file) {
	for k := range new {
		p.add(k)
	}
	for k := range old {
		p.remove(k)
	}
}

// Idle reports, without waiting for the Manager's mutex, that the file
// surely has no state: no byte-range lock, waiter, share reservation or
// caching grant of any protocol. False means it may have some. CheckIO and
// ShareDenies ask it first, so they cost an atomic load on such files.
func (m *Manager) Idle(k FileKey) bool { return m.presence.bucket(k).Load() == 0 }

// Empty reports, as Idle does for one file, that no file has any state. A
// caller that must first find out which file a request touches (NFS
// REMOVE names a directory entry) asks it to skip that work.
func (m *Manager) Empty() bool { return m.presence.files.Load() == 0 }
