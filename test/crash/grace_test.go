//go:build e2e

package crash

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/smbclient"
	"github.com/tandemfs/tandem/test/testserver"
)

// graceShort is the grace period of the restart tests: long enough for
// what they do during it, short enough to wait for its end.
const graceShort = 8 * time.Second

// TestGracePeriodWithSMBLeases: an SMB client holds a durable handle (DH2Q)
// with a read/write/handle lease (v2) and a byte-range lock, and has
// written; the server is killed with SIGKILL and restarted on the same
// data with a grace period. Within it, the client's DH2C reconnect gives
// back the same FileId, lease key, lease state and epoch, with the lock
// still held (a second client's conflicting lock is refused, during grace
// and after it while the first holds it) and the data there; the second
// client's lock is granted once the first unlocks. A second durable
// handle that nobody reclaims shows in `tandem locks --json` as
// unreclaimed until the grace period ends and is gone after, with its
// lock and lease.
func TestGracePeriodWithSMBLeases(t *testing.T) {
	data := t.TempDir()
	addUsers(t, data)
	p := startSMB(t, data, graceShort)

	// Client A: the durable handle that will be reclaimed.
	gA, keyA, cgA := guid("client-A"), guid("lease-A"), guid("create-A")
	_, a := smbConnect(t, p, gA, alice, alicePass)
	qA := durableOpen(keyA, cgA, smbclient.LeaseRWH)
	ra := create(t, a, "leased", qA)
	if ra.Lease == nil || ra.Lease.Key != keyA || ra.Lease.State != smbclient.LeaseRWH {
		t.Fatalf("lease of the first open: %+v, want RWH of key %x", ra.Lease, keyA)
	}
	if ra.DurableV2 == nil {
		t.Fatal("DH2Q with an RWH lease: no durable handle granted (no DH2Q response context)")
	}
	epochA := ra.Lease.Epoch
	st, err := a.Lock(ra.FileID, excl(0, 10))
	want(t, "A: LOCK [0,10)", st, err, smbclient.StatusSuccess)
	payload := []byte("written before the crash")
	n, st, err := a.Write(ra.FileID, 100, payload)
	want(t, "A: WRITE", st, err, smbclient.StatusSuccess)
	if n != uint32(len(payload)) {
		t.Fatalf("A: WRITE of %d bytes wrote %d", len(payload), n)
	}
	st, err = a.Flush(ra.FileID)
	want(t, "A: FLUSH", st, err, smbclient.StatusSuccess)

	// Client C: a durable handle with a lease and a lock that nobody
	// will reclaim.
	gC, keyC, cgC := guid("client-C"), guid("lease-C"), guid("create-C")
	_, cc := smbConnect(t, p, gC, alice, alicePass)
	qC := durableOpen(keyC, cgC, smbclient.LeaseRWH)
	rc := create(t, cc, "orphan", qC)
	if rc.DurableV2 == nil || rc.Lease == nil || rc.Lease.State != smbclient.LeaseRWH {
		t.Fatalf("C's open: durable %+v, lease %+v", rc.DurableV2, rc.Lease)
	}
	st, err = cc.Lock(rc.FileID, excl(0, 5))
	want(t, "C: LOCK [0,5)", st, err, smbclient.StatusSuccess)

	before := locks(t, p)
	for _, client := range []string{clientOf(gA), clientOf(gC)} {
		es := entriesOf(before, client)
		if !hasEntry(es, "range", "exclusive") || !hasEntry(es, "caching", "RWH") {
			t.Fatalf("before the crash, client %s: want an exclusive range and an RWH lease; %s", client, describe(es))
		}
		for _, e := range es {
			if !e.Durable || e.Unreclaimed || e.Disconnected {
				t.Errorf("before the crash: %v: want durable, not unreclaimed, not disconnected", e)
			}
		}
	}

	p = crashRestart(t, p, data, graceShort)
	g := grace(t, p)
	if !g.Active || g.Unreclaimed == 0 || time.Until(g.Ends) <= 0 || time.Until(g.Ends) > graceShort {
		t.Fatalf("after the restart: grace %+v, want active with unreclaimed entries, ending within %v", g, graceShort)
	}
	after := locks(t, p)
	for _, client := range []string{clientOf(gA), clientOf(gC)} {
		es := entriesOf(after, client)
		if table(stripFlags(es)) != table(stripFlags(entriesOf(before, client))) {
			t.Fatalf("after the restart, client %s has\n%s\nwant what it had before the crash:\n%s",
				client, describe(es), describe(entriesOf(before, client)))
		}
		for _, e := range es {
			if !e.Unreclaimed || !e.Durable || !e.Disconnected {
				t.Errorf("after the restart: %v: want unreclaimed, durable and disconnected", e)
			}
		}
	}

	// A reconnects its durable handle as the same client and user.
	ca2, a2 := smbConnect(t, p, gA, alice, alicePass)
	rr, err := a2.Create("leased", reconnect(qA, ra.FileID, cgA, epochA))
	if err != nil {
		t.Fatal(err)
	}
	want(t, "A: DH2C reconnect during grace", rr.Status, nil, smbclient.StatusSuccess)
	if rr.FileID != ra.FileID {
		t.Errorf("reconnected FileId %v, want the original %v", rr.FileID, ra.FileID)
	}
	if rr.Lease == nil || rr.Lease.Key != keyA || rr.Lease.State != smbclient.LeaseRWH || rr.Lease.Epoch != epochA {
		t.Fatalf("reconnected lease %+v, want key %x, RWH, epoch %d", rr.Lease, keyA, epochA)
	}
	fid := rr.FileID
	got, st, err := a2.Read(fid, 100, uint32(len(payload)))
	want(t, "A: READ after the reconnect", st, err, smbclient.StatusSuccess)
	if !bytes.Equal(got, payload) {
		t.Fatalf("A: READ after the reconnect: %q, want %q", got, payload)
	}
	es := entriesOf(locks(t, p), clientOf(gA))
	if !hasEntry(es, "range", "exclusive") {
		t.Fatalf("after the reconnect, A's lock is not in the table; %s", describe(es))
	}
	for _, e := range es {
		if e.Unreclaimed || !e.Durable || e.Disconnected {
			t.Errorf("after the reconnect: %v: want reclaimed, durable, connected", e)
		}
	}
	if g := grace(t, p); !g.Active {
		t.Fatalf("grace over after A's reconnect although C's handle is unreclaimed: %+v", g)
	}
	if es := entriesOf(locks(t, p), clientOf(gC)); len(es) == 0 || !es[0].Unreclaimed {
		t.Fatalf("C's state during grace: %s; want it unreclaimed", describe(es))
	}

	// Client B opens the file (A's lease breaks to RH, which A
	// acknowledges) and asks for an overlapping lock: refused while A
	// holds it, during grace and after.
	_, b := smbConnect(t, p, guid("client-B"), alice, alicePass)
	pending := make(chan *smbclient.CreateResponse, 1)
	go func() {
		r, err := b.Create("leased", plainOpen())
		if err != nil {
			t.Error(err)
		}
		pending <- r
	}()
	select {
	case br := <-ca2.Breaks():
		if !br.Lease || br.LeaseKey != keyA || br.NewState != smbclient.LeaseRead|smbclient.LeaseHandle || !br.AckRequired {
			t.Fatalf("A: break %+v, want its lease broken to RH", br)
		}
		_, st, err := a2.AckLeaseBreak(keyA, smbclient.LeaseRead|smbclient.LeaseHandle)
		want(t, "A: lease break acknowledgment", st, err, smbclient.StatusSuccess)
	case <-time.After(10 * time.Second):
		t.Fatal("A: no lease break when B opened the file")
	}
	rb := <-pending
	if rb == nil {
		t.FailNow()
	}
	want(t, "B: CREATE", rb.Status, nil, smbclient.StatusSuccess)
	st, err = b.Lock(rb.FileID, excl(5, 1))
	want(t, "B: LOCK [5,6) during grace", st, err, smbclient.StatusLockNotGranted)
	_, st, err = b.Write(rb.FileID, 2, []byte("x"))
	want(t, "B: WRITE into A's lock", st, err, smbclient.StatusFileLockConflict)
	if g := grace(t, p); !g.Active {
		t.Fatalf("grace over before the refusals were checked; make graceShort longer: %+v", g)
	}

	waitGraceOver(t, p, graceShort+5*time.Second)
	es = locks(t, p)
	if c := entriesOf(es, clientOf(gC)); len(c) != 0 {
		t.Fatalf("after grace, C's unreclaimed state is still there: %s", describe(c))
	}
	for _, e := range es {
		if e.Unreclaimed {
			t.Errorf("after grace: %v is still unreclaimed", e)
		}
	}
	if !hasEntry(entriesOf(es, clientOf(gA)), "range", "exclusive") {
		t.Fatalf("after grace, A's reclaimed lock is gone: %s", describe(es))
	}
	st, err = b.Lock(rb.FileID, excl(5, 1))
	want(t, "B: LOCK [5,6) after grace while A holds [0,10)", st, err, smbclient.StatusLockNotGranted)
	st, err = a2.Lock(fid, unlock(0, 10))
	want(t, "A: unlock [0,10)", st, err, smbclient.StatusSuccess)
	st, err = b.Lock(rb.FileID, excl(5, 1))
	want(t, "B: LOCK [5,6) after A's unlock", st, err, smbclient.StatusSuccess)

	// C's lease went with its handle: a new client gets RWH on the file.
	rc2 := create(t, b, "orphan", durableOpen(guid("lease-B"), guid("create-B"), smbclient.LeaseRWH))
	if rc2.Lease == nil || rc2.Lease.State != smbclient.LeaseRWH {
		t.Fatalf("lease on C's file after grace: %+v, want RWH (C's lease released)", rc2.Lease)
	}
	st, err = b.Lock(rc2.FileID, excl(0, 5))
	want(t, "B: LOCK of C's former range", st, err, smbclient.StatusSuccess)
	noErrors(t, p)
}

