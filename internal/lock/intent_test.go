package lock

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

func beginIO(t *testing.T, m *Manager, k FileKey, kind IOKind, off, n uint64) Intent {
	t.Helper()
	in, holder, st := m.BeginIO(k, kind, off, n)
	if st != Granted {
		t.Fatalf("BeginIO %v: %v (holder %v)", kind, st, holder)
	}
	return in
}

// TestIntentBindsOpens: an NFS request in progress refuses the SMB opens
// that deny what it does, and no other; once it ends they are granted.
// NLM share reservations never see it.
func TestIntentBindsOpens(t *testing.T) {
	const R, W, D = AccessRead, AccessWrite, AccessDelete
	const SR, SW, SD = ShareRead, ShareWrite, ShareDelete
	for _, tc := range []struct {
		kind    IOKind
		a       Access
		s       ShareAccess
		refused bool
	}{
		{IORead, R, SR, false},
		{IORead, W, SW | SD, true},
		{IOWrite, R, SR | SD, true},
		{IOWrite, R, SR | SW, false},
		{IOResize, R, SR, true},
		{IODelete, R, SR | SW, true},
		{IODelete, R, SR | SW | SD, false},
		{IODelete, 0, 0, false}, // no data access: conflicts with nothing
	} {
		m, _ := newTest(Limits{})
		in := beginIO(t, m, fA, tc.kind, 0, 10)
		r, st := m.AddShare(fA, oX, tc.a, tc.s)
		if st == Denied != tc.refused {
			t.Errorf("%v in progress, open %03b/%03b: %v", tc.kind, tc.a, tc.s, st)
		}
		if st == Denied && (r.File != fA || r.Owner != (Owner{})) {
			t.Errorf("refusal names %+v", r)
		}
		if _, st := m.AddShare(fA, oA, tc.a, tc.s); st != Granted {
			t.Errorf("%v in progress, NLM share %03b/%03b: %v", tc.kind, tc.a, tc.s, st)
		}
		if ns := in.End(); len(ns) != 0 {
			t.Errorf("end with nobody waiting: %+v", ns)
		}
		m.ReleaseOwner(oA)
		if _, st := m.AddShare(fA, oX, tc.a, tc.s); st != Granted {
			t.Errorf("after %v, open %03b/%03b: %v", tc.kind, tc.a, tc.s, st)
		}
	}
}

// TestIntentBindsLocks: an SMB lock over bytes an NFS request in progress
// reads (exclusive) or writes (any) fails at once, or waits and is
// granted when the request ends; elsewhere, or by NLM, it is granted.
func TestIntentBindsLocks(t *testing.T) {
	m, _ := newTest(Limits{})
	w := beginIO(t, m, fA, IOWrite, 100, 10)
	r := beginIO(t, m, fA, IORead, 200, 10)
	for _, tc := range []struct {
		owner Owner
		off   uint64
		mode  Mode
		want  Status
	}{
		{oX, 105, Shared, Denied},
		{oX, 105, Exclusive, Denied},
		{oX, 205, Shared, Granted},
		{oX, 206, Exclusive, Denied},
		{oX, 110, Exclusive, Granted},
		{oA, 105, Exclusive, Granted},
	} {
		d := m.Lock(Request{File: fA, Owner: tc.owner, Range: Range{Offset: tc.off, Length: 1}, Mode: tc.mode})
		if d.Status != tc.want {
			t.Errorf("%s %v at %d during NFS I/O: %v, want %v", nameOf(tc.owner), tc.mode, tc.off, d.Status, tc.want)
		}
	}
	q := m.Lock(Request{File: fA, Owner: oY, Range: Range{Offset: 100, Length: 4}, Mode: Shared, Wait: true})
	if q.Status != Queued {
		t.Fatalf("waiting lock over the write: %v", q.Status)
	}
	if ns := r.End(); len(ns) != 0 {
		t.Errorf("the read's end: %+v", ns)
	}
	ns := w.End()
	if len(ns) != 2 || ns[0].Status != Granted || ns[0].Waiter != q.Waiter || ns[1].Status != BreakDone || ns[1].Lock.File != fA {
		t.Fatalf("the write's end: %+v", ns)
	}
}

