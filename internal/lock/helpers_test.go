package lock

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// fakeClock is the tests' clock: it moves only when told.
type fakeClock struct{ t time.Time }

func (c *fakeClock) Now() time.Time          { return c.t }
func (c *fakeClock) Advance(d time.Duration) { c.t = c.t.Add(d) }

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newTest(l Limits) (*Manager, *fakeClock) {
	c := &fakeClock{t: t0}
	return New(Config{Now: c.Now, Limits: l}), c
}

const max64 = math.MaxUint64

var (
	fA = FileKey{Share: 1, ID: 100}
	fB = FileKey{Share: 1, ID: 200}
	fC = FileKey{Share: 2, ID: 50}
)

// Owners: NLM processes on three hosts (A and A2 share a host) and SMB opens
// of two clients (X and X2 share a client).
var (
	oA  = NLMOwner("hostA", 1, []byte{0xa1})
	oA2 = NLMOwner("hostA", 2, []byte{0xa2})
	oB  = NLMOwner("hostB", 1, []byte{0xb1})
	oC  = NLMOwner("hostC", 9, nil)
	oX  = SMBOwner("client-x", 0x10)
	oX2 = SMBOwner("client-x", 0x11)
	oY  = SMBOwner("client-y", 0x20)
	oL  = Owner{Proto: Local, Host: "tandem"}
)

var ownerNames = map[Owner]string{oA: "A", oA2: "A2", oB: "B", oC: "C", oX: "X", oX2: "X2", oY: "Y", oL: "L"}

func nameOf(o Owner) string {
	if n, ok := ownerNames[o]; ok {
		return n
	}
	return o.String()
}

func modeChar(m Mode) string {
	switch m {
	case Shared:
		return "S"
	case Exclusive:
		return "X"
	}
	return "?"
}

// fmtLock is a lock in the tests' short form: owner:mode offset+length.
func fmtLock(l Lock) string {
	if l == (Lock{}) {
		return ""
	}
	return fmt.Sprintf("%s:%s%d+%d", nameOf(l.Owner), modeChar(l.Mode), l.Range.Offset, l.Range.Length)
}

// dump is the granted byte-range locks of a file in table order.
func dump(m *Manager, k FileKey) string {
	var s []string
	for _, r := range m.FileRecords(k) {
		if r.Kind == KindRange {
			s = append(s, fmtLock(Lock{Owner: r.Owner, Range: r.Range, Mode: r.Mode}))
		}
	}
	return strings.Join(s, " ")
}

// fmtNotices is notices in short form: "G3 B:X0+10" (G granted, D denied,
// C cancelled, K deadlock).
func fmtNotices(ns []Notice) string {
	var s []string
	for _, n := range ns {
		c := map[Status]string{Granted: "G", Denied: "D", Cancelled: "C", Deadlock: "K"}[n.Status]
		s = append(s, fmt.Sprintf("%s%d %s", c, n.Waiter, fmtLock(n.Lock)))
	}
	return strings.Join(s, ", ")
}

func rq(o Owner, k FileKey, off, n uint64, mode Mode) Request {
	return Request{File: k, Owner: o, Range: Range{Offset: off, Length: n}, Mode: mode}
}

func wq(o Owner, k FileKey, off, n uint64, mode Mode) Request {
	r := rq(o, k, off, n, mode)
	r.Wait = true
	return r
}

// mustLock locks and fails the test unless the status is want.
func mustLock(t *testing.T, m *Manager, r Request, want Status) Decision {
	t.Helper()
	d := m.Lock(r)
	if d.Status != want {
		t.Fatalf("Lock(%s %s %d+%d wait=%v) = %v (holder %s), want %v",
			nameOf(r.Owner), modeChar(r.Mode), r.Range.Offset, r.Range.Length, r.Wait, d.Status, fmtLock(d.Holder), want)
	}
	return d
}

func mustUnlock(t *testing.T, m *Manager, k FileKey, o Owner, off, n uint64) []Notice {
	t.Helper()
	st, ns := m.Unlock(k, o, Range{Offset: off, Length: n})
	if st != Granted {
		t.Fatalf("Unlock(%s %d+%d) = %v", nameOf(o), off, n, st)
	}
	return ns
}

// checkInvariants verifies what must hold after every call: counts agree
// with the tables, POSIX owners' locks are canonical, no waiter could be
// granted, and the wait-for graph has no cycle.
func checkInvariants(t *testing.T, m *Manager) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	total := 0
	perOwner := map[*owner]int{}
	for k, f := range m.files {
		if f.key != k || f.size() == 0 {
			t.Fatalf("file %v: key %v, size %d", k, f.key, f.size())
		}
		total += f.size()
		for i := range f.locks {
			x := &f.locks[i]
			perOwner[x.owner]++
			if i > 0 && f.locks[i-1].start > x.start {
				t.Fatalf("file %v: locks out of order at %d", k, i)
			}
			if !x.owner.Proto.posix() {
				continue
			}
			for j := i + 1; j < len(f.locks); j++ {
				y := &f.locks[j]
				if y.owner != x.owner {
					continue
				}
				if overlaps(x.span, y.span) || (x.mode == y.mode && touches(x.span, y.span)) {
					t.Fatalf("file %v: POSIX owner %v not canonical: %v %v", k, x.owner.Owner, x.span, y.span)
				}
			}
		}
		for i, w := range f.waiters {
			perOwner[w.owner]++
			if !f.blocked(i) {
				t.Fatalf("file %v: waiter %d could be granted", k, w.id)
			}
			if m.waiters[w.id] != w {
				t.Fatalf("waiter %d not indexed", w.id)
			}
			for _, b := range appendBlockers(nil, w) {
				if b != w.owner && m.reaches(b, w.owner) {
					t.Fatalf("waiter %d of %v is on a cycle", w.id, w.owner.Owner)
				}
			}
		}
		for _, r := range f.shares {
			perOwner[r.owner]++
		}
		for _, g := range f.caching {
			perOwner[g.owner]++
		}
	}
	if total != m.count {
		t.Fatalf("count %d, tables hold %d", m.count, total)
	}
	hostN := map[*host]int{}
	for o, n := range perOwner {
		if m.owners[o.Owner] != o || o.n != n {
			t.Fatalf("owner %v: n %d, holds %d", o.Owner, o.n, n)
		}
		hostN[o.host] += n
	}
	if len(m.owners) != len(perOwner) {
		t.Fatalf("%d owners kept, %d hold something", len(m.owners), len(perOwner))
	}
	for _, h := range m.hosts {
		if h.n != hostN[h] || h.n == 0 {
			t.Fatalf("host %v: n %d, holds %d", h.client, h.n, hostN[h])
		}
	}
	n := 0
	for _, f := range m.files {
		n += len(f.waiters)
	}
	if n != len(m.waiters) {
		t.Fatalf("%d waiters indexed, %d queued", len(m.waiters), n)
	}
	checkPresence(t, m)
}
