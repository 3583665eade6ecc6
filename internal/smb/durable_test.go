package smb

import (
	"encoding/binary"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/lock"
)

// Request builders of the durable handle contexts.

// dh2qCtx is a DH2Q asking for timeout milliseconds under CreateGuid guid.
func dh2qCtx(timeout uint32, guid byte) []byte {
	b := make([]byte, 32)
	binary.LittleEndian.PutUint32(b, timeout)
	b[16] = guid
	return b
}

// dhncCtx is a DHnC naming id.
func dhncCtx(id FileID) []byte { return id.Append(nil) }

// dh2cCtx is a DH2C naming id and CreateGuid guid.
func dh2cCtx(id FileID, guid byte) []byte {
	b := id.Append(nil)
	b = append(b, make([]byte, 20)...)
	b[16] = guid
	return b
}

// leaseV2Ctx is the data of a v2 lease request.
func leaseV2Ctx(key byte, state uint32) []byte {
	b := make([]byte, 52)
	b[0] = key
	binary.LittleEndian.PutUint32(b[16:], state)
	return b
}

// connect30 negotiates 3.0 (with a ClientGuid of its own if guid is not
// empty), logs user on and connects the export.
func (e *env) connect30(user, pass, guid string) *raw {
	e.t.Helper()
	return connect30At(e.t, e.addr, user, pass, guid)
}

func connect30At(t testing.TB, addr, user, pass, guid string) *raw {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &raw{t: t, nc: nc}
	neg := negotiateBody([]uint16{Dialect300}, capLargeMTU, nil)
	if guid != "" {
		copy(neg[12:28], guid)
	}
	if r := c.call(CmdNegotiate, neg, nil); r.Status != StatusSuccess {
		t.Fatalf("NEGOTIATE: %v", r.Status)
	}
	logon30(t, c, user, pass)
	c.signer = nil // the session does not require signing: requests go unsigned
	r := c.call(CmdTreeConnect, treeConnectBody(`\\127.0.0.1\export`), nil)
	if r.Status != StatusSuccess {
		t.Fatalf("TREE_CONNECT: %v", r.Status)
	}
	c.tree = r.TreeID
	return c
}

// createCtx sends a CREATE with an oplock level and returns the decoded
// response.
func (c *raw) createCtx(q createReq, level byte) createResp {
	c.t.Helper()
	return decodeCreate(c.t, c.createOplock(q, level))
}

// drop closes the client's connection and waits until the server has
// disconnected the durable open id.
func (e *env) drop(c *raw, id FileID) {
	e.t.Helper()
	c.nc.Close()
	waitDisconnected(e.t, e.srv, id)
}

func waitDisconnected(t testing.TB, srv *Server, id FileID) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		for _, d := range srv.DurableOpens() {
			if d.Persistent == id.Persistent && d.Disconnected {
				return
			}
		}
	}
	t.Fatalf("open %x not disconnected: %+v", id.Persistent, srv.DurableOpens())
}

