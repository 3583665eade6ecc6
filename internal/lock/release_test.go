package lock

import "testing"

func TestReleaseHost(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oA, fA, 0, 10, Exclusive), Granted)
	mustLock(t, m, rq(oA2, fB, 0, 0, Shared), Granted)
	mustLock(t, m, rq(oC, fC, 0, 10, Exclusive), Granted)
	mustLock(t, m, wq(oB, fA, 0, 1, Exclusive), Queued)  // 1 behind A
	mustLock(t, m, wq(oX, fB, 50, 1, Exclusive), Queued) // 2 behind A2
	mustLock(t, m, wq(oA, fC, 0, 1, Shared), Queued)     // 3: hostA waits for C
	if _, st := m.AddShare(fA, oA2, AccessRead, ShareRead); st != Granted {
		t.Fatalf("AddShare = %v", st)
	}
	ns := m.ReleaseHost(NLM, "hostA")
	expectNotices(t, ns, "C3 A:S0+1, G1 B:X0+1, G2 X:X50+1")
	for _, e := range m.Snapshot() {
		if e.Owner.Host == "hostA" {
			t.Fatalf("hostA still holds %+v", e)
		}
	}
	if got := dump(m, fA) + "|" + dump(m, fB) + "|" + dump(m, fC); got != "B:X0+1|X:X50+1|C:X0+10" {
		t.Fatalf("locks %q", got)
	}
	if _, ok := m.hosts[client{NLM, "hostA"}]; ok {
		t.Fatal("host kept")
	}
	checkInvariants(t, m)
	if ns := m.ReleaseHost(NLM, "hostA"); ns != nil {
		t.Fatalf("second release: %s", fmtNotices(ns))
	}
	// The protocol is part of the host's name.
	if ns := m.ReleaseHost(SMB, "hostB"); ns != nil || dump(m, fA) != "B:X0+1" {
		t.Fatal("SMB release touched an NLM host")
	}
}

func TestReleaseOwner(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oX, fA, 0, 10, Shared), Granted)
	mustLock(t, m, rq(oX, fA, 0, 10, Shared), Granted)
	mustLock(t, m, rq(oX2, fA, 20, 10, Exclusive), Granted) // same client, other open
	mustLock(t, m, wq(oY, fA, 5, 1, Exclusive), Queued)     // 1
	mustLock(t, m, wq(oX, fA, 20, 1, Shared), Queued)       // 2: X waits for X2
	m.AddShare(fA, oX, AccessRead|AccessWrite, ShareRead|ShareWrite)
	expectNotices(t, m.ReleaseOwner(oX), "C2 X:S20+1, G1 Y:X5+1")
	if got := dump(m, fA); got != "Y:X5+1 X2:X20+10" {
		t.Fatalf("locks %q", got)
	}
	if _, denied := m.ShareDenies(fA, AccessDelete); denied {
		t.Fatal("reservation kept")
	}
	if ns := m.ReleaseOwner(oX); ns != nil {
		t.Fatal("second release did something")
	}
	checkInvariants(t, m)
}

func TestReleaseFile(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oA, fA, 0, 10, Exclusive), Granted)
	mustLock(t, m, rq(oA, fB, 0, 10, Exclusive), Granted)
	mustLock(t, m, wq(oB, fA, 0, 10, Exclusive), Queued)
	m.AddShare(fA, oX, AccessRead, ShareRead)
	expectNotices(t, m.ReleaseFile(fA), "C1 B:X0+10")
	if _, ok := m.files[fA]; ok {
		t.Fatal("file kept")
	}
	if got := dump(m, fB); got != "A:X0+10" {
		t.Fatalf("other file: %q", got)
	}
	if _, ok := m.owners[oB]; ok {
		t.Fatal("owner with nothing kept")
	}
	if m.ReleaseFile(fA) != nil {
		t.Fatal("second release did something")
	}
	checkInvariants(t, m)
}

func TestLimits(t *testing.T) {
	t.Run("per client", func(t *testing.T) {
		m, _ := newTest(Limits{PerClient: 2})
		mustLock(t, m, rq(oA, fA, 0, 100, Exclusive), Granted)
		mustLock(t, m, rq(oA2, fB, 0, 1, Exclusive), Granted)
		mustLock(t, m, rq(oA, fA, 200, 1, Exclusive), LimitExceeded)
		mustLock(t, m, rq(oA, fC, 0, 1, Shared), LimitExceeded)
		mustLock(t, m, rq(oB, fA, 200, 1, Exclusive), Granted)
		// Changes that do not add entries pass.
		mustLock(t, m, rq(oA, fA, 100, 10, Exclusive), Granted) // merges
		mustLock(t, m, rq(oA, fA, 0, 110, Shared), Granted)     // replaces
		// An unlock that splits is never refused, even past the limit.
		mustUnlock(t, m, fA, oA, 50, 1)
		if got := dump(m, fA); got != "A:S0+50 A:S51+59 B:X200+1" {
			t.Fatalf("locks %q", got)
		}
		mustLock(t, m, wq(oA, fA, 200, 1, Shared), LimitExceeded)
		if _, st := m.AddShare(fC, oA, AccessRead, ShareRead); st != LimitExceeded {
			t.Fatalf("AddShare = %v", st)
		}
		checkInvariants(t, m)
	})
	t.Run("per file", func(t *testing.T) {
		m, _ := newTest(Limits{PerFile: 3})
		mustLock(t, m, rq(oA, fA, 0, 1, Exclusive), Granted)
		mustLock(t, m, wq(oB, fA, 0, 1, Exclusive), Queued)
		m.AddShare(fA, oX, 0, 0)
		mustLock(t, m, wq(oC, fA, 0, 1, Exclusive), LimitExceeded)
		mustLock(t, m, rq(oC, fA, 10, 1, Exclusive), LimitExceeded)
		mustLock(t, m, rq(oC, fB, 10, 1, Exclusive), Granted)
		if _, ok := m.owners[oY]; ok {
			t.Fatal("refused owner kept")
		}
		checkInvariants(t, m)
	})
	t.Run("total", func(t *testing.T) {
		m, _ := newTest(Limits{Total: 2})
		mustLock(t, m, rq(oA, fA, 0, 1, Exclusive), Granted)
		mustLock(t, m, rq(oX, fB, 0, 1, Exclusive), Granted)
		mustLock(t, m, rq(oY, fC, 0, 1, Exclusive), LimitExceeded)
		mustLock(t, m, rq(oX, fB, 0, 1, Shared), LimitExceeded) // an SMB lock always adds one
		mustLock(t, m, rq(oA, fA, 0, 1, Shared), Granted)       // a POSIX replace adds none
		checkInvariants(t, m)
	})
}
