package nlm_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/nlm"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// TestBlockingGranted: a blocking LOCK behind another client's lock is
// answered BLOCKED; when the lock goes, the waiter's client is called
// with GRANTED at once, at the address its request came from, from the
// address it sent it to, with its cookie and lock, over the transport
// and in the version it used. A poll after that finds the lock held.
func TestBlockingGranted(t *testing.T) {
	for _, c := range []struct {
		nw   string
		vers uint32
	}{{"tcp", 4}, {"udp", 4}, {"tcp", 3}, {"udp", 1}} {
		t.Run(c.nw+"-v"+string(rune('0'+c.vers)), func(t *testing.T) {
			e := newEnv(t)
			a, b := e.machines[ipA], e.machines[ipB]
			fh := e.file("f")
			la := nlock{caller: "hostA", fh: fh, oh: "1@hostA", svid: 1, off: 0, len: 100}
			lb := nlock{caller: "hostB", fh: fh, oh: "2@hostB", svid: 2, off: 50, len: 10}
			e.mustCall(a, c.nw, nlm.Program, c.vers, nlm.ProcLock, lockArgs(c.vers, "a1", false, true, la, 1))
			if ck, st := res(t, e.mustCall(b, c.nw, nlm.Program, c.vers, nlm.ProcLock, lockArgs(c.vers, "b1", true, true, lb, 1))); ck != "b1" || st != blocked {
				t.Fatalf("blocking lock: %q %d", ck, st)
			}
			// A client polls with the same request: still the one waiter.
			if _, st := res(t, e.mustCall(b, c.nw, nlm.Program, c.vers, nlm.ProcLock, lockArgs(c.vers, "b2", true, true, lb, 1))); st != blocked {
				t.Fatalf("poll: %d", st)
			}
			e.wantTable(held{"hostA", 1, 0, 100, lock.Exclusive, false}, held{"hostB", 2, 50, 10, lock.Exclusive, true})
			b.none(t, nlm.Program, nlm.ProcGranted, 50*time.Millisecond)

			t0 := time.Now()
			e.mustCall(a, c.nw, nlm.Program, c.vers, nlm.ProcUnlock, unlockArgs(c.vers, "a2", la))
			r := b.mustWait(t, nlm.Program, nlm.ProcGranted, 2*time.Second)
			if d := r.at.Sub(t0); d > time.Second {
				t.Fatalf("GRANTED %v after the unlock", d)
			}
			if r.vers != c.vers || r.network != c.nw || r.from != netip.MustParseAddr(ipA) {
				t.Fatalf("GRANTED came as version %d over %s from %v", r.vers, r.network, r.from)
			}
			ck, excl, l := decodeGranted(t, c.vers, r.args)
			if ck != "b2" || !excl || !l.eq(lb) {
				t.Fatalf("GRANTED arguments: cookie %q exclusive %v lock %+v", ck, excl, l)
			}
			e.wantTable(held{"hostB", 2, 50, 10, lock.Exclusive, false})
			if _, st := res(t, e.mustCall(b, c.nw, nlm.Program, c.vers, nlm.ProcLock, lockArgs(c.vers, "b3", true, true, lb, 1))); st != granted {
				t.Fatalf("poll after the grant: %d", st)
			}
			a.none(t, nlm.Program, nlm.ProcGranted, 50*time.Millisecond)
		})
	}
}