func TestDurableGrant(t *testing.T) {
	e := newEnv(t, Options{DurableMaxTimeout: 90 * time.Second})
	c := e.connect("export")
	c3 := e.connect30("alice", alicePass, "")
	q := func(name string, ctxs ...any) createReq {
		return createReq{name: name, access: rw, share: shareAll, disp: dispOpenIf, contexts: ctxChain(ctxs...)}
	}
	for _, tc := range []struct {
		what    string
		c       *raw
		q       createReq
		level   byte
		ctx     string // the durable response context, "" for none
		timeout uint32 // of DH2Q's response
	}{
		{"v1 with a batch oplock", c, q("a", "DHnQ", make([]byte, 16)), oplockBatch, "DHnQ", 0},
		{"v1 with an RWH lease", c, q("b", "DHnQ", make([]byte, 16), "RqLs", leaseCtx(1, 7)), oplockLease, "DHnQ", 0},
		{"v1 with an RH lease", c, q("c", "DHnQ", make([]byte, 16), "RqLs", leaseCtx(2, 3)), oplockLease, "DHnQ", 0},
		{"v1 with an exclusive oplock", c, q("d", "DHnQ", make([]byte, 16)), oplockExclusive, "", 0},
		{"v1 with an RW lease", c, q("e", "DHnQ", make([]byte, 16), "RqLs", leaseCtx(3, 5)), oplockLease, "", 0},
		{"v1 without caching", c, q("f", "DHnQ", make([]byte, 16)), oplockNone, "", 0},
		{"v2 with a batch oplock, no timeout asked", c3, q("g", "DH2Q", dh2qCtx(0, 1)), oplockBatch, "DH2Q", 60000},
		{"v2 with an RH lease", c3, q("h", "DH2Q", dh2qCtx(1500, 2), "RqLs", leaseV2Ctx(4, 3)), oplockLease, "DH2Q", 1500},
		{"v2 capped", c3, q("i", "DH2Q", dh2qCtx(^uint32(0), 3), "RqLs", leaseCtx(5, 7)), oplockLease, "DH2Q", 90000},
		{"v2 with level II", c3, q("j", "DH2Q", dh2qCtx(0, 4)), oplockLevelII, "", 0},
		{"v2 on 2.1 is not known", c, q("k", "DH2Q", dh2qCtx(0, 5)), oplockBatch, "", 0},
		{"a directory", c, createReq{name: "dir", access: fileGenericRead, share: shareAll, disp: dispCreate, options: optDirectory,
			contexts: ctxChain("DHnQ", make([]byte, 16))}, oplockBatch, "", 0},
	} {
		cr := tc.c.createCtx(tc.q, tc.level)
		if cr.Status != StatusSuccess {
			t.Errorf("%s: %v", tc.what, cr.Status)
			continue
		}
		_, v1 := cr.contexts["DHnQ"]
		v2, ok2 := cr.contexts["DH2Q"]
		switch {
		case tc.ctx == "" && (v1 || ok2):
			t.Errorf("%s: granted durability (%v)", tc.what, cr.contexts)
		case tc.ctx == "DHnQ" && (!v1 || len(cr.contexts["DHnQ"]) != 8):
			t.Errorf("%s: no DHnQ response (%v)", tc.what, cr.contexts)
		case tc.ctx == "DH2Q" && (!ok2 || len(v2) != 8 || binary.LittleEndian.Uint32(v2) != tc.timeout || binary.LittleEndian.Uint32(v2[4:]) != 0):
			t.Errorf("%s: DH2Q response %x, want timeout %d, flags 0", tc.what, v2, tc.timeout)
		}
		tc.c.close(cr.ID)
	}
	if d := e.srv.DurableOpens(); len(d) != 0 {
		t.Errorf("durable opens left after their close: %+v", d)
	}
	// Both requests in one CREATE are refused.
	if cr := c3.createCtx(q("l", "DHnQ", make([]byte, 16), "DH2Q", dh2qCtx(0, 6)), oplockBatch); cr.Status != StatusInvalidParameter {
		t.Errorf("DHnQ and DH2Q: %v", cr.Status)
	}
}

