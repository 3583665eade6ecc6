package lock

import (
	"sync"
	"testing"
	"time"
)

func expectNotices(t *testing.T, got []Notice, want string) {
	t.Helper()
	if s := fmtNotices(got); s != want {
		t.Fatalf("notices %q, want %q", s, want)
	}
}

func TestWaitGrantedOnUnlock(t *testing.T) {
	m, c := newTest(Limits{})
	mustLock(t, m, rq(oA, fA, 0, 10, Exclusive), Granted)
	d := mustLock(t, m, wq(oB, fA, 5, 10, Exclusive), Queued)
	if d.Waiter != 1 || fmtLock(d.Holder) != "A:X0+10" {
		t.Fatalf("queued as %d behind %q", d.Waiter, fmtLock(d.Holder))
	}
	checkInvariants(t, m)
	c.Advance(time.Minute)
	ns := mustUnlock(t, m, fA, oA, 0, 10)
	expectNotices(t, ns, "G1 B:X5+10")
	if !ns[0].Lock.Since.Equal(t0.Add(time.Minute)) || ns[0].Lock.File != fA {
		t.Fatalf("grant %+v", ns[0].Lock)
	}
	if got := dump(m, fA); got != "B:X5+10" {
		t.Fatalf("locks %q", got)
	}
	checkInvariants(t, m)
}

func TestWaitFIFO(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oA, fA, 0, 10, Exclusive), Granted)
	mustLock(t, m, wq(oB, fA, 0, 10, Exclusive), Queued) // 1
	mustLock(t, m, wq(oC, fA, 0, 10, Exclusive), Queued) // 2
	mustLock(t, m, wq(oX, fA, 0, 10, Shared), Queued)    // 3
	expectNotices(t, mustUnlock(t, m, fA, oA, 0, 10), "G1 B:X0+10")
	expectNotices(t, mustUnlock(t, m, fA, oB, 0, 10), "G2 C:X0+10")
	expectNotices(t, mustUnlock(t, m, fA, oC, 0, 10), "G3 X:S0+10")
	checkInvariants(t, m)
}

func TestWaitSharedGrantedTogether(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oA, fA, 0, 10, Exclusive), Granted)
	mustLock(t, m, wq(oB, fA, 0, 10, Shared), Queued)
	mustLock(t, m, wq(oX, fA, 5, 10, Shared), Queued)
	mustLock(t, m, wq(oC, fA, 0, 10, Exclusive), Queued)
	mustLock(t, m, wq(oY, fA, 0, 1, Shared), Queued) // behind C
	expectNotices(t, mustUnlock(t, m, fA, oA, 0, 0), "G1 B:S0+10, G2 X:S5+10")
	checkInvariants(t, m)
}

// A waiting request does not overtake an earlier waiter it conflicts with,
// so a writer waiting for readers is not starved by newer readers.
func TestWaitFairness(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oA, fA, 0, 10, Shared), Granted)
	mustLock(t, m, wq(oB, fA, 0, 10, Exclusive), Queued) // 1
	d := mustLock(t, m, wq(oC, fA, 5, 1, Shared), Queued)
	if d.Waiter != 2 || fmtLock(d.Holder) != "B:X0+10" {
		t.Fatalf("queued as %d behind %q, want 2 behind the waiter", d.Waiter, fmtLock(d.Holder))
	}
	// A request that does not conflict with the waiter is not held back.
	mustLock(t, m, wq(oC, fA, 10, 10, Shared), Granted)
	// A request that does not wait asks only about granted locks.
	mustLock(t, m, rq(oX, fA, 0, 5, Shared), Granted)
	checkInvariants(t, m)
	mustUnlock(t, m, fA, oA, 0, 10)
	expectNotices(t, mustUnlock(t, m, fA, oX, 0, 5), "G1 B:X0+10")
	expectNotices(t, mustUnlock(t, m, fA, oB, 0, 10), "G2 C:S5+1")
	if got := dump(m, fA); got != "C:S5+1 C:S10+10" {
		t.Fatalf("locks %q", got)
	}
	checkInvariants(t, m)
}

// An owner whose shared lock another waits to take exclusively may still
// upgrade or extend it: queuing behind that waiter would wait for itself.
func TestWaitOvertakesWaiterBlockedByRequester(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oA, fA, 0, 10, Shared), Granted)
	mustLock(t, m, wq(oB, fA, 0, 10, Exclusive), Queued)
	mustLock(t, m, wq(oA, fA, 0, 20, Exclusive), Granted)
	if got := dump(m, fA); got != "A:X0+20" {
		t.Fatalf("locks %q", got)
	}
	checkInvariants(t, m)
	expectNotices(t, mustUnlock(t, m, fA, oA, 0, 0), "G1 B:X0+10")
}

