package smbclient

import (
	"testing"
	"time"
)

// nextBreak waits for c's next break notification.
func nextBreak(t *testing.T, c *Conn) Break {
	t.Helper()
	select {
	case b, ok := <-c.Breaks():
		if !ok {
			t.Fatal("connection ended before a break notification")
		}
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("no break notification")
	}
	panic("unreachable")
}

// noBreak fails if c receives a break notification within a moment.
func noBreak(t *testing.T, c *Conn) {
	t.Helper()
	select {
	case b := <-c.Breaks():
		t.Fatalf("unexpected break notification %+v", b)
	case <-time.After(200 * time.Millisecond):
	}
}

// createAsync runs a CREATE in the background; a second client's open
// waits for the break it causes to be acknowledged.
func createAsync(t *testing.T, tree *Tree, name string, q CreateRequest) <-chan *CreateResponse {
	out := make(chan *CreateResponse, 1)
	go func() {
		r, err := tree.Create(name, q)
		if err != nil {
			t.Error(err)
		}
		out <- r
	}()
	return out
}

func waitCreate(t *testing.T, ch <-chan *CreateResponse) *CreateResponse {
	t.Helper()
	select {
	case r := <-ch:
		if r == nil {
			t.FailNow()
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("CREATE not answered")
	}
	panic("unreachable")
}

// TestOplockBreak: a batch oplock breaks to level II when a second client
// opens the file; the second open waits for the acknowledgment.
func TestOplockBreak(t *testing.T) {
	addr := startServer(t)
	ca, a := connect(t, addr, Options{Dialects: []Dialect{Dialect210}}, alice, alicePass)
	_, b := connect(t, addr, Options{Dialects: []Dialect{Dialect210}}, alice, alicePass)
	q := rw()
	q.OplockLevel = OplockBatch
	ra := mustCreate(t, a, "oplocked", q)
	if ra.OplockLevel != OplockBatch {
		t.Fatalf("oplock %#x, want batch", ra.OplockLevel)
	}
	pending := createAsync(t, b, "oplocked", rw())
	br := nextBreak(t, ca)
	if br.Lease || br.FileID != ra.FileID || br.OplockLevel != OplockII {
		t.Fatalf("break %+v, want an oplock break of %v to level II", br, ra.FileID)
	}
	level, st, err := a.AckOplockBreak(ra.FileID, OplockII)
	expect(t, "oplock break acknowledgment", st, err, StatusSuccess)
	if level != OplockII {
		t.Fatalf("acknowledged level %#x, want II", level)
	}
	rb := waitCreate(t, pending)
	expect(t, "second open", rb.Status, nil, StatusSuccess)
	if rb.OplockLevel != OplockNone {
		t.Fatalf("second open got oplock %#x without asking", rb.OplockLevel)
	}
	// Nothing left to acknowledge.
	_, st, err = a.AckOplockBreak(ra.FileID, OplockNone)
	expect(t, "acknowledging a break that was not sent", st, err, StatusInvalidOplockProtocol)
}

// TestLeaseBreak: leases of version 1 and 2. A second client's open
// breaks write caching; the version 2 lease's epoch advances with each
// state change; the acknowledgment names the state kept.
func TestLeaseBreak(t *testing.T) {
	addr := startServer(t)
	for _, v2 := range []bool{false, true} {
		name := map[bool]string{false: "v1", true: "v2"}[v2]
		t.Run(name, func(t *testing.T) {
			ca, a := connect(t, addr, Options{}, alice, alicePass)
			_, b := connect(t, addr, Options{}, alice, alicePass)
			key := [16]byte{'k', 'e', 'y', '-', name[0], name[1]}
			parent := [16]byte{'p', 'a', 'r', 'e', 'n', 't'}
			q := rw()
			q.OplockLevel = OplockLease
			q.Lease = &LeaseRequest{Key: key, State: LeaseRWH, V2: v2}
			if v2 {
				q.Lease.ParentKey = &parent
			}
			ra := mustCreate(t, a, "leased-"+name, q)
			if ra.OplockLevel != OplockLease || ra.Lease == nil {
				t.Fatalf("oplock %#x, lease %+v: want a lease", ra.OplockLevel, ra.Lease)
			}
			l := ra.Lease
			want := LeaseResponse{V2: v2, Key: key, State: LeaseRWH}
			if v2 {
				want.Flags, want.ParentKey, want.Epoch = LeaseParentKeySet, parent, 1
			}
			if *l != want {
				t.Fatalf("lease %+v, want %+v", *l, want)
			}
			// The same lease key on another open of the same client
			// shares the lease: no break.
			ra2 := mustCreate(t, a, "leased-"+name, q)
			if ra2.Lease == nil || ra2.Lease.State != LeaseRWH {
				t.Fatalf("second open with the same lease key: %+v", ra2.Lease)
			}
			noBreak(t, ca)

			pending := createAsync(t, b, "leased-"+name, rw())
			br := nextBreak(t, ca)
			wantBreak := Break{Lease: true, LeaseKey: key, AckRequired: true, CurrentState: LeaseRWH, NewState: LeaseRead | LeaseHandle}
			if v2 {
				wantBreak.Epoch = 2
			}
			if br != wantBreak {
				t.Fatalf("break %+v, want %+v", br, wantBreak)
			}
			state, st, err := a.AckLeaseBreak(key, LeaseRead|LeaseHandle)
			expect(t, "lease break acknowledgment", st, err, StatusSuccess)
			if state != LeaseRead|LeaseHandle {
				t.Fatalf("acknowledged state %v, want RH", state)
			}
			rb := waitCreate(t, pending)
			expect(t, "second client's open", rb.Status, nil, StatusSuccess)
			_, st, err = a.AckLeaseBreak(key, LeaseRead)
			expect(t, "acknowledging a break that was not sent", st, err, StatusUnsuccessful)
			_, st, err = a.AckLeaseBreak([16]byte{'n', 'o', 'n', 'e'}, LeaseRead)
			expect(t, "acknowledging an unknown lease", st, err, StatusObjectNameNotFound)
		})
	}
}

// TestDurableHandles: durable handles of both versions are granted
// (with a batch oplock or a handle-caching lease), survive the loss of the
// connection and are reconnected by the same client with DHnC and DH2C,
// keeping the FileId, the lease and the locks; a reconnect of a handle
// that never existed finds nothing.
func TestDurableHandles(t *testing.T) {
	addr := startServer(t)
	client := Options{ClientGUID: [16]byte{'c', 'l', 'i', 'e', 'n', 't', '-', '1'}}
	c1, tree := connect(t, addr, client, alice, alicePass)

	q1 := rw()
	q1.OplockLevel = OplockBatch
	q1.Durable = true
	r1 := mustCreate(t, tree, "durable-v1", q1)
	if !r1.Durable || r1.DurableV2 != nil || r1.OplockLevel != OplockBatch {
		t.Fatalf("DHnQ with a batch oplock: durable %v, v2 %+v, oplock %#x", r1.Durable, r1.DurableV2, r1.OplockLevel)
	}

	key := [16]byte{'d', 'u', 'r'}
	cg := [16]byte{'c', 'g', '1'}
	q2 := rw()
	q2.OplockLevel = OplockLease
	q2.Lease = &LeaseRequest{Key: key, State: LeaseRWH, V2: true}
	q2.DurableV2 = &DurableV2Request{CreateGUID: cg, Timeout: 60000}
	r2 := mustCreate(t, tree, "durable-v2", q2)
	if r2.Durable || r2.DurableV2 == nil || r2.DurableV2.Timeout == 0 || r2.DurableV2.Flags != 0 {
		t.Fatalf("DH2Q with an RWH lease: v1 %v, v2 %+v; want a v2 handle with a timeout, not persistent", r2.Durable, r2.DurableV2)
	}
	if _, st, err := tree.Write(r2.FileID, 0, []byte("kept")); err != nil || st != StatusSuccess {
		t.Fatalf("WRITE: %v %v", st, err)
	}
	st, err := tree.Lock(r2.FileID, LockElement{Offset: 0, Length: 4, Flags: LockExclusive | LockFailImmediately})
	expect(t, "LOCK", st, err, StatusSuccess)

	// The network fails; the client comes back as itself.
	c1.Close()
	_, tree2 := connect(t, addr, client, alice, alicePass)
	rq := rw()
	rq.OplockLevel = OplockBatch
	rq.Reconnect = &r1.FileID
	// The server may not have seen the old connection go yet: until it
	// has, the open is not disconnected and a reconnect finds nothing
	// (as on Samba and Windows); a client tries again.
	var rr *CreateResponse
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if rr, err = tree2.Create("durable-v1", rq); err != nil {
			t.Fatal(err)
		}
		if rr.Status != StatusObjectNameNotFound || time.Now().After(deadline) {
			break
		}
	}
	expect(t, "DHnC reconnect", rr.Status, nil, StatusSuccess)
	if rr.FileID.Persistent != r1.FileID.Persistent || rr.OplockLevel != OplockBatch {
		t.Fatalf("DHnC reconnect: FileId %v (was %v), oplock %#x", rr.FileID, r1.FileID, rr.OplockLevel)
	}
	rq = rw()
	rq.OplockLevel = OplockLease
	rq.Lease = &LeaseRequest{Key: key, State: LeaseRWH, V2: true, Epoch: r2.Lease.Epoch}
	rq.ReconnectV2 = &DurableV2Reconnect{FileID: r2.FileID, CreateGUID: cg}
	rr, err = tree2.Create("durable-v2", rq)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "DH2C reconnect", rr.Status, nil, StatusSuccess)
	if rr.FileID.Persistent != r2.FileID.Persistent || rr.Lease == nil || rr.Lease.Key != key || rr.Lease.State != LeaseRWH {
		t.Fatalf("DH2C reconnect: FileId %v (was %v), lease %+v", rr.FileID, r2.FileID, rr.Lease)
	}
	got, st, err := tree2.Read(rr.FileID, 0, 4)
	expect(t, "READ after the reconnect", st, err, StatusSuccess)
	if string(got) != "kept" {
		t.Fatalf("READ after the reconnect: %q", got)
	}
	// The lock came back with the open: another open (under the same
	// lease, so that nothing breaks) is refused it.
	qo := rw()
	qo.OplockLevel = OplockLease
	qo.Lease = &LeaseRequest{Key: key, State: LeaseRWH, V2: true, Epoch: rr.Lease.Epoch}
	other := mustCreate(t, tree2, "durable-v2", qo)
	st, err = tree2.Lock(other.FileID, LockElement{Offset: 0, Length: 1, Flags: LockExclusive | LockFailImmediately})
	expect(t, "LOCK over the reconnected open's lock", st, err, StatusLockNotGranted)

	missing := FileID{Persistent: 0x1234, Volatile: 0x5678}
	q := rw()
	q.Reconnect = &missing
	rc, err := tree2.Create("durable-v1", q)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "DHnC of a handle that never existed", rc.Status, nil, StatusObjectNameNotFound)
	q = rw()
	q.OplockLevel = OplockLease
	q.Lease = &LeaseRequest{Key: key, State: LeaseRWH, V2: true}
	q.ReconnectV2 = &DurableV2Reconnect{FileID: missing, CreateGUID: [16]byte{'c', 'g', '9'}}
	rc, err = tree2.Create("durable-v2", q)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "DH2C of a handle that never existed", rc.Status, nil, StatusObjectNameNotFound)
}
