package lock

import (
	"slices"
	"testing"
	"time"
)

// crashed gives the state of m to a new Manager as a restart does: its
// records, recovered as prior state with a grace period of d.
func crashed(t *testing.T, m *Manager, c *fakeClock, d time.Duration) *Manager {
	t.Helper()
	n := New(Config{Now: c.Now})
	if err := n.Recover(m.Records(), nil, c.Now().Add(d)); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, n)
	return n
}

func TestRecoverAndReclaimNLM(t *testing.T) {
	m, c := newTest(Limits{})
	mustLock(t, m, rq(oA, fA, 0, 100, Exclusive), Granted)
	mustLock(t, m, rq(oA, fA, 100, 100, Exclusive), Granted) // merges into 0+200
	mustLock(t, m, rq(oB, fA, 500, 10, Shared), Granted)
	n := crashed(t, m, c, 90*time.Second)
	if !n.InGrace() {
		t.Fatal("not in grace after recovering state")
	}
	if want := "A/prior:X0+200 B/prior:S500+10"; !samePrior(n, fA, want) {
		t.Fatalf("recovered %q, want %q", dump(n, fA), want)
	}
	// The owner itself is not the holder until it reclaims: a normal
	// lock of its own meets its prior twin.
	mustLock(t, n, rq(oA, fA, 0, 10, Exclusive), Denied)

	// A reclaims the two locks it took, one by one: each is covered by
	// what its prior twin held.
	if d := n.Reclaim(rq(oA, fA, 0, 100, Exclusive)); d.Status != Granted {
		t.Fatalf("reclaim 0+100: %v", d.Status)
	}
	if d := n.Reclaim(rq(oA, fA, 100, 100, Exclusive)); d.Status != Granted {
		t.Fatalf("reclaim 100+100: %v", d.Status)
	}
	checkInvariants(t, n)
	// Another host cannot reclaim what it did not hold, nor A more than
	// it held, nor in another mode.
	for _, r := range []Request{rq(oC, fA, 0, 10, Exclusive), rq(oB, fA, 500, 10, Exclusive), rq(oB, fA, 400, 200, Shared), rq(oA2, fB, 0, 1, Shared)} {
		if d := n.Reclaim(r); d.Status != NotLocked {
			t.Fatalf("reclaim by %s %d+%d: %v, want not locked", nameOf(r.Owner), r.Range.Offset, r.Range.Length, d.Status)
		}
	}
	if g := n.Grace(); !g.Active || g.Unreclaimed != 1 || g.Owners != 1 {
		t.Fatalf("grace %+v, want active with B's one entry", g)
	}
	// The last prior entry reclaimed ends grace at once.
	if d := n.Reclaim(rq(oB, fA, 500, 10, Shared)); d.Status != Granted {
		t.Fatalf("B's reclaim: %v", d.Status)
	}
	if n.InGrace() {
		t.Fatal("still in grace with nothing prior")
	}
	if got, want := dump(n, fA), "A:X0+200 B:S500+10"; got != want {
		t.Fatalf("after reclaim %q, want %q", got, want)
	}
	if d := n.Reclaim(rq(oB, fA, 500, 10, Shared)); d.Status != Grace {
		t.Fatalf("reclaim after grace: %v, want grace", d.Status)
	}
	checkInvariants(t, n)
}

// samePrior compares the locks of k with want, naming prior owners by
// their twin's name and "/prior".
func samePrior(m *Manager, k FileKey, want string) bool {
	var got []string
	for _, r := range m.FileRecords(k) {
		if r.Kind != KindRange {
			continue
		}
		o := r.Owner
		p := o.Prior
		o.Prior = false
		name := nameOf(o)
		if p {
			name += "/prior"
		}
		got = append(got, name+":"+modeChar(r.Mode)+itoa(r.Range.Offset)+"+"+itoa(r.Range.Length))
	}
	return joinSp(got) == want
}

func itoa(v uint64) string {
	b := []byte{}
	if v == 0 {
		return "0"
	}
	for v > 0 {
		b = append([]byte{byte('0' + v%10)}, b...)
		v /= 10
	}
	return string(b)
}

