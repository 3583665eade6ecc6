//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/vm"
)

// TestKernelNLM drives the Linux kernel's NLM client (lockd, with the
// guest's rpc.statd; mounted without nolock) through two mounts that the
// server sees as two client hosts (see nlm_helpers_test.go): fcntl locks
// conflict and report their holder, shared locks coexist, disjoint ranges
// do not conflict, an unlock in the middle splits a lock exactly, a
// blocked F_SETLKW is granted by callback within a second of the release,
// a deadlock between the two clients is refused, and a reboot
// notification of one client frees its locks for the other. `tandem
// locks` is checked at each step.
func TestKernelNLM(t *testing.T) {
	v := client(t)
	srv := newTandemServer(t, v)
	srv.start(t)

	addServerAddr(t, v)

	const mntA, mntB = "/mnt/nlma", "/mnt/nlmb"
	sh(t, v, 2*time.Minute, nfsMountCmd(v, mntA, "")+" && "+mountOtherCmd(mntB))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = v.Exec(ctx, "rm -rf /tmp/nlm-*; for m in "+mntA+" "+mntB+"; do umount $m || umount -f -l $m; done", nil)
	})
	sh(t, v, time.Minute, "rm -rf /tmp/nlm-*; cd "+mntA+" && touch f1 f2 f3 f4 f5 f6 f7 && ls "+mntB+" >/dev/null")
	c := &clients{v: v, srv: srv, a: v.Hostname(), mntA: mntA, mntB: mntB}

	t.Run("conflict", c.conflict)
	t.Run("shared", c.shared)
	t.Run("disjoint", c.disjoint)
	t.Run("split", c.split)
	t.Run("blocking", c.blocking)
	t.Run("deadlock", c.deadlock)
	t.Run("reboot", c.reboot)
}

type clients struct {
	v          *vm.VM
	srv        *tandemServer
	a          string // client A's caller name
	mntA, mntB string
}

func (c *clients) fileA(n string) string { return c.mntA + "/" + n }
func (c *clients) fileB(n string) string { return c.mntB + "/" + n }

// signal creates a file in the guest that a probe waits for.
func (c *clients) signal(t *testing.T, name string) {
	t.Helper()
	sh(t, c.v, 30*time.Second, "touch /tmp/"+name)
}

// release creates the files probes wait for, without failing: a test
// that failed half way still lets its probes (and their locks) go.
func (c *clients) release(names ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, n := range names {
		_, _ = c.v.Exec(ctx, "touch /tmp/"+n, nil)
	}
}

func waitOp(name string) probeOp {
	return probeOp{"op": "waitfile", "path": "/tmp/" + name, "ms": 120000}
}

func touchOp(name string) probeOp { return probeOp{"op": "touch", "path": "/tmp/" + name} }

// pair runs A's operations, then B's once A's are done, and keeps both
// probes (and so their locks) alive until check has looked at the
// server; then both exit, which closes their files and so unlocks.
func (c *clients) pair(t *testing.T, tag string, opsA, opsB []probeOp, check func()) (ra, rb []probeResult) {
	t.Helper()
	held, end, bdone := "nlm-"+tag+"-a", "nlm-"+tag+"-end", "nlm-"+tag+"-b"
	pa := startProbe(c.v, 3*time.Minute, false, append(append(opsA, touchOp(held)), waitOp(end))...)
	pb := startProbe(c.v, 3*time.Minute, true, append(append([]probeOp{waitOp(held)}, opsB...), touchOp(bdone), waitOp(end))...)
	defer c.release(end)
	c.awaitFile(t, bdone, pb)
	check()
	c.signal(t, end)
	ra, rb = pa.wait(t, time.Minute), pb.wait(t, time.Minute)
	c.srv.awaitLocks(t, 10*time.Second)
	return ra, rb
}

