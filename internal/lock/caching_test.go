package lock

import (
	"testing"
	"time"
)

var (
	leaseX = LeaseOwner("client-x", [16]byte{1})
	leaseY = LeaseOwner("client-y", [16]byte{2})
)

const (
	cR   = CacheRead
	cRH  = CacheRead | CacheHandle
	cRW  = CacheRead | CacheWrite
	cRWH = CacheRead | CacheWrite | CacheHandle
)

// openWith adds the open's share reservation and asks for its caching, as
// SMB CREATE does once PrepareOpen let it go on.
func openWith(t *testing.T, m *Manager, o, holder Owner, lease bool, want Caching) CacheGrant {
	t.Helper()
	if _, st := m.AddShare(fA, o, AccessRead|AccessWrite, ShareRead|ShareWrite|ShareDelete); st != Granted {
		t.Fatalf("AddShare %v: %v", o, st)
	}
	g, st := m.GrantCaching(CacheRequest{File: fA, Open: o, Holder: holder, Lease: lease, Want: want})
	if st != Granted {
		t.Fatalf("GrantCaching %v: %v", o, st)
	}
	return g
}

func onlyBreak(t *testing.T, ns []Notice) Break {
	t.Helper()
	if len(ns) != 1 || ns[0].Status != Breaking {
		t.Fatalf("notices = %+v, want one break", ns)
	}
	return ns[0].Break
}

func TestCachingGrantLevels(t *testing.T) {
	tests := []struct {
		name          string
		first, second Caching // the second is asked by another holder
		lease         bool
		want1, want2  Caching
	}{
		{"lease alone gets all", cRWH, 0, true, cRWH, 0},
		{"H or W without R is nothing", CacheHandle | CacheWrite, 0, true, 0, 0},
		{"second lease gets no W", cR, cRWH, true, cR, cRH},
		{"oplock batch, then batch gets level II", cRWH, cRWH, false, cRWH, cR},
		{"oplock exclusive alone", cRW, 0, false, cRW, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newTest(Limits{})
			h1, h2 := leaseX, leaseY
			if !tc.lease {
				h1, h2 = oX, oY
			}
			if g := openWith(t, m, oX, h1, tc.lease, tc.first); g.State != tc.want1 {
				t.Fatalf("first grant %v, want %v", g.State, tc.want1)
			}
			if tc.second == 0 {
				return
			}
			d := m.PrepareOpen(CacheRequest{File: fA, Open: oY, Holder: h2, Lease: tc.lease, Want: tc.second, Access: AccessRead | AccessWrite, Share: 7})
			if len(d.Notices) > 0 {
				b := onlyBreak(t, d.Notices)
				if _, st, _ := m.AckBreak(h1, b.To); st != Granted {
					t.Fatalf("ack: %v", st)
				}
			}
			if g := openWith(t, m, oY, h2, tc.lease, tc.second); g.State != tc.want2 {
				t.Fatalf("second grant %v, want %v", g.State, tc.want2)
			}
		})
	}
}