func joinSp(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

func TestGraceEndReleasesAndGrants(t *testing.T) {
	m, c := newTest(Limits{})
	mustLock(t, m, rq(oX, fA, 0, 10, Exclusive), Granted)
	n := crashed(t, m, c, 10*time.Second)
	// A new SMB lock that meets the prior lock waits (or is refused when
	// it may not), and NFS I/O sees the prior lock.
	mustLock(t, n, rq(oY, fA, 5, 1, Exclusive), Denied)
	d := mustLock(t, n, wq(oY, fA, 5, 1, Exclusive), Queued)
	if l, held := n.CheckIO(fA, Owner{}, 0, 4, false); !held || !l.Owner.Prior {
		t.Fatalf("NFS read under a prior exclusive SMB lock: %v %v", l, held)
	}
	if at, ok := n.NextDeadline(); !ok || !at.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("next deadline %v %v, want the end of grace", at, ok)
	}
	c.Advance(9 * time.Second)
	if ns := n.Expire(); len(ns) != 0 || !n.InGrace() {
		t.Fatalf("expire before the end: %v, grace %v", fmtNotices(ns), n.InGrace())
	}
	c.Advance(time.Second)
	ns := n.Expire()
	if n.InGrace() || len(ns) != 1 || ns[0].Waiter != d.Waiter || ns[0].Status != Granted {
		t.Fatalf("end of grace: %v (grace %v), want Y granted", fmtNotices(ns), n.InGrace())
	}
	if got := dump(n, fA); got != "Y:X5+1" {
		t.Fatalf("after grace %q", got)
	}
	checkInvariants(t, n)
}

func TestSMBRelockReclaim(t *testing.T) {
	m, c := newTest(Limits{})
	mustLock(t, m, rq(oX, fA, 0, 10, Exclusive), Granted)
	mustLock(t, m, rq(oX, fA, 20, 10, Shared), Granted)
	n := crashed(t, m, c, time.Minute)
	// The client comes back without a durable handle: a new open (X2,
	// same client) locks the same ranges again.
	if d := n.Reclaim(rq(oX2, fA, 0, 10, Exclusive)); d.Status != Granted {
		t.Fatalf("relock: %v", d.Status)
	}
	// Another client's open, or another range, is no reclaim.
	if d := n.Reclaim(rq(oY, fA, 20, 10, Shared)); d.Status != NotLocked {
		t.Fatalf("other client: %v", d.Status)
	}
	if d := n.Reclaim(rq(oX2, fA, 20, 5, Shared)); d.Status != NotLocked {
		t.Fatalf("other range: %v", d.Status)
	}
	if d := n.Reclaim(rq(oX2, fA, 20, 10, Shared)); d.Status != Granted || n.InGrace() {
		t.Fatalf("second relock: %v, grace %v", d.Status, n.InGrace())
	}
	if got := dump(n, fA); got != "X2:X0+10 X2:S20+10" {
		t.Fatalf("after relock %q", got)
	}
	checkInvariants(t, n)
}

func TestReclaimOwnerDurable(t *testing.T) {
	m, c := newTest(Limits{})
	lease := LeaseOwner("client-x", [16]byte{7})
	if _, st := m.AddShare(fA, oX, AccessRead|AccessWrite, ShareRead); st != Granted {
		t.Fatal(st)
	}
	g, st := m.GrantCaching(CacheRequest{File: fA, Open: oX, Holder: lease, Lease: true, Want: CacheRead | CacheWrite | CacheHandle, Epochs: true, Epoch: 3})
	if st != Granted || g.State != CacheRead|CacheWrite|CacheHandle || g.Epoch != 4 {
		t.Fatalf("grant %+v %v", g, st)
	}
	mustLock(t, m, rq(oX, fA, 0, 10, Exclusive), Granted)
	n := crashed(t, m, c, time.Minute)

	// While prior: another open is refused by the share mode, a reader
	// asking to break the lease waits (no break is sent), and a new
	// grant caches reads only.
	if _, st := n.AddShare(fA, oY, AccessWrite, ShareRead|ShareWrite); st != Denied {
		t.Fatalf("open beside a prior deny-write open: %v", st)
	}
	d := n.Contend(fA, Owner{}, ContendRead, c.Now().Add(time.Second))
	if !d.Wait || len(d.Notices) != 0 || !d.Deadline.Equal(t0.Add(time.Minute)) {
		t.Fatalf("contend with a prior lease: %+v", d)
	}
	if _, st := n.AddShare(fB, oY, AccessRead, ShareRead|ShareWrite); st != Granted {
		t.Fatal(st)
	}

	// The durable reconnect: the open, then its lease.
	if _, ok := n.ReclaimOwner(oX); !ok {
		t.Fatal("reclaim of the open refused")
	}
	ns, ok := n.ReclaimOwner(lease)
	if !ok || len(ns) != 1 || ns[0].Status != BreakDone || ns[0].Lock.File != fA {
		t.Fatalf("reclaim of the lease: %v %v", ns, ok)
	}
	if n.InGrace() {
		t.Fatal("grace goes on with nothing prior")
	}
	cg, ok := n.Caching(fA, lease)
	if !ok || cg.State != CacheRead|CacheWrite|CacheHandle || cg.Epoch != 4 || !cg.Epochs {
		t.Fatalf("lease after reconnect %+v %v", cg, ok)
	}
	if _, ok := n.ReclaimOwner(oX); ok {
		t.Fatal("a second reclaim of the same open succeeded")
	}
	// Now a reader breaks it as usual.
	d = n.Contend(fA, Owner{}, ContendRead, c.Now().Add(time.Second))
	if !d.Wait || len(d.Notices) != 1 || d.Notices[0].Break.To != CacheRead|CacheHandle {
		t.Fatalf("contend after reconnect: %+v", d)
	}
	// Closing the open releases it all.
	n.ReleaseOwner(oX)
	if recs := n.FileRecords(fA); len(recs) != 0 {
		t.Fatalf("after close: %+v", recs)
	}
	checkInvariants(t, n)
}