// awaitFile waits until the guest has /tmp/name, or p ended.
func (c *clients) awaitFile(t *testing.T, name string, p *probeRun) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		r, err := c.v.Exec(ctx, "test -e /tmp/"+name, nil)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if r.RC == 0 {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("probe ended before /tmp/%s: %v %v", name, p.err, p.res)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no /tmp/%s after 2 minutes", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// conflict: an exclusive lock of A; B's conflicting F_SETLK fails with
// EAGAIN and its F_GETLK reports A's range and type.
func (c *clients) conflict(t *testing.T) {
	ra, rb := c.pair(t, "conflict",
		[]probeOp{openOp("a", c.fileA("f1")), lockOp("a-wr", "a", "F_SETLK", "wr", 0, 100)},
		[]probeOp{
			openOp("b", c.fileB("f1")),
			lockOp("b-wr", "b", "F_SETLK", "wr", 50, 10),
			lockOp("b-rd", "b", "F_SETLK", "rd", 99, 1),
			lockOp("b-get", "b", "F_GETLK", "rd", 60, 200),
			lockOp("b-ok", "b", "F_SETLK", "wr", 100, 10),
		},
		func() { c.srv.wantLocks(t, c.a+" exclusive 0+100 nlm", otherHost+" exclusive 100+10 nlm") })
	wantOK(t, ra, "a-wr")
	wantErrno(t, rb, "b-wr", "EAGAIN")
	wantErrno(t, rb, "b-rd", "EAGAIN")
	get := wantOK(t, rb, "b-get")
	if get.Lock == nil || get.Lock.Type != "wr" || get.Lock.Start != 0 || get.Lock.Len != 100 {
		t.Fatalf("F_GETLK: %s, want a write lock 0+100", get)
	}
	wantOK(t, rb, "b-ok")
}

// shared: shared locks of both clients over the same range coexist and
// keep out an exclusive one.
func (c *clients) shared(t *testing.T) {
	ra, rb := c.pair(t, "shared",
		[]probeOp{openOp("a", c.fileA("f2")), lockOp("a-rd", "a", "F_SETLK", "rd", 0, 100)},
		[]probeOp{
			openOp("b", c.fileB("f2")),
			lockOp("b-rd", "b", "F_SETLK", "rd", 0, 100),
			lockOp("b-wr", "b", "F_SETLK", "wr", 0, 1),
			lockOp("b-get", "b", "F_GETLK", "wr", 0, 1),
			lockOp("b-get-rd", "b", "F_GETLK", "rd", 0, 1),
		},
		func() { c.srv.wantLocks(t, c.a+" shared 0+100 nlm", otherHost+" shared 0+100 nlm") })
	wantOK(t, ra, "a-rd")
	wantOK(t, rb, "b-rd")
	wantErrno(t, rb, "b-wr", "EAGAIN")
	if g := wantOK(t, rb, "b-get"); g.Lock == nil || g.Lock.Type != "rd" || g.Lock.Start != 0 || g.Lock.Len != 100 {
		t.Fatalf("F_GETLK wr over shared locks: %s", g)
	}
	if g := wantOK(t, rb, "b-get-rd"); g.Lock == nil || g.Lock.Type != "un" {
		t.Fatalf("F_GETLK rd over shared locks: %s", g)
	}
}

// disjoint: exclusive locks of ranges that do not overlap, one of them
// to the end of the file, both succeed.
func (c *clients) disjoint(t *testing.T) {
	ra, rb := c.pair(t, "disjoint",
		[]probeOp{openOp("a", c.fileA("f3")), lockOp("a-wr", "a", "F_SETLK", "wr", 0, 10)},
		[]probeOp{openOp("b", c.fileB("f3")), lockOp("b-wr", "b", "F_SETLK", "wr", 10, 0)},
		func() { c.srv.wantLocks(t, c.a+" exclusive 0+10 nlm", otherHost+" exclusive 10+0 nlm") })
	wantOK(t, ra, "a-wr")
	wantOK(t, rb, "b-wr")
}

// split: unlocking the middle of A's lock leaves exactly the two ends;
// B can lock the hole and nothing else.
func (c *clients) split(t *testing.T) {
	ra, rb := c.pair(t, "split",
		[]probeOp{
			openOp("a", c.fileA("f4")),
			lockOp("a-wr", "a", "F_SETLK", "wr", 0, 300),
			lockOp("a-un", "a", "F_SETLK", "un", 100, 100),
		},
		[]probeOp{
			openOp("b", c.fileB("f4")),
			lockOp("b-hole", "b", "F_SETLK", "wr", 100, 100),
			lockOp("b-left", "b", "F_SETLK", "wr", 99, 1),
			lockOp("b-right", "b", "F_SETLK", "wr", 200, 1),
			lockOp("b-get", "b", "F_GETLK", "wr", 150, 100),
		},
		func() {
			c.srv.wantLocks(t, c.a+" exclusive 0+100 nlm", otherHost+" exclusive 100+100 nlm", c.a+" exclusive 200+100 nlm")
		})
	wantOK(t, ra, "a-wr")
	wantOK(t, ra, "a-un")
	wantOK(t, rb, "b-hole")
	wantErrno(t, rb, "b-left", "EAGAIN")
	wantErrno(t, rb, "b-right", "EAGAIN")
	if g := wantOK(t, rb, "b-get"); g.Lock == nil || g.Lock.Type != "wr" || g.Lock.Start != 200 || g.Lock.Len != 100 {
		t.Fatalf("F_GETLK after the split: %s, want a write lock 200+100", g)
	}
}

// blocking: B's F_SETLKW waits behind A's lock and is granted by the
// server's NLM_GRANTED callback within a second of A's unlock (the
// client's own 30 second poll cannot be what wakes it).
func (c *clients) blocking(t *testing.T) {
	pa := startProbe(c.v, 3*time.Minute, false,
		openOp("a", c.fileA("f5")),
		lockOp("a-wr", "a", "F_SETLK", "wr", 0, 100),
		touchOp("nlm-b-held"), waitOp("nlm-b-go"),
		lockOp("a-un", "a", "F_SETLK", "un", 0, 100),
		waitOp("nlm-b-end"))
	pb := startProbe(c.v, 3*time.Minute, true,
		waitOp("nlm-b-held"),
		openOp("b", c.fileB("f5")),
		lockOp("b-wait", "b", "F_SETLKW", "wr", 50, 100),
		waitOp("nlm-b-end"))
	defer c.release("nlm-b-go", "nlm-b-end")
	c.srv.awaitLocks(t, time.Minute, c.a+" exclusive 0+100 nlm", otherHost+" exclusive 50+100 nlm waiting")
	// Let B's request sit for a while: the grant must come from the
	// release, whenever that is.
	time.Sleep(2 * time.Second)
	c.signal(t, "nlm-b-go")
	c.srv.awaitLocks(t, 10*time.Second, otherHost+" exclusive 50+100 nlm")
	c.signal(t, "nlm-b-end")
	ra, rb := pa.wait(t, time.Minute), pb.wait(t, time.Minute)
	wantOK(t, ra, "a-wr")
	un := wantOK(t, ra, "a-un")
	w := wantOK(t, rb, "b-wait")
	if w.T0 >= un.T0 {
		t.Fatalf("B's F_SETLKW started at %d, not before A's unlock at %d", w.T0, un.T0)
	}
	lat := time.Duration(w.T1 - un.T0)
	t.Logf("F_SETLKW granted %v after the unlock began (waited %v in all)", lat, time.Duration(w.T1-w.T0))
	if lat < 0 || lat >= time.Second {
		t.Fatalf("F_SETLKW returned %v after the unlock began; want under 1s", lat)
	}
	c.srv.awaitLocks(t, 10*time.Second)
}

// deadlock: A holds r1 and waits for r2; B holds r2 and asks for r1. B's
// F_SETLKW fails with EDEADLK instead of hanging, and once B lets r2 go,
// A gets it.
func (c *clients) deadlock(t *testing.T) {
	pa := startProbe(c.v, 3*time.Minute, false,
		openOp("a", c.fileA("f6")),
		lockOp("a-r1", "a", "F_SETLK", "wr", 0, 10),
		touchOp("nlm-d-a"), waitOp("nlm-d-b"),
		lockOp("a-r2", "a", "F_SETLKW", "wr", 10, 10),
		waitOp("nlm-d-end"))
	pb := startProbe(c.v, 3*time.Minute, true,
		waitOp("nlm-d-a"),
		openOp("b", c.fileB("f6")),
		lockOp("b-r2", "b", "F_SETLK", "wr", 10, 10),
		touchOp("nlm-d-b"), waitOp("nlm-d-go"),
		lockOp("b-r1", "b", "F_SETLKW", "wr", 0, 10),
		lockOp("b-un", "b", "F_SETLK", "un", 10, 10),
		waitOp("nlm-d-end"))
	defer c.release("nlm-d-go", "nlm-d-end")
	c.srv.awaitLocks(t, time.Minute,
		c.a+" exclusive 0+10 nlm", otherHost+" exclusive 10+10 nlm", c.a+" exclusive 10+10 nlm waiting")
	c.signal(t, "nlm-d-go")
	c.srv.awaitLocks(t, 30*time.Second, c.a+" exclusive 0+20 nlm")
	c.signal(t, "nlm-d-end")
	ra, rb := pa.wait(t, time.Minute), pb.wait(t, time.Minute)
	wantOK(t, ra, "a-r1")
	wantOK(t, rb, "b-r2")
	wantErrno(t, rb, "b-r1", "EDEADLK")
	wantOK(t, rb, "b-un")
	wantOK(t, ra, "a-r2")
	c.srv.awaitLocks(t, 10*time.Second)
}

// reboot: A holds locks and B waits behind one. Client A reboots, as
// far as the server can tell: sm-notify, on A's record of the guest's
// status monitor, sends SM_NOTIFY with a new state to the server's status
// monitor, found through the server's portmapper. A's locks go, B is
// granted, and `tandem locks` shows only B.
func (c *clients) reboot(t *testing.T) {
	pa := startProbe(c.v, 3*time.Minute, false,
		openOp("a", c.fileA("f7")),
		lockOp("a-wr", "a", "F_SETLK", "wr", 0, 0),
		openOp("a2", c.fileA("f6")),
		lockOp("a-rd", "a2", "F_SETLK", "rd", 5, 5),
		touchOp("nlm-r-held"), waitOp("nlm-r-end"))
	pb := startProbe(c.v, 3*time.Minute, true,
		waitOp("nlm-r-held"),
		openOp("b", c.fileB("f7")),
		lockOp("b-wait", "b", "F_SETLKW", "wr", 4096, 10),
		touchOp("nlm-r-b"), waitOp("nlm-r-end"))
	defer c.release("nlm-r-end")
	c.srv.awaitLocks(t, time.Minute,
		c.a+" shared 5+5 nlm", c.a+" exclusive 0+0 nlm", otherHost+" exclusive 4096+10 nlm waiting")
	out := sh(t, c.v, 2*time.Minute, smNotifyA(c.v))
	c.awaitFile(t, "nlm-r-b", pb)
	c.srv.wantLocks(t, otherHost+" exclusive 4096+10 nlm")
	if log := c.srv.lastLog(); !strings.Contains(log, "host rebooted") || !strings.Contains(log, "name="+c.a) {
		t.Fatalf("server log has no reboot of %s (sm-notify said: %s):\n%s", c.a, out, log)
	}
	c.signal(t, "nlm-r-end")
	ra, rb := pa.wait(t, time.Minute), pb.wait(t, time.Minute)
	wantOK(t, ra, "a-wr")
	wantOK(t, ra, "a-rd")
	wantOK(t, rb, "b-wait")
	c.srv.awaitLocks(t, 10*time.Second)
}