// hasEntry reports whether es has an entry of that kind and mode.
func hasEntry(es []testserver.LockEntry, kind, mode string) bool {
	for _, e := range es {
		if e.Kind == kind && e.Mode == mode {
			return true
		}
	}
	return false
}

// stripFlags clears what a restart changes (the state flags) so that
// tables before and after compare.
func stripFlags(es []testserver.LockEntry) []testserver.LockEntry {
	out := make([]testserver.LockEntry, len(es))
	for i, e := range es {
		e.Unreclaimed, e.Disconnected, e.Waiting = false, false, false
		out[i] = e
	}
	return out
}

// TestReclaimRefusals: after a restart, reclaims that do not match what
// was held are refused with the protocol's status and change nothing in
// `tandem locks --json`: during grace, an NLM reclaim by a host (or an
// owner of the host, or of a range) that did not hold the lock is
// NLM4_DENIED and a new NLM lock or test NLM4_DENIED_GRACE_PERIOD; an SMB
// durable reconnect by another user is STATUS_ACCESS_DENIED, and with the
// wrong CreateGuid, the wrong lease key or from another ClientGuid
// STATUS_OBJECT_NAME_NOT_FOUND (MS-SMB2 3.3.5.9.12). After grace, what
// nobody reclaimed is gone, an NLM reclaim is NLM4_DENIED_GRACE_PERIOD and
// a durable reconnect STATUS_OBJECT_NAME_NOT_FOUND.
func TestReclaimRefusals(t *testing.T) {
	data := t.TempDir()
	addUsers(t, data)
	p := startSMB(t, data, time.Minute)

	nc, fh := nlmClient(t, p, "nlm-file")
	held := testserver.NLMLock{Caller: "host-1", FH: fh, OH: []byte("oh-1"), Svid: 1, Offset: 0, Length: 10}
	exclusive := testserver.NLMLockArgs{Exclusive: true, State: 1}
	st, err := nc.NLMLock(held, exclusive)
	nlmWant(t, "host-1: LOCK", st, err, testserver.NLMGranted)

	gA, keyA, cgA := guid("client-A"), guid("lease-A"), guid("create-A")
	_, a := smbConnect(t, p, gA, alice, alicePass)
	qA := durableOpen(keyA, cgA, smbclient.LeaseRWH)
	ra := create(t, a, "smb-file", qA)
	smbDurable := ra.DurableV2 != nil && ra.Lease != nil
	if !smbDurable {
		t.Errorf("DH2Q with an RWH lease: durable %+v, lease %+v; the SMB refusals cannot be checked", ra.DurableV2, ra.Lease)
	} else {
		sst, err := a.Lock(ra.FileID, excl(0, 10))
		want(t, "A: LOCK", sst, err, smbclient.StatusSuccess)
	}

	p = crashRestart(t, p, data, time.Minute)
	if g := grace(t, p); !g.Active {
		t.Fatalf("no grace period after the restart: %+v", g)
	}
	initial := locks(t, p)
	if es := entriesOf(initial, "host-1"); len(es) != 1 || !es[0].Unreclaimed || es[0].Offset != 0 || es[0].Length != 10 {
		t.Fatalf("host-1's lock after the restart: %s; want one unreclaimed entry [0,10)", describe(es))
	}
	unchanged := func(what string) {
		t.Helper()
		if now := locks(t, p); table(now) != table(initial) {
			t.Errorf("%s changed the lock table:\n%s\nwas:\n%s", what, describe(now), describe(initial))
		}
	}

	nc, _ = nlmClient(t, p, "nlm-file")
	reclaim := testserver.NLMLockArgs{Exclusive: true, Reclaim: true, State: 2}
	for _, c := range []struct {
		what string
		l    testserver.NLMLock
	}{
		{"a reclaim by a host that held nothing", testserver.NLMLock{Caller: "host-2", FH: fh, OH: []byte("oh-1"), Svid: 1, Offset: 0, Length: 10}},
		{"a reclaim by another process of the host", testserver.NLMLock{Caller: "host-1", FH: fh, OH: []byte("oh-2"), Svid: 2, Offset: 0, Length: 10}},
		{"a reclaim of a range the owner did not hold", testserver.NLMLock{Caller: "host-1", FH: fh, OH: []byte("oh-1"), Svid: 1, Offset: 0, Length: 20}},
	} {
		st, err := nc.NLMLock(c.l, reclaim)
		nlmWant(t, c.what, st, err, testserver.NLMDenied)
		unchanged(c.what)
	}
	other := testserver.NLMLock{Caller: "host-2", FH: fh, OH: []byte("oh-9"), Svid: 9, Offset: 100, Length: 10}
	st, err = nc.NLMLock(other, exclusive)
	nlmWant(t, "a new lock during grace", st, err, testserver.NLMDeniedGracePeriod)
	unchanged("a new lock during grace")
	st, _, err = nc.NLMTest(other, true)
	nlmWant(t, "a TEST during grace", st, err, testserver.NLMDeniedGracePeriod)

	if smbDurable {
		for _, c := range []struct {
			what       string
			client     [16]byte
			user, pass string
			createGUID [16]byte
			key        [16]byte
			status     smbclient.Status
		}{
			{"a durable reconnect by another user", gA, bob, bobPass, cgA, keyA, smbclient.StatusAccessDenied},
			{"a durable reconnect with the wrong CreateGuid", gA, alice, alicePass, guid("create-X"), keyA, smbclient.StatusObjectNameNotFound},
			{"a durable reconnect with the wrong lease key", gA, alice, alicePass, cgA, guid("lease-X"), smbclient.StatusObjectNameNotFound},
			{"a durable reconnect from another ClientGuid", guid("client-X"), alice, alicePass, cgA, keyA, smbclient.StatusObjectNameNotFound},
		} {
			q := reconnect(durableOpen(c.key, cgA, smbclient.LeaseRWH), ra.FileID, c.createGUID, ra.Lease.Epoch)
			conn, tree := smbConnect(t, p, c.client, c.user, c.pass)
			r, err := tree.Create("smb-file", q)
			if err != nil {
				t.Fatalf("%s: %v", c.what, err)
			}
			if r.Status != c.status {
				t.Errorf("%s: %v, want %v", c.what, r.Status, c.status)
			}
			conn.Close()
			unchanged(c.what)
		}
	}

	if err := p.EndGrace(); err != nil {
		t.Fatal(err)
	}
	if g := grace(t, p); g.Active || g.Unreclaimed != 0 {
		t.Fatalf("after tandem grace end: %+v", g)
	}
	initial = locks(t, p)
	if len(initial) != 0 {
		t.Fatalf("after grace, nobody having reclaimed anything: %s", describe(initial))
	}
	st, err = nc.NLMLock(held, reclaim)
	nlmWant(t, "host-1's reclaim after grace", st, err, testserver.NLMDeniedGracePeriod)
	unchanged("a reclaim after grace")
	if smbDurable {
		_, tree := smbConnect(t, p, gA, alice, alicePass)
		r, err := tree.Create("smb-file", reconnect(qA, ra.FileID, cgA, ra.Lease.Epoch))
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != smbclient.StatusObjectNameNotFound {
			t.Errorf("a durable reconnect after grace: %v, want %v", r.Status, smbclient.StatusObjectNameNotFound)
		}
		unchanged("a durable reconnect after grace")
	}
	// The range is free now.
	st, err = nc.NLMLock(other, exclusive)
	nlmWant(t, "host-2's new lock after grace", st, err, testserver.NLMGranted)
	st, err = nc.NLMLock(testserver.NLMLock{Caller: "host-2", FH: fh, OH: []byte("oh-9"), Svid: 9, Offset: 0, Length: 10}, exclusive)
	nlmWant(t, "host-2's lock of host-1's former range", st, err, testserver.NLMGranted)
	noErrors(t, p)
}