func TestDurableReconnectLease(t *testing.T) {
	e := newEnv(t, Options{})
	c1 := e.connect30("alice", alicePass, "")
	q := createReq{name: "f", access: rw, share: shareAll, disp: dispCreate,
		contexts: ctxChain("DH2Q", dh2qCtx(0, 9), "RqLs", leaseV2Ctx(0x11, 3))}
	cr := c1.createCtx(q, oplockLease)
	if cr.Status != StatusSuccess || cr.contexts["DH2Q"] == nil {
		t.Fatalf("durable create: %v %v", cr.Status, cr.contexts)
	}
	id := cr.ID
	epoch := binary.LittleEndian.Uint16(cr.contexts["RqLs"][48:])
	c1.write(id, 0, make([]byte, 100))
	if st := c1.lock(id, excl(0, 10)); st != StatusSuccess {
		t.Fatal(st)
	}
	e.drop(c1, id)

	// While disconnected, the open keeps its lock: the lock of another
	// open is refused, be it an open of the client's on the same lease
	// (another lease would break the disconnected one's, which closes it)
	// or an NFS client's.
	c2 := e.connect30("alice", alicePass, "")
	cr = c2.createCtx(createReq{name: "f", access: rw, share: shareAll, disp: dispOpen,
		contexts: ctxChain("RqLs", leaseV2Ctx(0x11, 3))}, oplockLease)
	if cr.Status != StatusSuccess {
		t.Fatal(cr.Status)
	}
	other := cr.ID
	if st := c2.lock(other, excl(5, 1)); st != StatusLockNotGranted {
		t.Fatalf("lock over the disconnected open's: %v", st)
	}
	nlm := lock.Request{File: lockKey(t, e, "f"), Owner: lock.NLMOwner("nfs-client", 1, []byte("oh")), Range: lock.Range{Offset: 9, Length: 1}, Mode: lock.Shared}
	if d := e.srv.locks().Lock(nlm); d.Status != lock.Denied {
		t.Fatalf("NLM lock over the disconnected open's: %v", d.Status)
	}

	c3 := e.connect30("alice", alicePass, "")
	rq := createReq{name: "f", contexts: ctxChain("DH2C", dh2cCtx(id, 9), "RqLs", leaseV2Ctx(0x11, 0))}
	cr = c3.createCtx(rq, oplockLease)
	if cr.Status != StatusSuccess || cr.ID != id || cr.Action != actionOpened || cr.Size != 100 {
		t.Fatalf("reconnect: %v id %v (want %v) action %d size %d", cr.Status, cr.ID, id, cr.Action, cr.Size)
	}
	l := cr.contexts["RqLs"]
	if len(l) != 52 || binary.LittleEndian.Uint32(l[16:]) != 3 || binary.LittleEndian.Uint16(l[48:]) != epoch {
		t.Fatalf("lease after reconnect %x, want RH, epoch %d", l, epoch)
	}
	if _, ok := cr.contexts["DH2Q"]; ok {
		t.Error("a reconnect answers no DH2Q")
	}
	if d := e.srv.DurableOpens(); len(d) != 1 || d[0].Disconnected || d[0].Persistent != id.Persistent {
		t.Fatalf("durable opens after reconnect: %+v", d)
	}
	// The lock is the reconnected open's: it unlocks it, and the other
	// open may lock now.
	if st := c3.lock(id, unlock(0, 10)); st != StatusSuccess {
		t.Fatalf("unlock after reconnect: %v", st)
	}
	if st := c2.lock(other, excl(5, 1)); st != StatusSuccess {
		t.Fatalf("lock after the unlock: %v", st)
	}
	// Reconnected, it is connected again: another reconnect finds nothing.
	if cr := c3.createCtx(rq, oplockLease); cr.Status != StatusObjectNameNotFound {
		t.Errorf("second reconnect: %v", cr.Status)
	}
	if st := c3.close(id); st != StatusSuccess {
		t.Fatal(st)
	}
	if d := e.srv.DurableOpens(); len(d) != 0 {
		t.Errorf("durable opens after CLOSE: %+v", d)
	}
}

func TestDurableReconnectOplock(t *testing.T) {
	e := newEnv(t, Options{})
	c1 := e.connect("export")
	cr := c1.createCtx(createReq{name: "f", access: rw, share: 0, disp: dispCreate, contexts: ctxChain("DHnQ", make([]byte, 16))}, oplockBatch)
	if cr.Status != StatusSuccess || cr.contexts["DHnQ"] == nil {
		t.Fatalf("durable create: %v %v", cr.Status, cr.contexts)
	}
	id := cr.ID
	if st := c1.lock(id, excl(0, 1)); st != StatusSuccess {
		t.Fatal(st)
	}
	// A LOGOFF ends the session, not the durable open.
	if r := c1.call(CmdLogoff, echoBody, nil); r.Status != StatusSuccess {
		t.Fatal(r.Status)
	}
	waitDisconnected(t, e.srv, id)
	c2 := e.connect("export")
	// With an on-disk id query beside it, as the Linux client sends.
	cr = c2.createCtx(createReq{name: "ignored", contexts: ctxChain("DHnC", dhncCtx(id), "QFid", []byte{})}, 0x78)
	if cr.Status != StatusSuccess || cr.ID != id {
		t.Fatalf("reconnect: %v %v", cr.Status, cr.ID)
	}
	if cr.contexts["DHnQ"] != nil || cr.contexts["DH2Q"] != nil {
		t.Errorf("reconnect contexts %v", cr.contexts)
	}
	if st := c2.lock(id, unlock(0, 1)); st != StatusSuccess {
		t.Errorf("unlock after reconnect: %v", st)
	}
	// A tree disconnect closes a durable open as any other.
	if r := c2.call(CmdTreeDisconnect, echoBody, nil); r.Status != StatusSuccess {
		t.Fatal(r.Status)
	}
	if d := e.srv.DurableOpens(); len(d) != 0 {
		t.Errorf("durable opens after TREE_DISCONNECT: %+v", d)
	}
}

