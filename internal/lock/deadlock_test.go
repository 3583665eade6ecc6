package lock

import "testing"

func TestDeadlockTwoOwnersOneFile(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oA, fA, 0, 10, Exclusive), Granted)
	mustLock(t, m, rq(oB, fA, 20, 10, Exclusive), Granted)
	mustLock(t, m, wq(oA, fA, 20, 10, Exclusive), Queued)
	d := mustLock(t, m, wq(oB, fA, 0, 10, Shared), Deadlock)
	if fmtLock(d.Holder) != "A:X0+10" {
		t.Fatalf("holder %q", fmtLock(d.Holder))
	}
	// The refused request left nothing behind; B can still try without
	// waiting, and is told who holds it.
	if n := len(m.Snapshot()); n != 3 {
		t.Fatalf("%d entries, want 3", n)
	}
	mustLock(t, m, rq(oB, fA, 0, 10, Shared), Denied)
	checkInvariants(t, m)
	expectNotices(t, mustUnlock(t, m, fA, oB, 20, 10), "G1 A:X20+10")
}

// Two owners sharing a range both ask to upgrade: the second would wait for
// the first, which waits for it.
func TestDeadlockUpgrade(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oA, fA, 0, 10, Shared), Granted)
	mustLock(t, m, rq(oB, fA, 0, 10, Shared), Granted)
	mustLock(t, m, wq(oA, fA, 0, 10, Exclusive), Queued)
	d := mustLock(t, m, wq(oB, fA, 0, 10, Exclusive), Deadlock)
	if fmtLock(d.Holder) != "A:S0+10" {
		t.Fatalf("holder %q", fmtLock(d.Holder))
	}
	checkInvariants(t, m)
	// B gives up its shared lock instead: A's upgrade goes through.
	expectNotices(t, mustUnlock(t, m, fA, oB, 0, 10), "G1 A:X0+10")
}

func TestDeadlockThreeOwnersAcrossFiles(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oA, fA, 0, 10, Exclusive), Granted)
	mustLock(t, m, rq(oB, fB, 0, 10, Exclusive), Granted)
	mustLock(t, m, rq(oX, fC, 0, 10, Exclusive), Granted)
	mustLock(t, m, wq(oA, fB, 0, 10, Exclusive), Queued) // A -> B
	mustLock(t, m, wq(oB, fC, 5, 1, Shared), Queued)     // B -> X (SMB)
	d := mustLock(t, m, wq(oX, fA, 9, 1, Shared), Deadlock)
	if fmtLock(d.Holder) != "A:X0+10" {
		t.Fatalf("holder %q", fmtLock(d.Holder))
	}
	checkInvariants(t, m)
	// X waiting for something else is fine.
	mustLock(t, m, rq(oC, fA, 100, 10, Exclusive), Granted)
	mustLock(t, m, wq(oX, fA, 100, 1, Shared), Queued)
	checkInvariants(t, m)
}

// Waiting behind a queue is no deadlock; a chain is not a cycle.
func TestNoFalseDeadlock(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oA, fA, 0, 10, Exclusive), Granted)
	mustLock(t, m, wq(oB, fA, 0, 10, Exclusive), Queued)
	mustLock(t, m, wq(oC, fA, 0, 10, Exclusive), Queued)
	mustLock(t, m, rq(oC, fB, 0, 10, Exclusive), Granted)
	mustLock(t, m, wq(oX, fB, 0, 10, Exclusive), Queued) // X -> C -> B -> A
	mustLock(t, m, rq(oA, fC, 0, 10, Exclusive), Granted)
	mustLock(t, m, wq(oY, fC, 0, 10, Exclusive), Queued) // Y -> A
	checkInvariants(t, m)
	// But A waiting for X closes A -> X -> C -> B -> A.
	mustLock(t, m, rq(oX, FileKey{Share: 3, ID: 1}, 0, 1, Exclusive), Granted)
	mustLock(t, m, wq(oA, FileKey{Share: 3, ID: 1}, 0, 1, Shared), Deadlock)
	checkInvariants(t, m)
}

// A grant that does not wait can still close a cycle: A holds a waiter on
// fB behind B, and takes, without waiting, a range B waits for on fA. The
// two now wait for each other, so B's waiter is dropped as deadlocked.
func TestDeadlockClosedByGrant(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oB, fB, 0, 10, Exclusive), Granted)
	mustLock(t, m, wq(oA, fB, 0, 10, Exclusive), Queued) // 1: A -> B
	mustLock(t, m, rq(oC, fA, 0, 10, Exclusive), Granted)
	mustLock(t, m, wq(oB, fA, 0, 20, Exclusive), Queued) // 2: B -> C
	d := mustLock(t, m, rq(oA, fA, 15, 1, Exclusive), Granted)
	expectNotices(t, d.Notices, "K2 B:X0+20")
	checkInvariants(t, m)
}
