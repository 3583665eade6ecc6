package nlm_test

import (
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/nlm"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

const graceStat = uint32(nlm.StatDeniedGrace)

// lockStat sends LOCK (or a reclaim) from m and returns its status.
func (e *env) lockStat(m *machine, nw string, l nlock, excl, reclaim bool) uint32 {
	e.t.Helper()
	args := lockArgs(4, "c", false, excl, l, 1)
	if reclaim {
		args = reclaimArgs(l, excl)
	}
	_, st := res(e.t, e.mustCall(m, nw, nlm.Program, 4, nlm.ProcLock, args))
	return st
}

func (e *env) prior() int {
	n := 0
	for _, x := range e.mgr.Snapshot() {
		if x.Owner.Prior {
			n++
		}
	}
	return n
}

// TestGraceReclaim: after a restart the locks come back as prior state;
// during grace a reclaim gets exactly what its owner held, anything else
// is refused, new requests are told to wait; once all is reclaimed grace
// ends, and a reclaim after it is refused.
func TestGraceReclaim(t *testing.T) {
	e := newEnv(t, persistent(time.Minute))
	a, b := e.machines[ipA], e.machines[ipB]
	fh := e.file("f")
	la := nlock{caller: "hostA", fh: fh, oh: "a", svid: 1, off: 0, len: 10}
	lb := nlock{caller: "hostB", fh: fh, oh: "b", svid: 2, off: 20, len: 10}
	if st := e.lockStat(a, "tcp", la, true, false); st != granted {
		t.Fatalf("A's lock: %d", st)
	}
	if st := e.lockStat(b, "udp", lb, false, false); st != granted {
		t.Fatalf("B's lock: %d", st)
	}
	e.mustCall(a, "tcp", nlm.Program, 4, nlm.ProcShare, shareArgs("s", "hostA", fh, "a", 2, 1))

	e.restart()
	if !e.mgr.InGrace() || e.prior() != 3 {
		t.Fatalf("after restart: grace %v, %d prior entries", e.mgr.InGrace(), e.prior())
	}
	// New requests wait for grace, TEST included.
	lc := nlock{caller: "hostB", fh: fh, oh: "b", svid: 2, off: 100, len: 1}
	if st := e.lockStat(b, "tcp", lc, true, false); st != graceStat {
		t.Fatalf("new lock in grace: %d", st)
	}
	if _, st := res(t, e.mustCall(b, "tcp", nlm.Program, 4, nlm.ProcTest, testArgs(4, "t", true, lc))); st != graceStat {
		t.Fatalf("TEST in grace: %d", st)
	}
	if _, st := shareRes(t, e.mustCall(b, "tcp", nlm.Program, 4, nlm.ProcShare, shareArgs("s", "hostB", fh, "b", 0, 1))); st != graceStat {
		t.Fatalf("new SHARE in grace: %d", st)
	}
	// B cannot reclaim A's lock, nor more than it held, nor exclusively.
	stolen := la
	stolen.caller, stolen.oh, stolen.svid = "hostB", "b", 2
	for _, c := range []struct {
		l    nlock
		excl bool
	}{{stolen, true}, {lb, true}, {nlock{caller: "hostB", fh: fh, oh: "b", svid: 2, off: 20, len: 11}, false}} {
		if st := e.lockStat(b, "tcp", c.l, c.excl, true); st != denied {
			t.Fatalf("reclaim of %+v excl=%v: %d, want denied", c.l, c.excl, st)
		}
	}
	if e.prior() != 3 {
		t.Fatalf("refused reclaims changed the table: %d prior", e.prior())
	}
	if st := e.lockStat(a, "tcp", la, true, true); st != granted {
		t.Fatalf("A's reclaim: %d", st)
	}
	if _, st := shareRes(t, e.mustCall(a, "tcp", nlm.Program, 4, nlm.ProcShare, reclaimShareArgs("s", "hostA", fh, "a", 2, 1))); st != granted {
		t.Fatalf("A's share reclaim: %d", st)
	}
	if !e.mgr.InGrace() {
		t.Fatal("grace ended with B's lock prior")
	}
	if st := e.lockStat(b, "udp", lb, false, true); st != granted {
		t.Fatalf("B's reclaim: %d", st)
	}
	if e.mgr.InGrace() || e.prior() != 0 {
		t.Fatalf("everything reclaimed: grace %v, %d prior", e.mgr.InGrace(), e.prior())
	}
	e.wantTable(
		held{"hostA", 1, 0, 10, lock.Exclusive, false},
		held{"hostB", 2, 20, 10, lock.Shared, false},
	)
	if st := e.lockStat(b, "udp", lb, false, true); st != graceStat {
		t.Fatalf("reclaim after grace: %d", st)
	}
	if st := e.lockStat(b, "tcp", lc, true, false); st != granted {
		t.Fatalf("new lock after grace: %d", st)
	}
	// What was reclaimed is persisted as any lock: a second crash keeps it.
	e.restart()
	if e.prior() != 4 {
		t.Fatalf("after a second restart: %d prior entries, want 4", e.prior())
	}
}

// TestGraceEndReleases: what nobody reclaims goes when grace ends, and
// the lock is then free for others.
func TestGraceEndReleases(t *testing.T) {
	e := newEnv(t, persistent(300*time.Millisecond))
	a, b := e.machines[ipA], e.machines[ipB]
	fh := e.file("f")
	la := nlock{caller: "hostA", fh: fh, oh: "a", svid: 1, off: 0, len: 10}
	if st := e.lockStat(a, "tcp", la, true, false); st != granted {
		t.Fatalf("A's lock: %d", st)
	}
	e.restart()
	lb := nlock{caller: "hostB", fh: fh, oh: "b", svid: 2, off: 5, len: 1}
	if st := e.lockStat(b, "tcp", lb, true, false); st != graceStat {
		t.Fatalf("B in grace: %d", st)
	}
	time.Sleep(300 * time.Millisecond)
	e.mgr.Expire()
	if e.mgr.InGrace() || e.prior() != 0 {
		t.Fatalf("after the grace period: grace %v, %d prior", e.mgr.InGrace(), e.prior())
	}
	if st := e.lockStat(b, "tcp", lb, true, false); st != granted {
		t.Fatalf("B after grace: %d", st)
	}
}

// TestLockBreaksSMBWriteCaching: an SMB client with write caching keeps
// its byte-range locks to itself; an NLM LOCK or TEST first breaks its
// write caching, and the client sends the lock it kept before it
// acknowledges, so that the NLM request meets it.
func TestLockBreaksSMBWriteCaching(t *testing.T) {
	var e *env
	open := lock.SMBOwner("smb-client", 1)
	lease := lock.LeaseOwner("smb-client", [16]byte{1})
	acked := make(chan struct{}, 1)
	e = newEnv(t, withNLM(func(o *nlm.Options) {
		o.BreakWait = 2 * time.Second
		o.Notices = func(ns []lock.Notice) {
			for _, n := range ns {
				if n.Status != lock.Breaking {
					continue
				}
				// The SMB client: flush, push the cached lock, then ack.
				go func(n lock.Notice) {
					k := n.Break.File
					e.mgr.Lock(lock.Request{File: k, Owner: open, Range: lock.Range{Offset: 0, Length: 100}, Mode: lock.Exclusive})
					e.mgr.AckBreak(lease, n.Break.To)
					acked <- struct{}{}
				}(n)
			}
			e.h.Deliver(ns)
		}
	}))
	b := e.machines[ipB]
	fh := e.file("f")
	key := e.keyOf(fh)
	if _, st := e.mgr.AddShare(key, open, lock.AccessRead|lock.AccessWrite, lock.ShareRead|lock.ShareWrite); st != lock.Granted {
		t.Fatal(st)
	}
	g, st := e.mgr.GrantCaching(lock.CacheRequest{File: key, Open: open, Holder: lease, Lease: true,
		Want: lock.CacheRead | lock.CacheWrite | lock.CacheHandle})
	if st != lock.Granted || g.State&lock.CacheWrite == 0 {
		t.Fatalf("lease %+v %v", g, st)
	}
	lb := nlock{caller: "hostB", fh: fh, oh: "b", svid: 2, off: 50, len: 10}
	hr := testRes(t, 4, e.mustCall(b, "tcp", nlm.Program, 4, nlm.ProcTest, testArgs(4, "t", true, lb)))
	if hr.stat != denied || !hr.excl || hr.off != 0 || hr.len != 100 {
		t.Fatalf("TEST under a write-caching lease: %+v, want denied by the SMB lock 0+100", hr)
	}
	<-acked
	if st := e.lockStat(b, "tcp", lb, true, false); st != denied {
		t.Fatalf("LOCK after the break: %d", st)
	}
}

// TestLockWaitsForSlowSMBClient: a client that does not acknowledge in
// time makes the NLM client retry, and nothing is granted meanwhile.
func TestLockWaitsForSlowSMBClient(t *testing.T) {
	e := newEnv(t, withNLM(func(o *nlm.Options) { o.BreakWait = 100 * time.Millisecond }))
	b := e.machines[ipB]
	fh := e.file("f")
	key := e.keyOf(fh)
	open := lock.SMBOwner("smb-client", 1)
	lease := lock.LeaseOwner("smb-client", [16]byte{1})
	e.mgr.AddShare(key, open, lock.AccessRead|lock.AccessWrite, lock.ShareRead|lock.ShareWrite)
	e.mgr.GrantCaching(lock.CacheRequest{File: key, Open: open, Holder: lease, Lease: true, Want: lock.CacheRead | lock.CacheWrite})
	lb := nlock{caller: "hostB", fh: fh, oh: "b", svid: 2, off: 50, len: 10}
	if st := e.lockStat(b, "tcp", lb, true, false); st != graceStat {
		t.Fatalf("LOCK while the SMB client sits on its break: %d", st)
	}
	if n := len(e.table()); n != 0 {
		t.Fatalf("%d locks granted while waiting", n)
	}
	e.mgr.AckBreak(lease, lock.CacheRead)
	if st := e.lockStat(b, "tcp", lb, true, false); st != granted {
		t.Fatalf("LOCK after the ack: %d", st)
	}
}

func reclaimArgs(l nlock, excl bool) func(*xdr.Writer) {
	return func(w *xdr.Writer) {
		w.Opaque([]byte("r"))
		w.Bool(false)
		w.Bool(excl)
		putLock(w, 4, l)
		w.Bool(true)
		w.Int32(1)
	}
}

func reclaimShareArgs(cookie, caller string, fh []byte, oh string, mode, access uint32) func(*xdr.Writer) {
	return func(w *xdr.Writer) {
		w.Opaque([]byte(cookie))
		w.String(caller)
		w.Opaque(fh)
		w.Opaque([]byte(oh))
		w.Uint32(mode)
		w.Uint32(access)
		w.Bool(true)
	}
}

func (e *env) keyOf(fh []byte) lock.FileKey {
	e.t.Helper()
	h, err := fs.ParseHandle(fh)
	if err != nil {
		e.t.Fatal(err)
	}
	return lock.KeyOf(h)
}