func TestDurableReconnectRefused(t *testing.T) {
	e := newEnv(t, Options{})
	c1 := e.connect30("alice", alicePass, "")
	cr := c1.createCtx(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate,
		contexts: ctxChain("DH2Q", dh2qCtx(0, 7), "RqLs", leaseCtx(0x22, 7))}, oplockLease)
	if cr.Status != StatusSuccess || cr.contexts["DH2Q"] == nil {
		t.Fatalf("durable create: %v", cr.Status)
	}
	id := cr.ID
	// Connected, it cannot be taken.
	if cr := c1.createCtx(createReq{name: "f", contexts: ctxChain("DH2C", dh2cCtx(id, 7), "RqLs", leaseCtx(0x22, 0))}, 0); cr.Status != StatusObjectNameNotFound {
		t.Errorf("reconnect to a connected open: %v", cr.Status)
	}
	e.drop(c1, id)

	bob := connect30At(t, e.addr, "bob", bobPass, "")
	c := e.connect30("alice", alicePass, "")
	other := e.connect30("alice", alicePass, "client-guid-0002")
	unknown := id
	unknown.Persistent++
	for _, tc := range []struct {
		what string
		c    *raw
		ctxs []any
		name string
		want Status
	}{
		{"unknown FileId", c, []any{"DH2C", dh2cCtx(unknown, 7), "RqLs", leaseCtx(0x22, 0)}, "f", StatusObjectNameNotFound},
		{"another CreateGuid", c, []any{"DH2C", dh2cCtx(id, 8), "RqLs", leaseCtx(0x22, 0)}, "f", StatusObjectNameNotFound},
		{"no lease", c, []any{"DH2C", dh2cCtx(id, 7)}, "f", StatusObjectNameNotFound},
		{"another lease key", c, []any{"DH2C", dh2cCtx(id, 7), "RqLs", leaseCtx(0x23, 0)}, "f", StatusObjectNameNotFound},
		{"another client's lease", other, []any{"DH2C", dh2cCtx(id, 7), "RqLs", leaseCtx(0x22, 0)}, "f", StatusObjectNameNotFound},
		{"another name", c, []any{"DH2C", dh2cCtx(id, 7), "RqLs", leaseCtx(0x22, 0)}, "g", StatusInvalidParameter},
		{"another context", c, []any{"DH2C", dh2cCtx(id, 7), "RqLs", leaseCtx(0x22, 0), "MxAc", []byte{}}, "f", StatusObjectNameNotFound},
		{"with DH2Q", c, []any{"DH2C", dh2cCtx(id, 7), "DH2Q", dh2qCtx(0, 7)}, "f", StatusInvalidParameter},
		{"with DHnC", c, []any{"DH2C", dh2cCtx(id, 7), "DHnC", dhncCtx(id)}, "f", StatusInvalidParameter},
		{"another user", bob, []any{"DH2C", dh2cCtx(id, 7), "RqLs", leaseCtx(0x22, 0)}, "f", StatusAccessDenied},
	} {
		if cr := tc.c.createCtx(createReq{name: tc.name, contexts: ctxChain(tc.ctxs...)}, 0); cr.Status != tc.want {
			t.Errorf("%s: %v, want %v", tc.what, cr.Status, tc.want)
		}
	}
	// None of them took it: the right one does, with the name in any case.
	if cr := c.createCtx(createReq{name: "F", contexts: ctxChain("DH2C", dh2cCtx(id, 7), "RqLs", leaseCtx(0x22, 0))}, 0); cr.Status != StatusSuccess || cr.ID != id {
		t.Fatalf("reconnect: %v", cr.Status)
	}
}