// The same, when the waiter waits for the requester through a third owner.
func TestWaitOvertakesWaiterBlockedTransitively(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oA, fB, 0, 10, Exclusive), Granted)
	mustLock(t, m, rq(oC, fA, 0, 10, Exclusive), Granted)
	mustLock(t, m, wq(oC, fB, 0, 10, Exclusive), Queued) // 1: C waits for A
	mustLock(t, m, wq(oB, fA, 0, 20, Exclusive), Queued) // 2: B waits for C
	// A's request conflicts with no granted lock, only with B's, and B
	// waits for A through C: A goes first.
	mustLock(t, m, wq(oA, fA, 15, 5, Shared), Granted)
	checkInvariants(t, m)
	expectNotices(t, mustUnlock(t, m, fB, oA, 0, 10), "G1 C:X0+10")
	mustUnlock(t, m, fA, oC, 0, 10)
	expectNotices(t, mustUnlock(t, m, fA, oA, 15, 5), "G2 B:X0+20")
	checkInvariants(t, m)
}

func TestWaitRetransmitGetsSameWaiter(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oA, fA, 0, 10, Exclusive), Granted)
	d1 := mustLock(t, m, wq(oB, fA, 0, 10, Exclusive), Queued)
	d2 := mustLock(t, m, wq(oB, fA, 0, 10, Exclusive), Queued)
	if d1.Waiter != d2.Waiter || len(m.Snapshot()) != 2 || fmtLock(d2.Holder) != "A:X0+10" {
		t.Fatalf("retransmit queued %d then %d (holder %q)", d1.Waiter, d2.Waiter, fmtLock(d2.Holder))
	}
	// An SMB open's second request is a second waiter.
	mustLock(t, m, rq(oX, fB, 0, 10, Exclusive), Granted)
	d3 := mustLock(t, m, wq(oY, fB, 0, 10, Exclusive), Queued)
	d4 := mustLock(t, m, wq(oY, fB, 0, 10, Exclusive), Queued)
	if d3.Waiter == d4.Waiter {
		t.Fatal("SMB waiters merged")
	}
	if id, ok := m.FindWaiter(wq(oB, fA, 0, 10, Exclusive)); !ok || id != d1.Waiter {
		t.Fatalf("FindWaiter = %d %v", id, ok)
	}
	if _, ok := m.FindWaiter(wq(oB, fA, 0, 10, Shared)); ok {
		t.Fatal("FindWaiter matched another mode")
	}
	checkInvariants(t, m)
}

func TestCancel(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oA, fA, 0, 10, Shared), Granted)
	b := mustLock(t, m, wq(oB, fA, 0, 10, Exclusive), Queued)
	mustLock(t, m, wq(oC, fA, 0, 10, Shared), Queued) // behind B
	ns, ok := m.Cancel(b.Waiter)
	if !ok {
		t.Fatal("Cancel failed")
	}
	expectNotices(t, ns, "G2 C:S0+10")
	if _, ok := m.Cancel(b.Waiter); ok {
		t.Fatal("second Cancel succeeded")
	}
	if _, ok := m.Cancel(99); ok {
		t.Fatal("Cancel of an unknown waiter succeeded")
	}
	if got := dump(m, fA); got != "A:S0+10 C:S0+10" {
		t.Fatalf("locks %q", got)
	}
	checkInvariants(t, m)
}

func TestCancelLastWaiterForgetsOwner(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oA, fA, 0, 10, Shared), Granted)
	d := mustLock(t, m, wq(oX, fA, 0, 10, Exclusive), Queued)
	if ns, ok := m.Cancel(d.Waiter); !ok || ns != nil {
		t.Fatalf("Cancel = %v %v", ns, ok)
	}
	if _, ok := m.owners[oX]; ok {
		t.Fatal("owner with nothing kept")
	}
	checkInvariants(t, m)
}