// TestGrantRefused: a client that answers GRANTED with DENIED (its
// process stopped waiting) does not keep the lock.
func TestGrantRefused(t *testing.T) {
	e := newEnv(t)
	a, b := e.machines[ipA], e.machines[ipB]
	b.setGrantReply(nlm.StatDenied)
	fh := e.file("f")
	la := nlock{caller: "hostA", fh: fh, oh: "a", svid: 1, len: 10}
	lb := nlock{caller: "hostB", fh: fh, oh: "b", svid: 2, len: 10}
	e.mustCall(a, "tcp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "1", false, true, la, 1))
	e.mustCall(b, "tcp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "2", true, true, lb, 1))
	e.mustCall(a, "tcp", nlm.Program, 4, nlm.ProcUnlock, unlockArgs(4, "3", la))
	b.mustWait(t, nlm.Program, nlm.ProcGranted, 2*time.Second)
	eventually(t, 2*time.Second, "refused grant given back", func() bool { return len(e.table()) == 0 })
	b.none(t, nlm.Program, nlm.ProcGranted, 100*time.Millisecond)
}

// TestGrantUnreachable: a waiter whose client cannot be called back gets
// its GRANTED tried GrantRetries times, then the lock is given back for
// others (the client would find it again when it polls).
func TestGrantUnreachable(t *testing.T) {
	e := newEnv(t, withNLM(func(o *nlm.Options) {
		o.GrantRetries = 3
		o.GrantBackoff = 20 * time.Millisecond
	}))
	a, b := e.machines[ipA], e.machines[ipB]
	b.register(false) // B's portmapper has no NLM
	fh := e.file("f")
	la := nlock{caller: "hostA", fh: fh, oh: "a", svid: 1, len: 10}
	lb := nlock{caller: "hostB", fh: fh, oh: "b", svid: 2, len: 10}
	e.mustCall(a, "tcp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "1", false, true, la, 1))
	e.mustCall(b, "tcp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "2", true, true, lb, 1))
	e.mustCall(a, "tcp", nlm.Program, 4, nlm.ProcUnlock, unlockArgs(4, "3", la))
	e.wantTable(held{"hostB", 2, 0, 10, lock.Exclusive, false})
	eventually(t, 3*time.Second, "unreachable grant given back", func() bool { return len(e.table()) == 0 })
	// Its poll finds the lock free again.
	if _, st := res(t, e.mustCall(b, "tcp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "4", true, true, lb, 1))); st != granted {
		t.Fatalf("poll: %d", st)
	}
}

// TestCancel: a cancelled waiter is never granted, and the waiter behind
// it moves up; UNLOCK of the range withdraws a waiter too.
func TestCancel(t *testing.T) {
	for _, proc := range []uint32{nlm.ProcCancel, nlm.ProcCancelMsg, nlm.ProcUnlock} {
		e := newEnv(t)
		a, b := e.machines[ipA], e.machines[ipB]
		fh := e.file("f")
		la := nlock{caller: "hostA", fh: fh, oh: "a", svid: 1, len: 10}
		lb := nlock{caller: "hostB", fh: fh, oh: "b", svid: 2, len: 10}
		lc := nlock{caller: "hostC", fh: fh, oh: "c", svid: 3, len: 10}
		e.mustCall(a, "tcp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "1", false, true, la, 1))
		e.mustCall(b, "tcp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "2", true, true, lb, 1))
		e.mustCall(a, "tcp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "3", true, false, lc, 1))
		var args func(*xdr.Writer)
		if proc == nlm.ProcUnlock {
			args = unlockArgs(4, "x", lb)
		} else {
			args = cancelArgs(4, "x", true, true, lb)
		}
		r := e.mustCall(b, "tcp", nlm.Program, 4, proc, args)
		if proc == nlm.ProcCancelMsg {
			done(t, r)
			rr := b.mustWait(t, nlm.Program, nlm.ProcCancelRes, 2*time.Second)
			if ck, st := res(t, xdr.NewReader(rr.args)); ck != "x" || st != granted {
				t.Fatalf("CANCEL_RES: %q %d", ck, st)
			}
		} else if _, st := res(t, r); st != granted {
			t.Fatalf("proc %d: %d", proc, st)
		}
		e.wantTable(held{"hostA", 1, 0, 10, lock.Exclusive, false}, held{"hostC", 3, 0, 10, lock.Shared, true})
		e.mustCall(a, "tcp", nlm.Program, 4, nlm.ProcUnlock, unlockArgs(4, "4", la))
		a.mustWait(t, nlm.Program, nlm.ProcGranted, 2*time.Second)
		b.none(t, nlm.Program, nlm.ProcGranted, 100*time.Millisecond)
		e.wantTable(held{"hostC", 3, 0, 10, lock.Shared, false})
	}
}

// TestMsgForms: the asynchronous forms. Each _MSG call gets an empty
// reply and its result comes back as the matching _RES call; a blocked
// LOCK_MSG is granted with GRANTED_MSG, settled by the client's
// GRANTED_RES.
func TestMsgForms(t *testing.T) {
	for _, nw := range networks {
		t.Run(nw, func(t *testing.T) {
			e := newEnv(t, withNLM(func(o *nlm.Options) { o.GrantTimeout = 300 * time.Millisecond }))
			a, b := e.machines[ipA], e.machines[ipB]
			fh := e.file("f")
			la := nlock{caller: "hostA", fh: fh, oh: "a", svid: 1, off: 10, len: 10}
			lb := nlock{caller: "hostB", fh: fh, oh: "b", svid: 2, off: 0, len: 0}

			done(t, e.mustCall(a, nw, nlm.Program, 4, nlm.ProcLockMsg, lockArgs(4, "m1", false, true, la, 1)))
			r := a.mustWait(t, nlm.Program, nlm.ProcLockRes, 2*time.Second)
			if ck, st := res(t, xdr.NewReader(r.args)); ck != "m1" || st != granted || r.from != netip.MustParseAddr(ipA) {
				t.Fatalf("LOCK_RES: %q %d from %v", ck, st, r.from)
			}

			done(t, e.mustCall(b, nw, nlm.Program, 4, nlm.ProcTestMsg, testArgs(4, "m2", false, lb)))
			r = b.mustWait(t, nlm.Program, nlm.ProcTestRes, 2*time.Second)
			if got := testRes(t, 4, xdr.NewReader(r.args)); got != (holderRes{cookie: "m2", stat: denied, excl: true, svid: 1, oh: "a", off: 10, len: 10}) {
				t.Fatalf("TEST_RES: %+v", got)
			}

			done(t, e.mustCall(b, nw, nlm.Program, 4, nlm.ProcLockMsg, lockArgs(4, "m3", true, false, lb, 1)))
			r = b.mustWait(t, nlm.Program, nlm.ProcLockRes, 2*time.Second)
			if ck, st := res(t, xdr.NewReader(r.args)); ck != "m3" || st != blocked {
				t.Fatalf("LOCK_RES of a blocked lock: %q %d", ck, st)
			}

			done(t, e.mustCall(a, nw, nlm.Program, 4, nlm.ProcUnlockMsg, unlockArgs(4, "m4", la)))
			r = a.mustWait(t, nlm.Program, nlm.ProcUnlockRes, 2*time.Second)
			if ck, st := res(t, xdr.NewReader(r.args)); ck != "m4" || st != granted {
				t.Fatalf("UNLOCK_RES: %q %d", ck, st)
			}
			r = b.mustWait(t, nlm.Program, nlm.ProcGrantedMsg, 2*time.Second)
			ck, excl, l := decodeGranted(t, 4, r.args)
			if ck != "m3" || excl || !l.eq(lb) {
				t.Fatalf("GRANTED_MSG: %q %v %+v", ck, excl, l)
			}
			done(t, e.mustCall(b, nw, nlm.Program, 4, nlm.ProcGrantedRes, func(w *xdr.Writer) {
				w.Opaque([]byte("m3"))
				w.Uint32(granted)
			}))
			// Settled: no second GRANTED_MSG after the wait for the answer.
			b.none(t, nlm.Program, nlm.ProcGrantedMsg, 500*time.Millisecond)
			e.wantTable(held{"hostB", 2, 0, 0, lock.Shared, false})

			// The other _RES procedures are accepted and change nothing.
			for _, p := range []uint32{nlm.ProcLockRes, nlm.ProcCancelRes, nlm.ProcUnlockRes} {
				done(t, e.mustCall(a, nw, nlm.Program, 4, p, func(w *xdr.Writer) { w.Opaque([]byte("z")); w.Uint32(0) }))
			}
			e.wantTable(held{"hostB", 2, 0, 0, lock.Shared, false})
		})
	}
}

// TestGrantedMsgRefused: GRANTED_RES with DENIED gives the lock back;
// without any GRANTED_RES the GRANTED_MSG is sent again, then the lock is
// given back.
func TestGrantedMsgRefused(t *testing.T) {
	for _, answer := range []bool{true, false} {
		e := newEnv(t, withNLM(func(o *nlm.Options) {
			o.GrantTimeout = 300 * time.Millisecond
			o.GrantRetries = 2
		}))
		a, b := e.machines[ipA], e.machines[ipB]
		fh := e.file("f")
		la := nlock{caller: "hostA", fh: fh, oh: "a", svid: 1, len: 10}
		lb := nlock{caller: "hostB", fh: fh, oh: "b", svid: 2, len: 10}
		e.mustCall(a, "udp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "1", false, true, la, 1))
		e.mustCall(b, "udp", nlm.Program, 4, nlm.ProcLockMsg, lockArgs(4, "2", true, true, lb, 1))
		e.mustCall(a, "udp", nlm.Program, 4, nlm.ProcUnlock, unlockArgs(4, "3", la))
		b.mustWait(t, nlm.Program, nlm.ProcGrantedMsg, 2*time.Second)
		if answer {
			e.mustCall(b, "udp", nlm.Program, 4, nlm.ProcGrantedRes, func(w *xdr.Writer) {
				w.Opaque([]byte("2"))
				w.Uint32(denied)
			})
		} else {
			b.mustWait(t, nlm.Program, nlm.ProcGrantedMsg, 2*time.Second)
		}
		eventually(t, 3*time.Second, "grant given back", func() bool { return len(e.table()) == 0 })
	}
}