// TestIntentOpenWaits: an open that would deny what an NFS request in
// progress does waits in PrepareOpen, and the request's end says so.
func TestIntentOpenWaits(t *testing.T) {
	m, c := newTest(Limits{})
	in := beginIO(t, m, fA, IOWrite, 0, 1)
	d := m.PrepareOpen(CacheRequest{File: fA, Open: oX, Holder: oX, Access: AccessRead, Share: ShareRead})
	if !d.Wait || !d.Deadline.After(c.Now()) {
		t.Fatalf("open denying write during a write: %+v", d)
	}
	if d := m.PrepareOpen(CacheRequest{File: fA, Open: oY, Holder: oY, Access: AccessRead, Share: ShareRead | ShareWrite}); d.Wait {
		t.Fatalf("open sharing write: %+v", d)
	}
	ns := in.End()
	if len(ns) != 1 || ns[0].Status != BreakDone || ns[0].Lock.File != fA || ns[0].Lock.Owner.Proto != SMB {
		t.Fatalf("end: %+v", ns)
	}
	if d := m.PrepareOpen(CacheRequest{File: fA, Open: oX, Holder: oX, Access: AccessRead, Share: ShareRead}); d.Wait {
		t.Fatalf("after the write: %+v", d)
	}
}

// TestIntentCaching: a grant made while NFS requests are in progress
// caches nothing of data being written, no writes over a read, no
// handles of a file being removed.
func TestIntentCaching(t *testing.T) {
	for _, tc := range []struct {
		kind IOKind
		want Caching
	}{
		{IORead, CacheRead | CacheHandle},
		{IOWrite, 0},
		{IOResize, 0},
		{IODelete, CacheRead | CacheWrite},
	} {
		m, _ := newTest(Limits{})
		in := beginIO(t, m, fA, tc.kind, 0, 1)
		m.AddShare(fA, oX, AccessRead, ShareRead|ShareWrite|ShareDelete)
		lease := LeaseOwner("client-x", [16]byte{1})
		g, st := m.GrantCaching(CacheRequest{File: fA, Open: oX, Holder: lease, Lease: true, Want: cacheAll})
		if st != Granted || g.State != tc.want {
			t.Errorf("lease during %v: %v %v, want %v", tc.kind, g.State, st, tc.want)
		}
		in.End()
	}
}

// TestBeginIOJudges: against a file's state, BeginIO asks for the breaks
// of conflicting caching first, then refuses what SMB share modes and
// locks refuse; NLM locks and share reservations bind no NFS request.
func TestBeginIOJudges(t *testing.T) {
	m, _ := newTest(Limits{})
	lease := LeaseOwner("client-x", [16]byte{1})
	m.AddShare(fA, oX, AccessRead, ShareRead)
	m.GrantCaching(CacheRequest{File: fA, Open: oX, Holder: lease, Lease: true, Want: CacheRead | CacheHandle})
	m.Lock(Request{File: fA, Owner: oA, Range: Range{Offset: 0, Length: 40}, Mode: Exclusive})
	m.Lock(Request{File: fA, Owner: oX, Range: Range{Offset: 50, Length: 10}, Mode: Exclusive})
	for _, tc := range []struct {
		kind   IOKind
		off, n uint64
		want   Status
		holder Owner
	}{
		{IORead, 0, 10, Granted, Owner{}},
		{IORead, 55, 1, Denied, oX},
		{IORead, 60, 0, Granted, Owner{}},
		{IOWrite, 0, 10, Breaking, lease},
		{IODelete, 0, 0, Breaking, lease},
	} {
		in, holder, st := m.BeginIO(fA, tc.kind, tc.off, tc.n)
		if st != tc.want || holder != tc.holder {
			t.Errorf("%v %d+%d: %v %v, want %v %v", tc.kind, tc.off, tc.n, st, nameOf(holder), tc.want, nameOf(tc.holder))
		}
		in.End()
	}
	m.ReleaseOwner(lease)
	m.Contend(fA, Owner{}, ContendWrite, t0)
	for _, kind := range []IOKind{IOWrite, IOResize, IODelete} {
		in, holder, st := m.BeginIO(fA, kind, 0, 10)
		if st != Denied || holder != oX {
			t.Errorf("%v beside an open denying write and delete: %v %v", kind, st, nameOf(holder))
		}
		in.End()
	}
}

