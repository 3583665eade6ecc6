package smb

import (
	"encoding/binary"
	"testing"
)

// A CREATE in a compound that must wait for the break of another open's
// batch oplock goes asynchronous; the related QUERY_INFO after it waits
// too, and once the break is acknowledged (on the same connection) both
// succeed, the QUERY_INFO on the file the CREATE opened. The final
// CREATE response and the QUERY_INFO response come in one frame.
func TestCompoundCreateWaitsForBreak(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.connect("export")
	q := createReq{name: "batch.txt", access: fileGenericRead | fileGenericWrite, share: 7, disp: dispOpenIf}
	r := a.createOplock(q, oplockBatch)
	id := decodeCreate(t, r).ID
	if r.body[2] != oplockBatch {
		t.Fatalf("oplock %#x, want batch", r.body[2])
	}
	q2 := createReq{name: "batch.txt", access: synchronize | fileReadAttributes | fileReadEA, share: 7, disp: dispOpen}
	a.send(compound(
		a.msg(CmdCreate, q2.body(), nil),
		a.msg(CmdQueryInfo, queryInfoBody(relatedFileID, infoFile, classFileBasic, 40, 0), related),
	))
	// The interim response and the break notification, in either order.
	var interim *resp
	var brk bool
	for interim == nil || !brk {
		rs := a.recv()
		if len(rs) != 1 {
			t.Fatalf("%d messages before the acknowledgment, want 1", len(rs))
		}
		switch r := rs[0]; {
		case r.Command == CmdOplockBreak && r.MessageID == ^uint64(0):
			if r.body[2] != oplockLevelII || DecodeFileID(r.body[8:]) != id {
				t.Fatalf("oplock break %x", r.body)
			}
			brk = true
		case r.Command == CmdCreate:
			if r.Status != StatusPending || r.Flags&FlagAsync == 0 {
				t.Fatalf("CREATE: %v flags %#x, want an interim response", r.Status, r.Flags)
			}
			interim = &r
		default:
			t.Fatalf("unexpected %v %v", r.Command, r.Status)
		}
	}
	ack := make([]byte, 24)
	binary.LittleEndian.PutUint16(ack, 24)
	ack[2] = oplockLevelII
	copy(ack[8:], id.Append(nil))
	a.send(a.msg(CmdOplockBreak, ack, nil))
	var final []resp
	var acked bool
	for final == nil || !acked {
		rs := a.recv()
		switch rs[0].Command {
		case CmdOplockBreak:
			if rs[0].Status != StatusSuccess || len(rs) != 1 {
				t.Fatalf("ack: %v", rs[0].Status)
			}
			acked = true
		case CmdCreate:
			final = rs
		default:
			t.Fatalf("unexpected %v %v", rs[0].Command, rs[0].Status)
		}
	}
	if len(final) != 2 || final[1].Command != CmdQueryInfo {
		t.Fatalf("%d responses after the CREATE's interim, want CREATE and QUERY_INFO in one frame", len(final))
	}
	cr := final[0]
	if cr.Status != StatusSuccess || cr.Flags&FlagAsync == 0 || cr.AsyncID != interim.AsyncID {
		t.Fatalf("CREATE: %v flags %#x async id %d, want success with async id %d", cr.Status, cr.Flags, cr.AsyncID, interim.AsyncID)
	}
	if cr.body[2] != oplockNone {
		t.Errorf("CREATE oplock %#x, want none", cr.body[2])
	}
	opened := decodeCreate(t, cr).ID
	qi := final[1]
	if qi.Status != StatusSuccess || qi.Flags&FlagRelated == 0 || len(qi.body) < 8+40 {
		t.Fatalf("QUERY_INFO: %v flags %#x body %x", qi.Status, qi.Flags, qi.body)
	}
	if st := a.close(opened); st != StatusSuccess {
		t.Errorf("closing the waited open: %v", st)
	}
	if st := a.close(id); st != StatusSuccess {
		t.Errorf("closing the oplocked open: %v", st)
	}
}
