package nlm_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/nlm"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

const (
	granted  = uint32(nlm.StatGranted)
	denied   = uint32(nlm.StatDenied)
	nolocks  = uint32(nlm.StatDeniedNoLocks)
	blocked  = uint32(nlm.StatBlocked)
	deadlock = uint32(nlm.StatDeadlock)
	staleFH  = uint32(nlm.StatStaleFH)
)

func TestNull(t *testing.T) {
	e := newEnv(t)
	for _, nw := range networks {
		for _, v := range []uint32{1, 3, 4} {
			done(t, e.mustCall(e.machines[ipA], nw, nlm.Program, v, nlm.ProcNull, nil))
		}
	}
}

// TestVersionsAndProcedures: version 2 was never defined, SHARE and the
// other procedures from 20 on are not in version 1, and 16 to 19 are in
// no version.
func TestVersionsAndProcedures(t *testing.T) {
	e := newEnv(t)
	m := e.machines[ipA]
	_, err := e.call(m, "tcp", nlm.Program, 2, nlm.ProcNull, nil)
	var re *rpc.ReplyError
	if !errors.As(err, &re) || re.Stat != rpc.ProgMismatch || re.Low != 1 || re.High != 4 {
		t.Fatalf("version 2: %v, want PROG_MISMATCH 1-4", err)
	}
	for _, c := range []struct{ vers, proc uint32 }{{1, 20}, {1, 23}, {3, 16}, {4, 19}, {4, 24}} {
		if _, err := e.call(m, "tcp", nlm.Program, c.vers, c.proc, nil); !errors.Is(err, rpc.ErrProcUnavail) {
			t.Errorf("version %d procedure %d: %v, want PROC_UNAVAIL", c.vers, c.proc, err)
		}
	}
}

// TestLockSemantics walks F_SETLK/F_GETLK through the protocol over both
// transports: conflicts and the holder TEST reports, shared locks, ranges
// that do not overlap, an unlock in the middle that splits, and to-EOF
// ranges.
func TestLockSemantics(t *testing.T) {
	for _, nw := range networks {
		t.Run(nw, func(t *testing.T) {
			e := newEnv(t)
			a, b := e.machines[ipA], e.machines[ipB]
			fh := e.file("f")
			la := nlock{caller: "hostA", fh: fh, oh: "1@hostA", svid: 1, off: 100, len: 100}
			lb := nlock{caller: "hostB", fh: fh, oh: "2@hostB", svid: 2, off: 150, len: 10}

			if c, st := res(t, e.mustCall(a, nw, nlm.Program, 4, nlm.ProcLock, lockArgs(4, "c1", false, true, la, 3))); c != "c1" || st != granted {
				t.Fatalf("exclusive lock: cookie %q stat %d", c, st)
			}
			if _, st := res(t, e.mustCall(b, nw, nlm.Program, 4, nlm.ProcLock, lockArgs(4, "c2", false, true, lb, 5))); st != denied {
				t.Fatalf("conflicting lock: stat %d, want DENIED", st)
			}
			if _, st := res(t, e.mustCall(b, nw, nlm.Program, 4, nlm.ProcLock, lockArgs(4, "c3", false, false, lb, 5))); st != denied {
				t.Fatalf("shared over exclusive: stat %d, want DENIED", st)
			}
			got := testRes(t, 4, e.mustCall(b, nw, nlm.Program, 4, nlm.ProcTest, testArgs(4, "c4", true, lb)))
			want := holderRes{cookie: "c4", stat: denied, excl: true, svid: 1, oh: "1@hostA", off: 100, len: 100}
			if got != want {
				t.Fatalf("TEST: %+v, want %+v", got, want)
			}
			// The holder's own TEST finds nothing: an owner never
			// conflicts with itself.
			if got := testRes(t, 4, e.mustCall(a, nw, nlm.Program, 4, nlm.ProcTest, testArgs(4, "c5", true, la))); got.stat != granted {
				t.Fatalf("own TEST: %+v", got)
			}

			// Not overlapping: both granted.
			lb2 := lb
			lb2.off, lb2.len = 200, 50
			if _, st := res(t, e.mustCall(b, nw, nlm.Program, 4, nlm.ProcLock, lockArgs(4, "c6", false, true, lb2, 5))); st != granted {
				t.Fatalf("adjacent lock: stat %d", st)
			}

			// Unlocking the middle of A's lock splits it exactly.
			mid := la
			mid.off, mid.len = 120, 30
			if _, st := res(t, e.mustCall(a, nw, nlm.Program, 4, nlm.ProcUnlock, unlockArgs(4, "c7", mid))); st != granted {
				t.Fatalf("unlock middle: stat %d", st)
			}
			e.wantTable(
				held{"hostA", 1, 100, 20, lock.Exclusive, false},
				held{"hostA", 1, 150, 50, lock.Exclusive, false},
				held{"hostB", 2, 200, 50, lock.Exclusive, false},
			)
			hole := lb
			hole.off, hole.len = 120, 30
			if _, st := res(t, e.mustCall(b, nw, nlm.Program, 4, nlm.ProcLock, lockArgs(4, "c8", false, true, hole, 5))); st != granted {
				t.Fatalf("lock in the hole: stat %d", st)
			}

			// Shared and shared: both granted; exclusive TEST then
			// reports the first shared holder.
			fh2 := e.file("g")
			sa := nlock{caller: "hostA", fh: fh2, oh: "1@hostA", svid: 1, off: 0, len: 0}
			sb := nlock{caller: "hostB", fh: fh2, oh: "2@hostB", svid: 2, off: 10, len: 10}
			for _, c := range []struct {
				m *machine
				l nlock
			}{{a, sa}, {b, sb}} {
				if _, st := res(t, e.mustCall(c.m, nw, nlm.Program, 4, nlm.ProcLock, lockArgs(4, "s", false, false, c.l, 1))); st != granted {
					t.Fatalf("shared lock: stat %d", st)
				}
			}
			probe := nlock{caller: "hostC", fh: fh2, oh: "3@hostC", svid: 3, off: 5, len: 1}
			got = testRes(t, 4, e.mustCall(b, nw, nlm.Program, 4, nlm.ProcTest, testArgs(4, "t", true, probe)))
			want = holderRes{cookie: "t", stat: denied, excl: false, svid: 1, oh: "1@hostA", off: 0, len: 0}
			if got != want {
				t.Fatalf("TEST against a shared lock to EOF: %+v, want %+v", got, want)
			}
			if got := testRes(t, 4, e.mustCall(b, nw, nlm.Program, 4, nlm.ProcTest, testArgs(4, "t", false, probe))); got.stat != granted {
				t.Fatalf("shared TEST against shared locks: %+v", got)
			}
		})
	}
}