func TestPriorLeaseReleasedAtGraceEnd(t *testing.T) {
	m, c := newTest(Limits{})
	lease := LeaseOwner("client-x", [16]byte{9})
	m.AddShare(fA, oX, AccessRead, ShareRead|ShareWrite|ShareDelete)
	m.GrantCaching(CacheRequest{File: fA, Open: oX, Holder: lease, Lease: true, Want: CacheRead | CacheHandle})
	n := crashed(t, m, c, time.Minute)
	if _, st := n.AddShare(fA, oY, AccessRead, ShareRead|ShareWrite|ShareDelete); st != Granted {
		t.Fatal(st)
	}
	other := LeaseOwner("client-y", [16]byte{1})
	g, _ := n.GrantCaching(CacheRequest{File: fA, Open: oY, Holder: other, Lease: true, Want: CacheRead | CacheWrite | CacheHandle})
	if g.State != CacheRead {
		t.Fatalf("a new lease beside prior state: %v, want R", g.State)
	}
	ns := n.EndGrace()
	if len(ns) != 1 || ns[0].Status != BreakDone {
		t.Fatalf("end of grace: %+v", ns)
	}
	if _, ok := n.Caching(fA, lease.prior()); ok {
		t.Fatal("prior lease kept after grace")
	}
	checkInvariants(t, n)
}

func TestRecoverNothingNoGrace(t *testing.T) {
	m, c := newTest(Limits{})
	n := crashed(t, m, c, time.Minute)
	if n.InGrace() {
		t.Fatal("grace with nothing to reclaim")
	}
}

func TestChangesTrackFiles(t *testing.T) {
	c := &fakeClock{t: t0}
	m := New(Config{Now: c.Now, Track: true})
	keys := func() []FileKey {
		ch, _ := m.Changes(nil)
		var ks []FileKey
		for _, f := range ch {
			ks = append(ks, f.File)
		}
		slices.SortFunc(ks, func(a, b FileKey) int {
			if a.less(b) {
				return -1
			}
			if b.less(a) {
				return 1
			}
			return 0
		})
		return ks
	}
	s0 := m.Seq()
	mustLock(t, m, rq(oA, fA, 0, 10, Exclusive), Granted)
	m.AddShare(fB, oX, AccessRead, ShareRead)
	if ks := keys(); !slices.Equal(ks, []FileKey{fA, fB}) || m.Seq() <= s0 {
		t.Fatalf("changed %v", ks)
	}
	if ks := keys(); len(ks) != 0 {
		t.Fatalf("changed again %v", ks)
	}
	// A POSIX upgrade changes no count but the state.
	mustLock(t, m, rq(oA, fA, 0, 10, Shared), Granted)
	ch, _ := m.Changes(nil)
	if len(ch) != 1 || len(ch[0].Records) != 1 || ch[0].Records[0].Mode != Shared {
		t.Fatalf("after downgrade %+v", ch)
	}
	mustUnlock(t, m, fA, oA, 0, 10)
	ch, _ = m.Changes(nil)
	if len(ch) != 1 || ch[0].File != fA || ch[0].Records != nil {
		t.Fatalf("after unlock %+v", ch)
	}
	m.Unwritten([]FileKey{fC})
	if ks := keys(); !slices.Equal(ks, []FileKey{fC}) {
		t.Fatalf("unwritten %v", ks)
	}
}

