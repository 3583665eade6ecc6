package nlm_test

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/nlm"
	"github.com/tandemfs/tandem/internal/nsm"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// crashSetup: hostA (on 127.0.0.1) holds two locks and a share, hostB (on
// 127.0.0.2) holds one and waits behind hostA. The state hostA locked
// with is 3.
func crashSetup(t *testing.T, e *env) (la, lb nlock) {
	a, b := e.machines[ipA], e.machines[ipB]
	fh, fh2 := e.file("f"), e.file("g")
	la = nlock{caller: "hostA", fh: fh, oh: "a", svid: 1, off: 0, len: 10}
	la2 := nlock{caller: "hostA", fh: fh2, oh: "a", svid: 1, off: 0, len: 0}
	lb = nlock{caller: "hostB", fh: fh, oh: "b", svid: 2, off: 5, len: 10}
	lb2 := nlock{caller: "hostB", fh: fh2, oh: "b", svid: 2, off: 0, len: 0}
	e.mustCall(a, "tcp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "1", false, true, la, 3))
	e.mustCall(a, "tcp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "2", false, false, la2, 3))
	e.mustCall(a, "tcp", nlm.Program, 4, nlm.ProcShare, shareArgs("3", "hostA", fh, "a", 2, 1))
	e.mustCall(b, "tcp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "4", false, false, lb2, 7))
	if _, st := res(t, e.mustCall(b, "tcp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "5", true, true, lb, 7))); st != blocked {
		t.Fatalf("B's blocking lock: %d", st)
	}
	e.wantBefore()
	return la, lb
}

func (e *env) wantBefore() {
	e.t.Helper()
	e.wantTable(
		held{"hostA", 1, 0, 10, lock.Exclusive, false},
		held{"hostB", 2, 5, 10, lock.Exclusive, true},
		held{"hostA", 1, 0, 0, lock.Shared, false},
		held{"hostB", 2, 0, 0, lock.Shared, false},
	)
	if n := e.shares(); n != 1 {
		e.t.Fatalf("%d share reservations, want 1", n)
	}
}

func (e *env) shares() int {
	n := 0
	for _, x := range e.mgr.Snapshot() {
		if x.Kind == lock.KindShare {
			n++
		}
	}
	return n
}

// wantAfter: hostA's locks and share are gone, hostB's lock is intact and
// its waiter was granted through its callback.
func (e *env) wantAfter(lb nlock) {
	e.t.Helper()
	r := e.machines[ipB].mustWait(e.t, nlm.Program, nlm.ProcGranted, 2*time.Second)
	if _, _, l := decodeGranted(e.t, 4, r.args); !l.eq(lb) {
		e.t.Fatalf("GRANTED for %+v, want %+v", l, lb)
	}
	e.wantTable(
		held{"hostB", 2, 5, 10, lock.Exclusive, false},
		held{"hostB", 2, 0, 0, lock.Shared, false},
	)
	if n := e.shares(); n != 0 {
		e.t.Fatalf("%d share reservations left", n)
	}
}

// TestFreeAll frees exactly the named host's locks, shares and waiters,
// and only when it comes from where that host was seen.
func TestFreeAll(t *testing.T) {
	for _, nw := range networks {
		e := newEnv(t)
		_, lb := crashSetup(t, e)
		a, b := e.machines[ipA], e.machines[ipB]
		done(t, e.mustCall(b, nw, nlm.Program, 4, nlm.ProcFreeAll, notifyArgs("hostA", 9)))
		done(t, e.mustCall(a, nw, nlm.Program, 4, nlm.ProcFreeAll, notifyArgs("hostZ", 9)))
		time.Sleep(50 * time.Millisecond)
		e.wantBefore()
		done(t, e.mustCall(a, nw, nlm.Program, 3, nlm.ProcFreeAll, notifyArgs("hostA", 9)))
		e.wantAfter(lb)
		if hs := e.mon.Hosts(); len(hs) != 1 || hs["hostB"] != netip.MustParseAddr(ipB) {
			t.Fatalf("monitored hosts after FREE_ALL: %v", hs)
		}
	}
}

// smNotify sends SM_NOTIFY from m.
func (e *env) smNotify(m *machine, nw, name string, state int32) {
	e.t.Helper()
	done(e.t, e.mustCall(m, nw, nsm.Program, 1, nsm.ProcNotify, notifyArgs(name, state)))
}

// TestNotifyReboot: SM_NOTIFY from a rebooted client drops its locks and
// grants the waiters behind them; a forged one from another address, or
// a replay of the state the client locked with, changes nothing.
func TestNotifyReboot(t *testing.T) {
	for _, nw := range networks {
		e := newEnv(t)
		_, lb := crashSetup(t, e)
		a, b := e.machines[ipA], e.machines[ipB]
		e.smNotify(b, nw, "hostA", 5) // forged: hostA was never seen at 127.0.0.2
		e.smNotify(b, nw, "HOSTA", 5)
		e.smNotify(b, nw, ipA, 5) // an address literal that is not the sender
		e.smNotify(a, nw, "hostA", 3)
		time.Sleep(50 * time.Millisecond)
		e.wantBefore()
		b.none(t, nlm.Program, nlm.ProcGranted, 10*time.Millisecond)

		e.smNotify(a, nw, "HostA", 5)
		e.wantAfter(lb)
		if hs := e.mon.Hosts(); len(hs) != 1 {
			t.Fatalf("monitored hosts after the reboot: %v", hs)
		}
	}
}

// TestNotifyByAddress: a client whose status monitor names it by another
// name than its lock manager does is matched by address when the name it
// gives is the address it sends from, or resolves to it.
func TestNotifyByAddress(t *testing.T) {
	for _, name := range []string{ipA, "a.example"} {
		e := newEnv(t)
		e.names["a.example"] = []netip.Addr{netip.MustParseAddr(ipA)}
		e.names["b.example"] = []netip.Addr{netip.MustParseAddr(ipB)}
		_, lb := crashSetup(t, e)
		e.smNotify(e.machines[ipB], "udp", "a.example", 5) // resolves elsewhere: forged
		time.Sleep(50 * time.Millisecond)
		e.wantBefore()
		e.smNotify(e.machines[ipA], "udp", name, 5)
		e.wantAfter(lb)
	}
}

// TestMonitorProcedures: SM_STAT, SM_MON and its callback, SM_UNMON,
// SM_UNMON_ALL and SM_SIMU_CRASH.
func TestMonitorProcedures(t *testing.T) {
	e := newEnv(t)
	a, b := e.machines[ipA], e.machines[ipB]
	state := e.mon.State()
	if state != 1 {
		t.Fatalf("first state %d, want 1", state)
	}
	for _, nw := range networks {
		r := e.mustCall(a, nw, nsm.Program, 1, nsm.ProcStat, func(w *xdr.Writer) { w.String("anyone") })
		if st, s := r.Uint32(), r.Int32(); st != nsm.StatSucc || s != state {
			t.Fatalf("SM_STAT: %d %d", st, s)
		}
		done(t, r)
	}
	priv := bytes.Repeat([]byte{0xab}, 16)
	mon := func(monName, myName string, proc uint32) func(*xdr.Writer) {
		return func(w *xdr.Writer) {
			w.String(monName)
			w.String(myName)
			w.Uint32(cbProg)
			w.Uint32(1)
			w.Uint32(proc)
			w.FixedOpaque(priv)
		}
	}
	// A on 127.0.0.1 asks to hear of hostB's reboots, twice (procedures 7
	// and 8); then unregisters 8.
	for _, p := range []uint32{7, 8} {
		r := e.mustCall(a, "udp", nsm.Program, 1, nsm.ProcMon, mon("hostB", "watcher", p))
		if st, s := r.Uint32(), r.Int32(); st != nsm.StatSucc || s != state {
			t.Fatalf("SM_MON: %d %d", st, s)
		}
		done(t, r)
	}
	unmon := func(w *xdr.Writer) {
		w.String("hostB")
		w.String("watcher")
		w.Uint32(cbProg)
		w.Uint32(1)
		w.Uint32(8)
	}
	// Only the address that registered may unregister.
	r := e.mustCall(b, "tcp", nsm.Program, 1, nsm.ProcUnmon, unmon)
	if s := r.Int32(); s != state {
		t.Fatalf("SM_UNMON: state %d", s)
	}
	done(t, r)
	r = e.mustCall(b, "tcp", nsm.Program, 1, nsm.ProcUnmonAll, func(w *xdr.Writer) {
		w.String("watcher")
		w.Uint32(cbProg)
		w.Uint32(1)
		w.Uint32(7)
	})
	r.Int32()
	done(t, r)
	r = e.mustCall(a, "tcp", nsm.Program, 1, nsm.ProcUnmon, unmon)
	r.Int32()
	done(t, r)

	// hostB locks, then reboots: the watcher is called back with the new
	// state and its cookie, at the address it registered from.
	fh := e.file("f")
	e.mustCall(b, "tcp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "1", false, true, nlock{caller: "hostB", fh: fh, oh: "b", svid: 1, len: 1}, 1))
	e.smNotify(a, "udp", "hostB", 3) // forged: no callback
	a.none(t, cbProg, 7, 100*time.Millisecond)
	e.smNotify(b, "udp", "hostB", 3)
	cb := a.mustWait(t, cbProg, 7, 2*time.Second)
	cr := xdr.NewReader(cb.args)
	if n, s, p := cr.Opaque(1024), cr.Int32(), cr.FixedOpaque(16); string(n) != "hostB" || s != 3 || !bytes.Equal(p, priv) {
		t.Fatalf("callback: %q %d % x", n, s, p)
	}
	done(t, cr)
	a.none(t, cbProg, 8, 100*time.Millisecond)
	e.wantTable()

	// SM_UNMON_ALL from the registrant drops the rest.
	r = e.mustCall(a, "tcp", nsm.Program, 1, nsm.ProcUnmonAll, func(w *xdr.Writer) {
		w.String("watcher")
		w.Uint32(cbProg)
		w.Uint32(1)
		w.Uint32(7)
	})
	r.Int32()
	done(t, r)
	e.mustCall(b, "tcp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "1", false, true, nlock{caller: "hostB", fh: fh, oh: "b", svid: 1, len: 1}, 3))
	e.smNotify(b, "udp", "hostB", 5)
	a.none(t, cbProg, 7, 100*time.Millisecond)

	// SM_SIMU_CRASH: a new state, told to every host holding locks, in
	// the server's name as the host knows it.
	e.mustCall(a, "tcp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "1", false, true, nlock{caller: "hostA", fh: fh, oh: "a", svid: 1, off: 9, len: 1}, 1))
	done(t, e.mustCall(b, "udp", nsm.Program, 1, nsm.ProcSimuCrash, nil))
	if s := e.mon.State(); s != state+2 {
		t.Fatalf("state after SM_SIMU_CRASH: %d, want %d", s, state+2)
	}
	n := a.mustWait(t, nsm.Program, nsm.ProcNotify, 2*time.Second)
	nr := xdr.NewReader(n.args)
	if name, s := nr.Opaque(1024), nr.Int32(); string(name) != ipA || s != state+2 || n.from != netip.MustParseAddr(ipA) {
		t.Fatalf("SM_NOTIFY: %q %d from %v", name, s, n.from)
	}
	done(t, nr)
	// Garbage.
	for _, p := range []uint32{nsm.ProcStat, nsm.ProcMon, nsm.ProcUnmon, nsm.ProcUnmonAll, nsm.ProcNotify} {
		if _, err := e.call(a, "tcp", nsm.Program, 1, p, func(w *xdr.Writer) { w.Uint32(2000) }); !garbageErr(err) {
			t.Errorf("NSM procedure %d with garbage: %v", p, err)
		}
	}
}

// TestRestartNotifies: a restarted server has a new state number and
// tells the hosts that held locks before, at their address and in the
// name they used for it; it then forgets them until they lock again.
func TestRestartNotifies(t *testing.T) {
	e := newEnv(t)
	a, b := e.machines[ipA], e.machines[ipB]
	fh := e.file("f")
	e.mustCall(a, "tcp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "1", false, true, nlock{caller: "hostA", fh: fh, oh: "a", svid: 1, len: 1}, 1))
	e.mustCall(b, "udp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "1", false, true, nlock{caller: "hostB", fh: fh, oh: "b", svid: 1, off: 1, len: 1}, 1))
	e.restart()
	if s := e.mon.State(); s != 3 {
		t.Fatalf("state after restart: %d", s)
	}
	e.mon.NotifyAll()
	for _, m := range []*machine{a, b} {
		n := m.mustWait(t, nsm.Program, nsm.ProcNotify, 2*time.Second)
		nr := xdr.NewReader(n.args)
		if name, s := nr.Opaque(1024), nr.Int32(); string(name) != ipA || s != 3 || n.from != netip.MustParseAddr(ipA) {
			t.Fatalf("%s: SM_NOTIFY %q %d from %v", m.ip, name, s, n.from)
		}
		done(t, nr)
	}
	eventually(t, 2*time.Second, "notified hosts forgotten", func() bool { return len(e.mon.Hosts()) == 0 })
	e.restart()
	if s := e.mon.State(); s != 5 {
		t.Fatalf("state after second restart: %d", s)
	}
	e.mon.NotifyAll()
	a.none(t, nsm.Program, nsm.ProcNotify, 200*time.Millisecond)
}
