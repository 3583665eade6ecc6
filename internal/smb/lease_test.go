package smb

import (
	"encoding/binary"
	"testing"
	"time"
)

// leaseCtx is the data of a v1 lease request (RqLs).
func leaseCtx(key byte, state uint32) []byte {
	b := make([]byte, 32)
	b[0] = key
	binary.LittleEndian.PutUint32(b[16:], state)
	return b
}

// createOplock sends a CREATE with an oplock level (and contexts) and
// returns its response, unless it went async: then the interim one.
func (c *raw) createOplock(q createReq, level byte) resp {
	c.t.Helper()
	b := q.body()
	b[3] = level
	return c.call(CmdCreate, b, nil)
}

// recvBreak reads an unsolicited break notification.
func (c *raw) recvBreak() resp {
	c.t.Helper()
	rs := c.recv()
	if len(rs) != 1 {
		c.t.Fatalf("%d messages in a break", len(rs))
	}
	r := rs[0]
	if r.Command != CmdOplockBreak || r.MessageID != ^uint64(0) || r.SessionID != 0 || r.Flags&FlagResponse == 0 {
		c.t.Fatalf("not a break notification: %+v", r.Header)
	}
	return r
}

func TestLeaseGrantBreakAck(t *testing.T) {
	e := newEnv(t, Options{})
	a, b := e.connect("export"), e.connect("export")
	q := createReq{name: "leased.txt", access: fileGenericRead | fileGenericWrite, share: 7, disp: dispOpenIf,
		contexts: ctxChain(ctxLeaseRequest, leaseCtx(0xaa, 7))}
	r := a.createOplock(q, oplockLease)
	cr := decodeCreate(t, r)
	if cr.Status != StatusSuccess || r.body[2] != oplockLease {
		t.Fatalf("create: %v, oplock level %#x", cr.Status, r.body[2])
	}
	l := cr.contexts[ctxLeaseRequest]
	if len(l) != 32 || l[0] != 0xaa || binary.LittleEndian.Uint32(l[16:]) != 7 || binary.LittleEndian.Uint32(l[20:]) != 0 {
		t.Fatalf("lease response %x, want key aa.. state RWH", l)
	}

	// Another client opens the file: the lease breaks to RH and the open
	// waits for the acknowledgment.
	r = b.createOplock(openReq("leased.txt"), oplockNone)
	if r.Status != StatusPending || r.Flags&FlagAsync == 0 {
		t.Fatalf("conflicting open: %v, want an interim STATUS_PENDING", r.Status)
	}
	n := a.recvBreak()
	if len(n.body) != 44 || binary.LittleEndian.Uint16(n.body) != 44 || n.body[8] != 0xaa ||
		binary.LittleEndian.Uint32(n.body[4:]) != breakFlagAckRequired ||
		binary.LittleEndian.Uint32(n.body[24:]) != 7 || binary.LittleEndian.Uint32(n.body[28:]) != 3 {
		t.Fatalf("lease break %x", n.body)
	}

	ack := make([]byte, 36)
	binary.LittleEndian.PutUint16(ack, 36)
	ack[8] = 0xaa
	binary.LittleEndian.PutUint32(ack[24:], 7) // more than the break left
	if r := a.call(CmdOplockBreak, ack, nil); r.Status != StatusRequestNotAccepted {
		t.Fatalf("ack RWH: %v", r.Status)
	}
	binary.LittleEndian.PutUint32(ack[24:], 3)
	r = a.call(CmdOplockBreak, ack, nil)
	if r.Status != StatusSuccess || len(r.body) != 36 || binary.LittleEndian.Uint32(r.body[24:]) != 3 || r.body[8] != 0xaa {
		t.Fatalf("ack RH: %v %x", r.Status, r.body)
	}
	if r := a.call(CmdOplockBreak, ack, nil); r.Status != StatusUnsuccessful {
		t.Fatalf("second ack: %v, want STATUS_UNSUCCESSFUL", r.Status)
	}
	rs := b.recv()
	if len(rs) != 1 || rs[0].Status != StatusSuccess || rs[0].Command != CmdCreate || rs[0].body[2] != oplockNone {
		t.Fatalf("final create response: %+v", rs[0].Header)
	}
}

func TestOplockBreakAck(t *testing.T) {
	e := newEnv(t, Options{})
	a, b := e.connect("export"), e.connect("export")
	q := createReq{name: "batch.txt", access: fileGenericRead | fileGenericWrite, share: 7, disp: dispOpenIf}
	r := a.createOplock(q, oplockBatch)
	id := decodeCreate(t, r).ID
	if r.body[2] != oplockBatch {
		t.Fatalf("oplock %#x, want batch", r.body[2])
	}
	q.disp = dispOpen
	if r := b.createOplock(q, oplockBatch); r.Status != StatusPending {
		t.Fatalf("second open: %v, want pending", r.Status)
	}
	n := a.recvBreak()
	if len(n.body) != 24 || n.body[2] != oplockLevelII || DecodeFileID(n.body[8:]) != id {
		t.Fatalf("oplock break %x", n.body)
	}
	ack := make([]byte, 24)
	binary.LittleEndian.PutUint16(ack, 24)
	ack[2] = oplockLevelII
	copy(ack[8:], id.Append(nil))
	r = a.call(CmdOplockBreak, ack, nil)
	if r.Status != StatusSuccess || r.body[2] != oplockLevelII {
		t.Fatalf("ack: %v %x", r.Status, r.body)
	}
	rs := b.recv()
	if rs[0].Status != StatusSuccess || rs[0].body[2] != oplockLevelII {
		t.Fatalf("second open: %v level %#x, want level II", rs[0].Status, rs[0].body[2])
	}
	// A write breaks every level II oplock to none, the writer's own too,
	// without an acknowledgment.
	b.send(b.msg(CmdWrite, writeBody(decodeCreate(t, rs[0]).ID, 0, []byte("x"), 0), nil))
	var wrote, broke bool
	for range 2 {
		r := b.recv()[0]
		switch r.Command {
		case CmdWrite:
			wrote = r.Status == StatusSuccess
		case CmdOplockBreak:
			broke = r.MessageID == ^uint64(0) && r.body[2] == oplockNone
		}
	}
	if !wrote || !broke {
		t.Fatalf("write %v, self break %v", wrote, broke)
	}
	if n := a.recvBreak(); n.body[2] != oplockNone {
		t.Fatalf("break to %#x, want none", n.body[2])
	}
}

func TestOplockBreakTimeout(t *testing.T) {
	e := newEnv(t, Options{BreakTimeout: 200 * time.Millisecond})
	a, b := e.connect("export"), e.connect("export")
	q := createReq{name: "slow.txt", access: fileGenericRead | fileGenericWrite, share: 7, disp: dispOpenIf}
	a.createOplock(q, oplockExclusive)
	start := time.Now()
	if r := b.createOplock(openReq("slow.txt"), oplockNone); r.Status != StatusPending {
		t.Fatalf("second open: %v", r.Status)
	}
	a.recvBreak() // and never acknowledged
	rs := b.recv()
	if rs[0].Status != StatusSuccess {
		t.Fatalf("open after the timeout: %v", rs[0].Status)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("open finished after %v, before the break timed out", d)
	}
}