// TestClaims: a claim whose client has no record on the file holds the
// whole file against others until the client reclaims there, and lets
// the client reclaim ranges the records missed, but not over another's
// prior lock; a claim whose client has records adds nothing.
func TestClaims(t *testing.T) {
	c := &fakeClock{t: t0}
	n := New(Config{Now: c.Now})
	recs := []Record{
		{Kind: KindRange, File: fA, Owner: oB, Mode: Exclusive, Range: Range{Offset: 100, Length: 10}},
	}
	claims := []Claim{ClaimOf(fA, oA), ClaimOf(fB, oX), ClaimOf(fA, oB)}
	if err := n.Recover(recs, claims, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, n)
	// X's placeholder holds fB against Y and against NFS I/O.
	if d := n.Lock(rq(oY, fB, 100, 1, Shared)); d.Status != Denied || !d.Holder.Owner.IsPlaceholder() {
		t.Fatalf("lock beside a placeholder: %v %v", d.Status, d.Holder.Owner)
	}
	if l, held := n.CheckIO(fB, Owner{}, 1<<40, 1, false); !held || !l.Owner.IsPlaceholder() {
		t.Fatal("NFS read beside an SMB placeholder allowed")
	}
	// A's records on fA were lost: it may reclaim ranges no record shows,
	// but not over B's.
	if d := n.Reclaim(rq(oA, fA, 105, 1, Shared)); d.Status != Denied {
		t.Fatalf("reclaim over another's prior lock: %v", d.Status)
	}
	if d := n.Reclaim(rq(oA, fA, 5, 10, Exclusive)); d.Status != Granted {
		t.Fatalf("reclaim under a claim: %v", d.Status)
	}
	if d := n.Reclaim(rq(oA, fA, 50, 10, Exclusive)); d.Status != Granted {
		t.Fatalf("second reclaim under a claim: %v", d.Status)
	}
	if !samePrior(n, fA, "A:X5+10 A:X50+10 B/prior:X100+10") {
		t.Fatalf("fA after A's reclaims: %q", dump(n, fA))
	}
	// B's records were kept: it reclaims what they show, nothing else.
	if d := n.Reclaim(rq(oB, fA, 200, 1, Shared)); d.Status != NotLocked {
		t.Fatalf("B beyond its records: %v", d.Status)
	}
	// Y has no claim on fB: no reclaim.
	if d := n.Reclaim(rq(oY, fB, 0, 1, Shared)); d.Status != NotLocked {
		t.Fatalf("reclaim without claim: %v", d.Status)
	}
	if d := n.Reclaim(rq(oB, fA, 100, 10, Exclusive)); d.Status != Granted {
		t.Fatalf("B's reclaim: %v", d.Status)
	}
	if !n.InGrace() {
		t.Fatal("grace ended with X's placeholder left")
	}
	if d := n.Reclaim(rq(oX2, fB, 0, 1, Shared)); d.Status != Granted || n.InGrace() {
		t.Fatalf("X's reclaim: %v, grace %v", d.Status, n.InGrace())
	}
	if got := dump(n, fB); got != "X2:S0+1" {
		t.Fatalf("fB: %q", got)
	}
	checkInvariants(t, n)
}

// TestReclaimBesidePlaceholder: another client's placeholder (its claim
// outlived its locks, or its records were lost) does not stop a reclaim
// that the records vouch for.
func TestReclaimBesidePlaceholder(t *testing.T) {
	c := &fakeClock{t: t0}
	n := New(Config{Now: c.Now})
	recs := []Record{{Kind: KindRange, File: fA, Owner: oB, Mode: Exclusive, Range: Range{Offset: 10, Length: 10}}}
	if err := n.Recover(recs, []Claim{ClaimOf(fA, oA), ClaimOf(fA, oB)}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if d := n.Reclaim(rq(oB, fA, 10, 10, Exclusive)); d.Status != Granted {
		t.Fatalf("reclaim beside A's placeholder: %v (holder %v)", d.Status, d.Holder.Owner)
	}
	checkInvariants(t, n)
}
