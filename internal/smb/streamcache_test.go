package smb

import (
	"encoding/binary"
	"testing"
)

// A named stream has caching of its own, as on Windows, where oplocks and
// leases belong to a stream: a lease or oplock on a stream is granted
// beside one on its file, and opens of the stream break the stream's.
func TestStreamLeasesAndOplocks(t *testing.T) {
	e := newEnv(t, Options{})
	a, b := e.connect("export"), e.connect("export")
	rw := uint32(fileGenericRead | fileGenericWrite)
	leased := func(c *raw, name string, key byte, want uint32) {
		t.Helper()
		q := createReq{name: name, access: rw, share: 7, disp: dispOpenIf, contexts: ctxChain(ctxLeaseRequest, leaseCtx(key, 7))}
		r := c.createOplock(q, oplockLease)
		cr := decodeCreate(t, r)
		l := cr.contexts[ctxLeaseRequest]
		if cr.Status != StatusSuccess || r.body[2] != oplockLease || len(l) < 32 || l[0] != key || binary.LittleEndian.Uint32(l[16:]) != want {
			t.Fatalf("%s with lease %#x: %v, level %#x, lease %x; want state %#x", name, key, cr.Status, r.body[2], l, want)
		}
	}
	leased(a, "f", 1, 7)
	leased(a, "f:s", 2, 7)
	// A lease key names a lease on one stream of one file.
	q := createReq{name: "f:s", access: rw, share: 7, disp: dispOpen, contexts: ctxChain(ctxLeaseRequest, leaseCtx(1, 7))}
	if r := a.createOplock(q, oplockLease); r.Status != StatusInvalidParameter {
		t.Errorf("the file's lease key on its stream: %v, want STATUS_INVALID_PARAMETER", r.Status)
	}

	// A batch oplock on the file and one on its stream; another client's
	// open of the stream breaks the stream's oplock, not the file's.
	q = createReq{name: "g", access: rw, share: 7, disp: dispOpenIf}
	if r := a.createOplock(q, oplockBatch); r.body[2] != oplockBatch {
		t.Fatalf("file: oplock %#x", r.body[2])
	}
	q.name = "g:s"
	r := a.createOplock(q, oplockBatch)
	sid := decodeCreate(t, r).ID
	if r.Status != StatusSuccess || r.body[2] != oplockBatch {
		t.Fatalf("stream: %v, oplock %#x, want batch", r.Status, r.body[2])
	}
	q.disp = dispOpen
	if r := b.createOplock(q, oplockBatch); r.Status != StatusPending {
		t.Fatalf("second open of the stream: %v, want pending", r.Status)
	}
	n := a.recvBreak()
	if n.body[2] != oplockLevelII || DecodeFileID(n.body[8:]) != sid {
		t.Fatalf("break %x, want the stream's open to level II", n.body)
	}
	ack := make([]byte, 24)
	binary.LittleEndian.PutUint16(ack, 24)
	ack[2] = oplockLevelII
	copy(ack[8:], sid.Append(nil))
	if r := a.call(CmdOplockBreak, ack, nil); r.Status != StatusSuccess {
		t.Fatalf("ack: %v", r.Status)
	}
	if rs := b.recv(); rs[0].Status != StatusSuccess || rs[0].body[2] != oplockLevelII {
		t.Fatalf("second open of the stream: %v level %#x, want level II", rs[0].Status, rs[0].body[2])
	}
}