// TestVersion1And3 uses the 32-bit forms: ranges are widened on the way
// in and narrowed on the way out, and the statuses version 4 added come
// back as the older ones.
func TestVersion1And3(t *testing.T) {
	e := newEnv(t)
	a, b := e.machines[ipA], e.machines[ipB]
	fh := e.file("f")
	la := nlock{caller: "hostA", fh: fh, oh: "a", svid: 7, off: 0xfffffff0, len: 0}
	if _, st := res(t, e.mustCall(a, "udp", nlm.Program, 1, nlm.ProcLock, lockArgs(1, "v1", false, true, la, 1))); st != granted {
		t.Fatalf("v1 lock: %d", st)
	}
	e.wantTable(held{"hostA", 7, 0xfffffff0, 0, lock.Exclusive, false})
	// Version 4 sees the lock as 64-bit to the end of the file.
	lb := nlock{caller: "hostB", fh: fh, oh: "b", svid: 8, off: 1 << 40, len: 1}
	got := testRes(t, 4, e.mustCall(b, "tcp", nlm.Program, 4, nlm.ProcTest, testArgs(4, "x", false, lb)))
	if got != (holderRes{cookie: "x", stat: denied, excl: true, svid: 7, oh: "a", off: 0xfffffff0, len: 0}) {
		t.Fatalf("v4 TEST of a v1 lock: %+v", got)
	}
	// A v4 lock beyond 4 GiB, seen from version 3: offset clamped, to EOF.
	fh2 := e.file("g")
	big := nlock{caller: "hostB", fh: fh2, oh: "b", svid: 8, off: 5 << 32, len: 10}
	if _, st := res(t, e.mustCall(b, "tcp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "y", false, true, big, 1))); st != granted {
		t.Fatalf("v4 lock: %d", st)
	}
	small := nlock{caller: "hostA", fh: fh2, oh: "a", svid: 7, off: 0, len: 0}
	got = testRes(t, 3, e.mustCall(a, "tcp", nlm.Program, 3, nlm.ProcTest, testArgs(3, "z", true, small)))
	if got != (holderRes{cookie: "z", stat: denied, excl: true, svid: 8, oh: "b", off: 0xffffffff, len: 0}) {
		t.Fatalf("v3 TEST of a lock past 4 GiB: %+v", got)
	}
	// A 32-bit range reaching past 2^32-1 is sent as to-EOF.
	fh3 := e.file("h")
	edge := nlock{caller: "hostB", fh: fh3, oh: "b", svid: 8, off: 0xffff0000, len: 0x20000}
	e.mustCall(b, "tcp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "y", false, true, edge, 1))
	got = testRes(t, 1, e.mustCall(a, "tcp", nlm.Program, 1, nlm.ProcTest, testArgs(1, "w", true, nlock{caller: "hostA", fh: fh3, oh: "a", svid: 7})))
	if got != (holderRes{cookie: "w", stat: denied, excl: true, svid: 8, oh: "b", off: 0xffff0000, len: 0}) {
		t.Fatalf("v1 TEST of a range past 2^32: %+v", got)
	}

	// Deadlock and a stale handle, in version 3 and 4.
	bad := nlock{caller: "hostA", fh: []byte("not a handle"), oh: "a", svid: 7}
	for _, c := range []struct {
		vers, want uint32
	}{{4, staleFH}, {3, nolocks}, {1, nolocks}} {
		if _, st := res(t, e.mustCall(a, "tcp", nlm.Program, c.vers, nlm.ProcLock, lockArgs(c.vers, "s", false, true, bad, 1))); st != c.want {
			t.Errorf("v%d lock of a bad handle: stat %d, want %d", c.vers, st, c.want)
		}
	}
}

// TestDeadlock: A holds r1 and waits for r2; B holds r2 and asks for r1
// and is refused instead of waiting forever (DEADLCK in version 4, DENIED
// in version 3, which has no DEADLCK).
func TestDeadlock(t *testing.T) {
	for _, vers := range []uint32{4, 3} {
		e := newEnv(t)
		a, b := e.machines[ipA], e.machines[ipB]
		fh := e.file("f")
		a1 := nlock{caller: "hostA", fh: fh, oh: "a", svid: 1, off: 0, len: 10}
		b2 := nlock{caller: "hostB", fh: fh, oh: "b", svid: 2, off: 10, len: 10}
		a2, b1 := a1, b2
		a2.off, b1.off = 10, 0
		e.mustCall(a, "tcp", nlm.Program, vers, nlm.ProcLock, lockArgs(vers, "1", false, true, a1, 1))
		e.mustCall(b, "tcp", nlm.Program, vers, nlm.ProcLock, lockArgs(vers, "2", false, true, b2, 1))
		if _, st := res(t, e.mustCall(a, "tcp", nlm.Program, vers, nlm.ProcLock, lockArgs(vers, "3", true, true, a2, 1))); st != blocked {
			t.Fatalf("v%d: A waiting for r2: stat %d", vers, st)
		}
		want := deadlock
		if vers == 3 {
			want = denied
		}
		if _, st := res(t, e.mustCall(b, "tcp", nlm.Program, vers, nlm.ProcLock, lockArgs(vers, "4", true, true, b1, 1))); st != want {
			t.Fatalf("v%d: B asking for r1: stat %d, want %d", vers, st, want)
		}
		// B gives r2 up: A's wait ends with a GRANTED callback.
		e.mustCall(b, "tcp", nlm.Program, vers, nlm.ProcUnlock, unlockArgs(vers, "5", b2))
		r := a.mustWait(t, nlm.Program, nlm.ProcGranted, 2*time.Second)
		if c, _, l := decodeGranted(t, vers, r.args); c != "3" || !l.eq(a2) {
			t.Fatalf("v%d GRANTED: cookie %q lock %+v", vers, c, l)
		}
	}
}

// TestShare: DOS share reservations in versions 3 and 4.
func TestShare(t *testing.T) {
	for _, vers := range []uint32{3, 4} {
		e := newEnv(t)
		a, b := e.machines[ipA], e.machines[ipB]
		fh := e.file("f")
		const (
			denyNone, denyWrite, denyRW = 0, 2, 3
			accR, accW, accRW           = 1, 2, 3
		)
		if c, st := shareRes(t, e.mustCall(a, "tcp", nlm.Program, vers, nlm.ProcShare, shareArgs("s1", "hostA", fh, "oa", denyWrite, accR))); c != "s1" || st != granted {
			t.Fatalf("v%d share: %q %d", vers, c, st)
		}
		if _, st := shareRes(t, e.mustCall(b, "tcp", nlm.Program, vers, nlm.ProcShare, shareArgs("s2", "hostB", fh, "ob", denyNone, accW))); st != denied {
			t.Fatalf("v%d writer against deny-write: %d", vers, st)
		}
		if _, st := shareRes(t, e.mustCall(b, "tcp", nlm.Program, vers, nlm.ProcShare, shareArgs("s3", "hostB", fh, "ob", denyNone, accR))); st != granted {
			t.Fatalf("v%d reader against deny-write: %d", vers, st)
		}
		if _, st := shareRes(t, e.mustCall(b, "tcp", nlm.Program, vers, nlm.ProcShare, shareArgs("s4", "hostB", fh, "ob2", denyRW, accR))); st != denied {
			t.Fatalf("v%d deny-read against a reader: %d", vers, st)
		}
		if _, st := shareRes(t, e.mustCall(a, "tcp", nlm.Program, vers, nlm.ProcUnshare, shareArgs("u", "hostA", fh, "oa", denyWrite, accR))); st != granted {
			t.Fatalf("v%d unshare: %d", vers, st)
		}
		if _, st := shareRes(t, e.mustCall(b, "tcp", nlm.Program, vers, nlm.ProcShare, shareArgs("s5", "hostB", fh, "ob3", denyNone, accRW))); st != granted {
			t.Fatalf("v%d writer after unshare: %d", vers, st)
		}
		if _, st := shareRes(t, e.mustCall(a, "tcp", nlm.Program, vers, nlm.ProcShare, shareArgs("s6", "hostA", []byte("junk"), "oa", denyNone, accR))); st != map[uint32]uint32{3: nolocks, 4: staleFH}[vers] {
			t.Fatalf("v%d share of a bad handle: %d", vers, st)
		}
	}
}

// TestGrantedToServer: the server waits for no lock as a client, so a
// GRANTED sent to it is refused, and a GRANTED_MSG gets no GRANTED_RES.
func TestGrantedToServer(t *testing.T) {
	e := newEnv(t)
	a := e.machines[ipA]
	l := nlock{caller: "hostA", fh: e.file("f"), oh: "a", svid: 1}
	if c, st := res(t, e.mustCall(a, "tcp", nlm.Program, 4, nlm.ProcGranted, testArgs(4, "g", true, l))); c != "g" || st != denied {
		t.Fatalf("GRANTED: %q %d", c, st)
	}
	done(t, e.mustCall(a, "tcp", nlm.Program, 4, nlm.ProcGrantedMsg, testArgs(4, "g", true, l)))
	a.none(t, nlm.Program, nlm.ProcGrantedRes, 200*time.Millisecond)
}

// TestGarbageArgs: every procedure that takes arguments answers
// GARBAGE_ARGS to arguments cut short, to strings over their bounds and to
// booleans and enums out of range, over both transports and in every
// version; the lock table is untouched.
func TestGarbageArgs(t *testing.T) {
	e := newEnv(t)
	a := e.machines[ipA]
	fh := e.file("f")
	l := nlock{caller: "hostA", fh: fh, oh: "o", svid: 1, len: 10}
	full := map[uint32]func(uint32) func(*xdr.Writer){
		nlm.ProcTest:       func(v uint32) func(*xdr.Writer) { return testArgs(v, "c", true, l) },
		nlm.ProcLock:       func(v uint32) func(*xdr.Writer) { return lockArgs(v, "c", false, true, l, 1) },
		nlm.ProcCancel:     func(v uint32) func(*xdr.Writer) { return cancelArgs(v, "c", true, true, l) },
		nlm.ProcUnlock:     func(v uint32) func(*xdr.Writer) { return unlockArgs(v, "c", l) },
		nlm.ProcGranted:    func(v uint32) func(*xdr.Writer) { return testArgs(v, "c", true, l) },
		nlm.ProcTestMsg:    func(v uint32) func(*xdr.Writer) { return testArgs(v, "c", true, l) },
		nlm.ProcLockMsg:    func(v uint32) func(*xdr.Writer) { return lockArgs(v, "c", false, true, l, 1) },
		nlm.ProcCancelMsg:  func(v uint32) func(*xdr.Writer) { return cancelArgs(v, "c", true, true, l) },
		nlm.ProcUnlockMsg:  func(v uint32) func(*xdr.Writer) { return unlockArgs(v, "c", l) },
		nlm.ProcGrantedMsg: func(v uint32) func(*xdr.Writer) { return testArgs(v, "c", true, l) },
		nlm.ProcTestRes: func(uint32) func(*xdr.Writer) {
			return func(w *xdr.Writer) {
				w.Opaque([]byte("c"))
				w.Uint32(1)
				w.Bool(true)
				w.Uint32(1)
				w.Opaque(nil)
				w.Uint32(0)
				w.Uint32(0)
			}
		},
		nlm.ProcLockRes:    func(uint32) func(*xdr.Writer) { return func(w *xdr.Writer) { w.Opaque([]byte("c")); w.Uint32(0) } },
		nlm.ProcCancelRes:  func(uint32) func(*xdr.Writer) { return func(w *xdr.Writer) { w.Opaque([]byte("c")); w.Uint32(0) } },
		nlm.ProcUnlockRes:  func(uint32) func(*xdr.Writer) { return func(w *xdr.Writer) { w.Opaque([]byte("c")); w.Uint32(0) } },
		nlm.ProcGrantedRes: func(uint32) func(*xdr.Writer) { return func(w *xdr.Writer) { w.Opaque([]byte("c")); w.Uint32(0) } },
		nlm.ProcShare:      func(uint32) func(*xdr.Writer) { return shareArgs("c", "hostA", fh, "o", 0, 1) },
		nlm.ProcUnshare:    func(uint32) func(*xdr.Writer) { return shareArgs("c", "hostA", fh, "o", 0, 1) },
		nlm.ProcNMLock:     func(v uint32) func(*xdr.Writer) { return lockArgs(v, "c", false, true, l, 1) },
		nlm.ProcFreeAll:    func(uint32) func(*xdr.Writer) { return notifyArgs("nobody", 1) },
	}
	for proc, args := range full {
		for _, v := range []uint32{1, 3, 4} {
			if v == 1 && proc >= nlm.ProcShare {
				continue
			}
			w := xdr.NewWriter(nil)
			args(v)(w)
			whole := w.Bytes()
			for _, nw := range networks {
				for cut := 0; cut < len(whole); cut += 4 {
					_, err := e.call(a, nw, nlm.Program, v, proc, func(w *xdr.Writer) { w.FixedOpaque(whole[:cut]) })
					if !garbageErr(err) {
						t.Fatalf("v%d proc %d over %s, arguments cut to %d of %d bytes: %v, want GARBAGE_ARGS", v, proc, nw, cut, len(whole), err)
					}
				}
			}
		}
	}
	// Bounds and values: a caller name over 1024 bytes, a cookie over
	// 1024, a boolean of 2, a share mode of 4.
	long := make([]byte, 1025)
	cases := map[string]func(*xdr.Writer){
		"long caller": lockArgs(4, "c", false, true, nlock{caller: string(long), fh: fh}, 1),
		"long cookie": lockArgs(4, string(long), false, true, l, 1),
		"bad bool": func(w *xdr.Writer) {
			w.Opaque([]byte("c"))
			w.Uint32(2)
			w.Bool(true)
			putLock(w, 4, l)
			w.Bool(false)
			w.Int32(1)
		},
	}
	for name, args := range cases {
		if _, err := e.call(a, "tcp", nlm.Program, 4, nlm.ProcLock, args); !garbageErr(err) {
			t.Errorf("%s: %v, want GARBAGE_ARGS", name, err)
		}
	}
	if _, err := e.call(a, "tcp", nlm.Program, 4, nlm.ProcShare, shareArgs("c", "hostA", fh, "o", 4, 1)); !garbageErr(err) {
		t.Errorf("share mode 4: %v, want GARBAGE_ARGS", err)
	}
	if _, err := e.call(a, "tcp", nlm.Program, 4, nlm.ProcShare, shareArgs("c", "hostA", fh, "o", 0, 4)); !garbageErr(err) {
		t.Errorf("share access 4: %v, want GARBAGE_ARGS", err)
	}
	e.wantTable()
}

// TestNMLock: a lock of a client without a status monitor works like
// LOCK but the host is not recorded for restart notifications.
func TestNMLock(t *testing.T) {
	e := newEnv(t)
	a := e.machines[ipA]
	l := nlock{caller: "pc", fh: e.file("f"), oh: "o", svid: 1, len: 1}
	if _, st := res(t, e.mustCall(a, "udp", nlm.Program, 4, nlm.ProcNMLock, lockArgs(4, "n", false, true, l, 0))); st != granted {
		t.Fatalf("NM_LOCK: %d", st)
	}
	e.wantTable(held{"pc", 1, 0, 1, lock.Exclusive, false})
	if hs := e.mon.Hosts(); len(hs) != 0 {
		t.Fatalf("monitored hosts after NM_LOCK: %v", hs)
	}
	l2 := l
	l2.caller = "hostA"
	e.mustCall(a, "udp", nlm.Program, 4, nlm.ProcLock, lockArgs(4, "n", false, true, nlock{caller: "hostA", fh: l.fh, oh: "o", svid: 1, off: 5, len: 1}, 3))
	if hs := e.mon.Hosts(); len(hs) != 1 || hs["hostA"].String() != ipA {
		t.Fatalf("monitored hosts after LOCK: %v", hs)
	}
}