func TestCachingBreakAckTimeout(t *testing.T) {
	m, clk := newTest(Limits{})
	openWith(t, m, oX, leaseX, true, cRWH)

	// A conflicting open breaks W and waits for the acknowledgment.
	req := CacheRequest{File: fA, Open: oY, Holder: oY, Access: AccessRead, Share: 7, Deadline: t0.Add(35 * time.Second)}
	d := m.PrepareOpen(req)
	b := onlyBreak(t, d.Notices)
	if b.From != cRWH || b.To != cRH || !b.AckRequired || !b.Lease || b.Holder != leaseX {
		t.Fatalf("break %+v", b)
	}
	if !d.Wait || !d.Deadline.Equal(t0.Add(35*time.Second)) {
		t.Fatalf("decision %+v, want a wait until the deadline", d)
	}
	// Asked again while the break is in progress: no second break, still wait.
	if d := m.PrepareOpen(req); !d.Wait || len(d.Notices) != 0 {
		t.Fatalf("second ask %+v", d)
	}
	if nt, ok := m.NextDeadline(); !ok || !nt.Equal(t0.Add(35*time.Second)) {
		t.Fatalf("NextDeadline %v %v", nt, ok)
	}
	// An acknowledgment that keeps too much is refused.
	if _, st, _ := m.AckBreak(leaseX, cRWH); st != Invalid {
		t.Fatalf("ack RWH: %v, want invalid", st)
	}
	// The deadline passes: the break is revoked.
	clk.Advance(35 * time.Second)
	ns := m.Expire()
	if len(ns) != 1 || ns[0].Status != BreakDone || ns[0].Lock.File != fA {
		t.Fatalf("Expire = %+v", ns)
	}
	if g, _ := m.Caching(fA, leaseX); g.State != 0 || g.Breaking {
		t.Fatalf("after revoke %+v, want no caching", g)
	}
	if _, st, _ := m.AckBreak(leaseX, cRH); st != Denied {
		t.Fatalf("late ack: %v, want denied (no break)", st)
	}
	if d := m.PrepareOpen(req); d.Wait || len(d.Notices) != 0 {
		t.Fatalf("after revoke %+v", d)
	}
}

func TestCachingAckEndsWait(t *testing.T) {
	m, _ := newTest(Limits{})
	openWith(t, m, oX, oX, false, cRWH) // batch oplock
	d := m.PrepareOpen(CacheRequest{File: fA, Open: oY, Holder: oY, Access: AccessRead, Share: 7})
	b := onlyBreak(t, d.Notices)
	if b.To != cR || !d.Wait {
		t.Fatalf("break %+v wait %v, want to level II and wait", b, d.Wait)
	}
	g, st, ns := m.AckBreak(oX, 0) // acknowledged to none
	if st != Granted || g.State != 0 || len(ns) != 1 || ns[0].Status != BreakDone {
		t.Fatalf("ack: %+v %v %+v", g, st, ns)
	}
}

func TestCachingStatOpenAndSameLease(t *testing.T) {
	m, _ := newTest(Limits{})
	openWith(t, m, oX, leaseX, true, cRWH)
	// A stat open breaks no lease.
	if d := m.PrepareOpen(CacheRequest{File: fA, Open: oY, Holder: oY, StatLeases: true, StatOplocks: true}); len(d.Notices) != 0 || d.Wait {
		t.Fatalf("stat open %+v", d)
	}
	// Another open of the same lease breaks nothing and shares the grant.
	if d := m.PrepareOpen(CacheRequest{File: fA, Open: oX2, Holder: leaseX, Lease: true, Want: cRWH, Access: AccessRead, Share: 7}); len(d.Notices) != 0 {
		t.Fatalf("same lease %+v", d)
	}
	if g := openWith(t, m, oX2, leaseX, true, cRWH); g.State != cRWH {
		t.Fatalf("same lease grant %v", g.State)
	}
	// The lease key names a lease on fA: it cannot lease another file.
	if d := m.PrepareOpen(CacheRequest{File: fB, Open: SMBOwner("client-x", 0x12), Holder: leaseX, Lease: true, Want: cR}); d.Status != Invalid {
		t.Fatalf("lease on another file: %v", d.Status)
	}
	// The lease goes with its last open.
	m.ReleaseOwner(oX)
	if _, ok := m.Caching(fA, leaseX); !ok {
		t.Fatal("lease gone with an open left")
	}
	m.ReleaseOwner(oX2)
	if _, ok := m.Caching(fA, leaseX); ok || m.HoldsCaching(leaseX) {
		t.Fatal("lease outlived its opens")
	}
	if len(m.Snapshot()) != 0 {
		t.Fatalf("snapshot %+v", m.Snapshot())
	}
}