// TestIntentTable: more requests in progress than the table's stripe
// holds go in the file's table, and bind SMB the same way.
func TestIntentTable(t *testing.T) {
	m, _ := newTest(Limits{})
	var ins []Intent
	for range ioSlots + 2 {
		ins = append(ins, beginIO(t, m, fA, IORead, 0, 10))
	}
	if m.Idle(fA) {
		t.Fatal("intents beyond the stripe made no table")
	}
	if _, st := m.AddShare(fA, oX, AccessWrite, ShareWrite); st != Denied {
		t.Fatalf("open denying read: %v", st)
	}
	q := m.Lock(Request{File: fA, Owner: oX, Range: Range{Offset: 0, Length: 1}, Mode: Exclusive, Wait: true})
	if q.Status != Queued {
		t.Fatalf("waiting lock: %v", q.Status)
	}
	var granted bool
	for i := range ins {
		for _, n := range ins[i].End() {
			granted = granted || n.Status == Granted && n.Waiter == q.Waiter
		}
		if granted && i != len(ins)-1 {
			t.Fatalf("waiter granted after %d of %d reads ended", i+1, len(ins))
		}
	}
	if !granted {
		t.Fatal("waiter not granted when the reads ended")
	}
	m.ReleaseOwner(oX)
	if !m.Idle(fA) {
		t.Fatal("table kept after every intent ended")
	}
}

// TestBeginIOAllocs: a request on a file without state allocates
// nothing, beside a busy file.
func TestBeginIOAllocs(t *testing.T) {
	m, _ := newTest(Limits{})
	m.AddShare(fB, oX, AccessRead, ShareRead)
	first := beginIO(t, m, fA, IORead, 0, 1) // the table is made once
	first.End()
	n := testing.AllocsPerRun(100, func() {
		in, _, _ := m.BeginIO(fA, IOWrite, 0, 4096)
		in.End()
	})
	if n != 0 {
		t.Errorf("%v allocations per BeginIO and End", n)
	}
}

// TestIntentRace: NFS writes and SMB opens denying write race on a few
// files (run it with -race): no write is granted while such an open is
// held, which it would be if an open could be granted while a write is in
// progress, or the reverse.
func TestIntentRace(t *testing.T) {
	m := New(Config{})
	keys := []FileKey{fA, fB, fC}
	var held [3]atomic.Int32 // SMB opens denying write, granted and not yet released
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3000 {
				j := (i + g) % 3
				in, _, st := m.BeginIO(keys[j], IOWrite, uint64(i), 10)
				for k := 0; st == Granted && k < 3; k++ {
					if held[j].Load() != 0 {
						t.Error("NFS write in progress beside an SMB open denying write")
						st = Denied
					}
					runtime.Gosched()
				}
				in.End()
			}
		}()
	}
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := SMBOwner("racer", uint64(g))
			for i := range 3000 {
				j := i % 3
				if _, st := m.AddShare(keys[j], o, AccessRead, ShareRead|ShareDelete); st == Granted {
					held[j].Add(1)
					runtime.Gosched()
					held[j].Add(-1)
				}
				m.Lock(Request{File: keys[j], Owner: o, Range: Range{Offset: uint64(i), Length: 5}, Mode: Exclusive})
				m.ReleaseOwner(o)
			}
		}()
	}
	wg.Wait()
}