func TestDeadlines(t *testing.T) {
	m, c := newTest(Limits{})
	if _, ok := m.NextDeadline(); ok {
		t.Fatal("deadline with no waiters")
	}
	mustLock(t, m, rq(oA, fA, 0, 10, Shared), Granted)
	r := wq(oX, fA, 0, 10, Exclusive)
	r.Deadline = t0.Add(5 * time.Second)
	mustLock(t, m, r, Queued) // 1
	r = wq(oY, fA, 0, 1, Shared)
	mustLock(t, m, r, Queued) // 2, behind X, no deadline
	r = wq(oX2, fB, 0, 1, Shared)
	r.Deadline = t0.Add(9 * time.Second)
	mustLock(t, m, rq(oB, fB, 0, 1, Exclusive), Granted)
	mustLock(t, m, r, Queued) // 3
	if d, ok := m.NextDeadline(); !ok || !d.Equal(t0.Add(5*time.Second)) {
		t.Fatalf("NextDeadline = %v %v", d, ok)
	}
	c.Advance(4 * time.Second)
	if ns := m.Expire(); ns != nil {
		t.Fatalf("early Expire: %s", fmtNotices(ns))
	}
	c.Advance(time.Second)
	expectNotices(t, m.Expire(), "D1 X:X0+10, G2 Y:S0+1")
	if d, ok := m.NextDeadline(); !ok || !d.Equal(t0.Add(9*time.Second)) {
		t.Fatalf("NextDeadline = %v %v", d, ok)
	}
	c.Advance(time.Hour)
	expectNotices(t, m.Expire(), "D3 X2:S0+1")
	if _, ok := m.NextDeadline(); ok {
		t.Fatal("deadline left")
	}
	checkInvariants(t, m)

	// A deadline already passed is a plain denial.
	r = wq(oX, fA, 0, 10, Exclusive)
	r.Deadline = c.Now()
	if d := mustLock(t, m, r, Denied); fmtLock(d.Holder) != "A:S0+10" {
		t.Fatalf("holder %q", fmtLock(d.Holder))
	}
	checkInvariants(t, m)
}

func TestDowngradeGrantsWaiters(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oA, fA, 0, 100, Exclusive), Granted)
	mustLock(t, m, wq(oB, fA, 10, 10, Shared), Queued)
	mustLock(t, m, wq(oX, fA, 50, 10, Shared), Queued)
	d := mustLock(t, m, rq(oA, fA, 0, 30, Shared), Granted)
	expectNotices(t, d.Notices, "G1 B:S10+10")
	if got := dump(m, fA); got != "A:S0+30 B:S10+10 A:X30+70" {
		t.Fatalf("locks %q", got)
	}
	checkInvariants(t, m)
}

// A grant can free a range for an earlier waiter: granting A's shared
// request downgrades A's exclusive lock, which B waited for.
func TestWakeRepeatsUntilStable(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oA, fA, 50, 10, Exclusive), Granted)
	mustLock(t, m, rq(oC, fA, 0, 10, Exclusive), Granted)
	mustLock(t, m, wq(oB, fA, 50, 1, Shared), Queued)  // 1: blocked by A
	mustLock(t, m, wq(oA, fA, 0, 100, Shared), Queued) // 2: blocked by C
	expectNotices(t, mustUnlock(t, m, fA, oC, 0, 10), "G2 A:S0+100, G1 B:S50+1")
	checkInvariants(t, m)
}

// An SMB open may wait behind its own exclusive lock: the client can still
// unlock it, so it is no deadlock.
func TestSMBWaitsForItself(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oX, fA, 0, 10, Exclusive), Granted)
	d := mustLock(t, m, wq(oX, fA, 0, 10, Exclusive), Queued)
	if fmtLock(d.Holder) != "X:X0+10" {
		t.Fatalf("holder %q", fmtLock(d.Holder))
	}
	checkInvariants(t, m)
	expectNotices(t, mustUnlock(t, m, fA, oX, 0, 10), "G1 X:X0+10")
	checkInvariants(t, m)
}

func TestCrossProtocolWait(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oX, fA, 0, 10, Exclusive), Granted)
	mustLock(t, m, wq(oA, fA, 0, 0, Shared), Queued) // NLM blocks on SMB
	mustLock(t, m, rq(oA, fB, 0, 0, Exclusive), Granted)
	mustLock(t, m, wq(oY, fB, 100, 10, Shared), Queued) // SMB waits on NLM
	expectNotices(t, mustUnlock(t, m, fA, oX, 0, 10), "G1 A:S0+0")
	expectNotices(t, mustUnlock(t, m, fB, oA, 0, 0), "G2 Y:S100+10")
	checkInvariants(t, m)
}

// The Manager is called from many protocol goroutines at once.
func TestConcurrentUse(t *testing.T) {
	m, _ := newTest(Limits{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := NLMOwner("host", uint32(g), nil)
			for i := range 200 {
				off := uint64(i % 7)
				d := m.Lock(wq(o, fA, off, 3, Exclusive))
				switch d.Status {
				case Granted:
					m.Unlock(fA, o, Range{Offset: off, Length: 3})
				case Queued:
					m.Cancel(d.Waiter)
				}
				m.CheckIO(fA, Owner{}, off, 1, true)
				m.Snapshot()
			}
			m.ReleaseOwner(o)
		}()
	}
	wg.Wait()
	checkInvariants(t, m)
	if len(m.Snapshot()) != 0 {
		t.Fatalf("left %v", m.Snapshot())
	}
}
