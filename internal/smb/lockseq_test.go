package smb

import (
	"encoding/binary"
	"testing"
)

// lockSeqCall sends a LOCK numbered with LockSequence seq.
func (c *raw) lockSeqCall(seq uint32, id FileID, elems ...[3]uint64) Status {
	b := lockBody(id, elems...)
	binary.LittleEndian.PutUint32(b[4:], seq)
	return c.call(CmdLock, b, nil).Status
}

func TestLockReplay(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.raw()
	c.negotiate30()
	logon30(t, c, "alice", alicePass)
	r := c.call(CmdTreeConnect, treeConnectBody(`\\h\export`), nil)
	if r.Status != StatusSuccess {
		t.Fatalf("TREE_CONNECT: %v", r.Status)
	}
	c.tree = r.TreeID
	a := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate})
	const idx1, idx2 = 1 << 4, 2 << 4
	for _, tc := range []struct {
		what string
		seq  uint32
		el   [3]uint64
		want Status
	}{
		{"lock at index 1", idx1 | 1, excl(0, 10), StatusSuccess},
		{"its replay", idx1 | 1, excl(0, 10), StatusSuccess},
		{"index 0 is not checked", 1, excl(0, 10), StatusLockNotGranted},
		{"another number at index 1", idx1 | 2, excl(0, 10), StatusLockNotGranted},
		{"the first number again, voided", idx1 | 1, excl(0, 10), StatusLockNotGranted},
		{"unlock at index 2", idx2 | 5, unlock(0, 10), StatusSuccess},
		{"its replay", idx2 | 5, unlock(0, 10), StatusSuccess},
		{"index 65 is not checked", 65<<4 | 5, unlock(0, 10), StatusRangeNotLocked},
	} {
		if st := c.lockSeqCall(tc.seq, a, tc.el); st != tc.want {
			t.Errorf("%s: %v, want %v", tc.what, st, tc.want)
		}
	}
	// 2.1 connections have one channel: no replay is recognised.
	d := e.connect("export")
	b := d.mustCreate(createReq{name: "g", access: rw, share: shareAll, disp: dispCreate})
	if st := d.lockSeqCall(idx1|1, b, excl(0, 10)); st != StatusSuccess {
		t.Fatal(st)
	}
	if st := d.lockSeqCall(idx1|1, b, excl(0, 10)); st != StatusLockNotGranted {
		t.Fatalf("a repeated lock on 2.1: %v", st)
	}
}