func TestCachingCrossProtocol(t *testing.T) {
	m, clk := newTest(Limits{})
	openWith(t, m, oX, leaseX, true, cRWH)
	if s := m.Snapshot(); len(s) != 2 || s[1].Kind != KindCaching || s[1].Caching != cRWH || s[1].Owner != leaseX {
		t.Fatalf("snapshot %+v", s)
	}
	// An NFS read breaks W and waits.
	d := m.Contend(fA, Owner{}, ContendRead, clk.Now().Add(time.Second))
	if b := onlyBreak(t, d.Notices); b.To != cRH || !d.Wait {
		t.Fatalf("read: %+v", d)
	}
	m.AckBreak(leaseX, cRH)
	// An NFS write takes the rest; read caching needs no wait but H does.
	d = m.Contend(fA, Owner{}, ContendWrite, clk.Now().Add(time.Second))
	if b := onlyBreak(t, d.Notices); b.To != 0 || !d.Wait {
		t.Fatalf("write: %+v", d)
	}
	m.AckBreak(leaseX, 0)
	if d := m.Contend(fA, Owner{}, ContendWrite, clk.Now()); d.Wait || len(d.Notices) != 0 {
		t.Fatalf("nothing left to break: %+v", d)
	}

	// An SMB open asking for W while an NLM lock exists gets no W.
	m2, _ := newTest(Limits{})
	if d := m2.Lock(Request{File: fA, Owner: oA, Range: Range{0, 10}, Mode: Shared}); d.Status != Granted {
		t.Fatal(d.Status)
	}
	if g := openWith(t, m2, oX, leaseX, true, cRWH); g.State != cRH {
		t.Fatalf("with an NLM lock: %v, want RH", g.State)
	}
}

func TestCachingSMBWriteBreaksReaders(t *testing.T) {
	m, _ := newTest(Limits{})
	openWith(t, m, oX, leaseX, true, cRH)
	openWith(t, m, oY, leaseY, true, cR)
	d := m.Contend(fA, Owner{}, ContendSMBWrite, time.Time{})
	if len(d.Notices) != 2 || d.Wait {
		t.Fatalf("write: %+v", d)
	}
	for _, n := range d.Notices {
		switch n.Break.Holder {
		case leaseY:
			if n.Break.To != 0 || n.Break.AckRequired {
				t.Fatalf("R break %+v", n.Break)
			}
		case leaseX:
			if n.Break.To != 0 || !n.Break.AckRequired {
				t.Fatalf("RH break %+v", n.Break)
			}
		}
	}
}

func TestCachingChainedBreaks(t *testing.T) {
	m, _ := newTest(Limits{})
	openWith(t, m, oX, leaseX, true, cRWH)
	open2 := CacheRequest{File: fA, Open: oY, Holder: oY, Access: AccessRead, Share: 7}
	over := CacheRequest{File: fA, Open: oX2, Holder: oX2, Access: AccessWrite, Share: 7, Overwrite: true}
	if d := m.PrepareOpen(open2); !d.Wait || onlyBreak(t, d.Notices).To != cRH {
		t.Fatalf("open: %+v", d)
	}
	// An overwrite while the break is in progress sends nothing yet.
	if d := m.PrepareOpen(over); !d.Wait || len(d.Notices) != 0 {
		t.Fatalf("overwrite: %+v", d)
	}
	// The acknowledgment starts the next break, of H; R is left to the
	// overwrite.
	_, st, ns := m.AckBreak(leaseX, cRH)
	if st != Granted || len(ns) != 2 || ns[0].Status != BreakDone || ns[1].Break.From != cRH || ns[1].Break.To != cR || !ns[1].Break.AckRequired {
		t.Fatalf("ack: %v %+v", st, ns)
	}
	// An open that waited waits on while the lease breaks.
	open2.Waited, over.Waited = true, true
	if d := m.PrepareOpen(open2); !d.Wait {
		t.Fatalf("waited open during the second break: %+v", d)
	}
	if _, st, ns = m.AckBreak(leaseX, cR); st != Granted || len(ns) != 1 {
		t.Fatalf("second ack: %v %+v", st, ns)
	}
	if d := m.PrepareOpen(open2); d.Wait || len(d.Notices) != 0 {
		t.Fatalf("open after the breaks: %+v", d)
	}
	d := m.PrepareOpen(over)
	if b := onlyBreak(t, d.Notices); d.Wait || b.To != 0 || b.AckRequired {
		t.Fatalf("overwrite after the breaks: %+v", d)
	}
}