func TestDurableExpires(t *testing.T) {
	granted := make(chan lock.Notice, 1)
	var srv atomic.Pointer[Server]
	e := newEnv(t, Options{DurableMaxTimeout: 300 * time.Millisecond, Notices: func(ns []lock.Notice) {
		for _, n := range ns {
			if n.Lock.Owner.Proto == lock.NLM && n.Status == lock.Granted {
				granted <- n
			}
		}
		srv.Load().Deliver(ns)
	}})
	srv.Store(e.srv)
	c1 := e.connect30("alice", alicePass, "")
	cr := c1.createCtx(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate,
		contexts: ctxChain("DH2Q", dh2qCtx(0, 1), "RqLs", leaseCtx(0x33, 3))}, oplockLease)
	if cr.Status != StatusSuccess || binary.LittleEndian.Uint32(cr.contexts["DH2Q"]) != 300 {
		t.Fatalf("durable create: %v %x", cr.Status, cr.contexts["DH2Q"])
	}
	id := cr.ID
	if st := c1.lock(id, excl(0, 10)); st != StatusSuccess {
		t.Fatal(st)
	}
	e.drop(c1, id)

	// Locks that wait behind the disconnected open's, an SMB one (of an
	// open of the same lease, which breaks nothing) and an NLM one, are
	// granted when the open expires and closes.
	c2 := e.connect30("alice", alicePass, "")
	cr = c2.createCtx(createReq{name: "f", access: rw, share: shareAll, disp: dispOpen,
		contexts: ctxChain("RqLs", leaseCtx(0x33, 3))}, oplockLease)
	if cr.Status != StatusSuccess {
		t.Fatal(cr.Status)
	}
	other := cr.ID
	if st := c2.lock(other, excl(0, 1)); st != StatusLockNotGranted {
		t.Fatalf("lock while disconnected: %v", st)
	}
	nlm := lock.Request{File: lockKey(t, e, "f"), Owner: lock.NLMOwner("nfs-client", 1, []byte("oh")), Range: lock.Range{Offset: 5, Length: 1}, Mode: lock.Exclusive, Wait: true}
	if d := e.srv.locks().Lock(nlm); d.Status != lock.Queued {
		t.Fatalf("NLM lock while disconnected: %v", d.Status)
	}
	start := time.Now()
	c2.send(c2.msg(CmdLock, lockBody(other, [3]uint64{0, 1, lockExclusive}), nil))
	if r := c2.recv()[0]; r.Status != StatusPending {
		t.Fatalf("waiting lock: %v, want an interim STATUS_PENDING", r.Status)
	}
	if r := c2.recv()[0]; r.Status != StatusSuccess || r.Command != CmdLock {
		t.Fatalf("waiting lock: %v", r.Status)
	}
	if time.Since(start) > 4*time.Second {
		t.Errorf("granted after %v", time.Since(start))
	}
	select {
	case n := <-granted:
		if n.Lock.Owner != nlm.Owner {
			t.Errorf("granted %+v", n)
		}
	case <-time.After(5 * time.Second):
		t.Error("the NLM lock was not granted")
	}
	if d := e.srv.DurableOpens(); len(d) != 0 {
		t.Errorf("durable opens after expiry: %+v", d)
	}
	c3 := e.connect30("alice", alicePass, "")
	if cr := c3.createCtx(createReq{name: "f", contexts: ctxChain("DH2C", dh2cCtx(id, 1), "RqLs", leaseCtx(0x33, 0))}, 0); cr.Status != StatusObjectNameNotFound {
		t.Errorf("reconnect after expiry: %v", cr.Status)
	}
}