// TestSMBRelockInGrace: an SMB client without durable handles loses its
// open in the restart; reconnecting as the same client (ClientGuid), it
// opens the file again and sends the same locks during grace, and gets
// them back, while another client's overlapping lock is refused. Once
// nothing is unreclaimed the grace period ends early.
func TestSMBRelockInGrace(t *testing.T) {
	data := t.TempDir()
	addUsers(t, data)
	p := startSMB(t, data, time.Minute)
	gP := guid("client-P")
	_, tp := smbConnect(t, p, gP, alice, alicePass)
	r := create(t, tp, "relocked", plainOpen())
	st, err := tp.Lock(r.FileID, excl(0, 10))
	want(t, "P: LOCK [0,10) exclusive", st, err, smbclient.StatusSuccess)
	shared := smbclient.LockElement{Offset: 20, Length: 5, Flags: smbclient.LockShared | smbclient.LockFailImmediately}
	st, err = tp.Lock(r.FileID, shared)
	want(t, "P: LOCK [20,25) shared", st, err, smbclient.StatusSuccess)

	p = crashRestart(t, p, data, time.Minute)
	es := entriesOf(locks(t, p), clientOf(gP))
	if len(es) != 2 || !es[0].Unreclaimed || !es[1].Unreclaimed {
		t.Fatalf("P's locks after the restart: %s; want its two ranges, unreclaimed", describe(es))
	}
	if g := grace(t, p); !g.Active {
		t.Fatalf("no grace period after the restart: %+v", g)
	}

	_, tq := smbConnect(t, p, guid("client-Q"), alice, alicePass)
	rq := create(t, tq, "relocked", plainOpen())
	st, err = tq.Lock(rq.FileID, excl(0, 1))
	want(t, "Q: LOCK [0,1) over P's unreclaimed lock", st, err, smbclient.StatusLockNotGranted)
	st, err = tq.Lock(rq.FileID, excl(20, 1))
	want(t, "Q: LOCK [20,21) exclusive over P's unreclaimed shared lock", st, err, smbclient.StatusLockNotGranted)

	_, tp2 := smbConnect(t, p, gP, alice, alicePass)
	r2 := create(t, tp2, "relocked", plainOpen())
	st, err = tp2.Lock(r2.FileID, excl(0, 10))
	want(t, "P: the same LOCK [0,10) again through a new open", st, err, smbclient.StatusSuccess)
	st, err = tp2.Lock(r2.FileID, shared)
	want(t, "P: the same LOCK [20,25) again through a new open", st, err, smbclient.StatusSuccess)
	es = entriesOf(locks(t, p), clientOf(gP))
	for _, e := range es {
		if e.Unreclaimed {
			t.Errorf("after P's relock: %v still unreclaimed", e)
		}
	}
	if !hasEntry(es, "range", "exclusive") || !hasEntry(es, "range", "shared") {
		t.Fatalf("P's locks after its relock: %s", describe(es))
	}
	waitGraceOver(t, p, 3*time.Second) // nothing is unreclaimed: grace ends early
	st, err = tq.Lock(rq.FileID, excl(0, 1))
	want(t, "Q: LOCK [0,1) while P holds [0,10)", st, err, smbclient.StatusLockNotGranted)
	st, err = tp2.Lock(r2.FileID, unlock(0, 10))
	want(t, "P: unlock [0,10)", st, err, smbclient.StatusSuccess)
	st, err = tq.Lock(rq.FileID, excl(0, 1))
	want(t, "Q: LOCK [0,1) after P's unlock", st, err, smbclient.StatusSuccess)
	noErrors(t, p)
}