func TestDurablePurgedByBreak(t *testing.T) {
	e := newEnv(t, Options{})
	c1 := e.connect("export")
	q := createReq{name: "f", access: rw, share: shareAll, disp: dispOpenIf, contexts: ctxChain("DHnQ", make([]byte, 16))}
	cr := c1.createCtx(q, oplockBatch)
	if cr.Status != StatusSuccess || cr.contexts["DHnQ"] == nil {
		t.Fatalf("durable create: %v", cr.Status)
	}
	id := cr.ID
	e.drop(c1, id)
	// The batch oplock would break: its holder cannot answer, so the
	// disconnected open goes at once and the new open gets batch itself.
	c2 := e.connect("export")
	r := c2.createOplock(q, oplockBatch)
	if r.Status != StatusSuccess || r.body[2] != oplockBatch {
		t.Fatalf("conflicting open: %v level %#x", r.Status, r.body[2])
	}
	if cr := c2.createCtx(createReq{name: "f", contexts: ctxChain("DHnC", dhncCtx(id))}, 0); cr.Status != StatusObjectNameNotFound {
		t.Errorf("reconnect after the purge: %v", cr.Status)
	}
}

func TestDurableReplay(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect30("alice", alicePass, "")
	q := createReq{name: "f", access: rw, share: shareAll, disp: dispCreate, contexts: ctxChain("DH2Q", dh2qCtx(0, 5))}
	body := q.body()
	body[3] = oplockBatch
	cr := decodeCreate(t, c.call(CmdCreate, body, nil))
	if cr.Status != StatusSuccess || cr.Action != actionCreated {
		t.Fatalf("create: %v", cr.Status)
	}
	if r := c.call(CmdCreate, body, nil); r.Status != StatusDuplicateObjectID {
		t.Errorf("the same CreateGuid again: %v", r.Status)
	}
	again := decodeCreate(t, c.call(CmdCreate, body, func(h *Header) { h.Flags |= FlagReplay }))
	if again.Status != StatusSuccess || again.ID != cr.ID || again.Action != actionCreated || again.contexts["DH2Q"] == nil {
		t.Fatalf("replay: %v id %v (want %v) action %d contexts %v", again.Status, again.ID, cr.ID, again.Action, again.contexts)
	}
	// A replay of a CREATE still waiting for a break is to be tried again
	// later; the CREATE itself goes on.
	holder := e.connect("export")
	b := holder.createCtx(createReq{name: "p", access: rw, share: shareAll, disp: dispCreate}, oplockBatch)
	if b.Status != StatusSuccess {
		t.Fatal(b.Status)
	}
	pq := createReq{name: "p", access: rw, share: shareAll, disp: dispOpen, contexts: ctxChain("DH2Q", dh2qCtx(0, 6))}
	pending := pq.body()
	if r := c.call(CmdCreate, pending, nil); r.Status != StatusPending {
		t.Fatalf("open that breaks a batch oplock: %v", r.Status)
	}
	holder.recvBreak()
	if r := c.call(CmdCreate, pending, func(h *Header) { h.Flags |= FlagReplay }); r.Status != StatusFileNotAvailable {
		t.Errorf("replay of a pending CREATE: %v", r.Status)
	}
	ack := make([]byte, 24)
	binary.LittleEndian.PutUint16(ack, 24)
	ack[2] = oplockLevelII
	copy(ack[8:], b.ID.Append(nil))
	if r := holder.call(CmdOplockBreak, ack, nil); r.Status != StatusSuccess {
		t.Fatal(r.Status)
	}
	done := decodeCreate(t, c.recv()[0])
	if done.Status != StatusSuccess {
		t.Fatalf("pending CREATE: %v", done.Status)
	}
	if r := decodeCreate(t, c.call(CmdCreate, pending, func(h *Header) { h.Flags |= FlagReplay })); r.Status != StatusSuccess || r.ID != done.ID {
		t.Errorf("replay after the CREATE: %v %v, want %v", r.Status, r.ID, done.ID)
	}

	c.close(cr.ID)
	// Closed, the CreateGuid is free again.
	if cr := decodeCreate(t, c.call(CmdCreate, body, func(h *Header) { h.Flags |= FlagReplay })); cr.Status != StatusObjectNameCollision {
		t.Errorf("replay after close: %v, want the CREATE carried out (a collision)", cr.Status)
	}
}