// TestAcknowledgedLocksSurviveKill: a lock is answered only once it is
// durable, the first of a client on a file and every later one alike. An
// NLM host and an SMB client each take several locks on one file, the
// server is killed right after the last answer, and after the restart
// every one of them is in `tandem locks --json`, unreclaimed, and its
// client gets it back (NLM reclaim, SMB relock through a new open).
func TestAcknowledgedLocksSurviveKill(t *testing.T) {
	data := t.TempDir()
	addUsers(t, data)
	p := startSMB(t, data, time.Minute)
	nc, fh := nlmClient(t, p, "many-locks")
	gS := guid("client-S")
	_, ts := smbConnect(t, p, gS, alice, alicePass)
	r := create(t, ts, "many-locks", plainOpen())
	const n = 8
	nlmLock := func(i int) testserver.NLMLock {
		return testserver.NLMLock{Caller: "host-n", FH: fh, OH: []byte("oh-n"), Svid: 7, Offset: uint64(i) * 100, Length: 10}
	}
	for i := range n {
		st, err := nc.NLMLock(nlmLock(i), testserver.NLMLockArgs{Exclusive: i%2 == 0, State: 1})
		nlmWant(t, fmt.Sprintf("NLM LOCK %d", i), st, err, testserver.NLMGranted)
		sst, err := ts.Lock(r.FileID, smbLock(i))
		want(t, fmt.Sprintf("SMB LOCK %d", i), sst, err, smbclient.StatusSuccess)
	}
	p = crashRestart(t, p, data, time.Minute)
	es := locks(t, p)
	for _, c := range []struct{ client, proto string }{{"host-n", "nlm"}, {clientOf(gS), "smb"}} {
		got := entriesOf(es, c.client)
		var missing []int
		for i := range n {
			found := false
			for _, e := range got {
				found = found || e.Kind == "range" && e.Offset == uint64(i)*100+uint64(50*btoi(c.proto == "smb")) && e.Unreclaimed
			}
			if !found {
				missing = append(missing, i)
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s: acknowledged locks %v (of 0..%d) are not in the table after the restart; %s", c.proto, missing, n-1, describe(got))
		}
	}
	nc, _ = nlmClient(t, p, "many-locks")
	_, ts2 := smbConnect(t, p, gS, alice, alicePass)
	r2 := create(t, ts2, "many-locks", plainOpen())
	for i := range n {
		st, err := nc.NLMLock(nlmLock(i), testserver.NLMLockArgs{Exclusive: i%2 == 0, Reclaim: true, State: 1})
		if err != nil || st != testserver.NLMGranted {
			t.Errorf("NLM reclaim of acknowledged lock %d: %v %v, want %v", i, st, err, testserver.NLMGranted)
		}
		sst, err := ts2.Lock(r2.FileID, smbLock(i))
		if err != nil || sst != smbclient.StatusSuccess {
			t.Errorf("SMB relock of acknowledged lock %d: %v %v, want %v", i, sst, err, smbclient.StatusSuccess)
		}
	}
	if es := locks(t, p); len(es) != 2*n+1 { // the ranges and the new open's share reservation
		t.Errorf("after the reclaims: %s; want the %d ranges and one share reservation", describe(es), 2*n)
	}
	waitGraceOver(t, p, 3*time.Second)
	noErrors(t, p)
}

// smbLock is the i-th lock of the SMB client of
// TestAcknowledgedLocksSurviveKill: 10 bytes at 100*i+50, exclusive for
// odd i.
func smbLock(i int) smbclient.LockElement {
	l := smbclient.LockElement{Offset: uint64(i)*100 + 50, Length: 10, Flags: smbclient.LockShared | smbclient.LockFailImmediately}
	if i%2 == 1 {
		l.Flags = smbclient.LockExclusive | smbclient.LockFailImmediately
	}
	return l
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestReclaimBesideAnotherClientsClaim: a host that locked and unlocked a
// file shortly before the crash (its claim on the file may outlive its
// locks) must not keep another host from reclaiming its own lock there.
// Host A locks and unlocks a range; host B locks another and still holds
// it at the kill; after the restart B's reclaim is granted, and B's lock
// stays in the table through the end of grace.
func TestReclaimBesideAnotherClientsClaim(t *testing.T) {
	data := t.TempDir()
	addUsers(t, data)
	p := startSMB(t, data, time.Minute)
	nc, fh := nlmClient(t, p, "two-hosts")
	a := testserver.NLMLock{Caller: "host-a", FH: fh, OH: []byte("oh-a"), Svid: 1, Offset: 0, Length: 1}
	b := testserver.NLMLock{Caller: "host-b", FH: fh, OH: []byte("oh-b"), Svid: 2, Offset: 10, Length: 10}
	args := testserver.NLMLockArgs{Exclusive: true, State: 1}
	st, err := nc.NLMLock(a, args)
	nlmWant(t, "host-a: LOCK", st, err, testserver.NLMGranted)
	st, err = nc.NLMUnlock(a)
	nlmWant(t, "host-a: UNLOCK", st, err, testserver.NLMGranted)
	st, err = nc.NLMLock(b, args)
	nlmWant(t, "host-b: LOCK", st, err, testserver.NLMGranted)
	p = crashRestart(t, p, data, time.Minute)
	before := locks(t, p)
	if es := entriesOf(before, "host-b"); len(es) != 1 || !es[0].Unreclaimed {
		t.Fatalf("host-b after the restart: %s; want its lock, unreclaimed", describe(es))
	}
	nc, _ = nlmClient(t, p, "two-hosts")
	args.Reclaim = true
	st, err = nc.NLMLock(b, args)
	if err != nil || st != testserver.NLMGranted {
		t.Errorf("host-b: reclaim of its lock: %v %v, want %v; table before it:\n%s", st, err, testserver.NLMGranted, describe(before))
	}
	if err := p.EndGrace(); err != nil {
		t.Fatal(err)
	}
	if es := entriesOf(locks(t, p), "host-b"); len(es) != 1 || es[0].Unreclaimed || es[0].Offset != 10 || es[0].Length != 10 {
		t.Errorf("host-b after grace: %s; want its lock [10,20), held", describe(es))
	}
	noErrors(t, p)
}
