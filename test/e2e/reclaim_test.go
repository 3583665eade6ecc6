//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// reclaimGrace is the grace period of TestCrossProtocolReclaim's server
// (the default is 90 s): long enough for the clients to reclaim through
// the VM's emulated CPU, short enough that a test that sees it run out
// says so in reasonable time.
const reclaimGrace = 25 * time.Second

// TestCrossProtocolReclaim kills the server with kill -9 while the Linux
// kernel's NFS client (two client hosts, A and B, as in TestKernelNLM) and
// CIFS client (SMB 3.1.1, default options: leases on) hold locks, and
// starts it again on the same data directory with a grace period:
//
//   - NFS client A holds a write lock of f1, and B waits for it (F_SETLKW).
//     After the restart A's lockd reclaims its lock on the server's
//     SM_NOTIFY; B's lockd, woken by its own SM_NOTIFY, sends its blocked
//     request again, hears that the server is in grace and tries again
//     every 5 s, and waits on the server once grace is over. A keeps the
//     lock (B's F_GETLK shows it, F_SETLK gets EAGAIN) until it unlocks;
//     then B is granted by the server's GRANTED callback at once.
//   - A program on the CIFS mount has written to f2 and f3 and locked
//     0..100 of each, under write-caching leases. The server learnt of f3's
//     lock before the kill (an NFS open of f3 broke the lease: the client
//     sent it) and persisted it; of f2's it knows nothing, nor of f2's data. The
//     client's handles are not durable (the server grants no durable
//     handle), so once it has reconnected it opens each file again when
//     the program next writes to it (its durable reconnect, DHnC, is
//     refused with STATUS_OBJECT_NAME_NOT_FOUND and it opens afresh):
//     f3 gets a lease without write caching, as f3 has unreclaimed state,
//     so the client sends its lock again and the server gives it back;
//     f2 gets write caching again and the client keeps its lock to itself,
//     as before the kill. Either way the NFS client's write into the locked
//     range is refused (EACCES) and its fcntl lock gets EAGAIN (for f2,
//     after the break makes the client send the lock), and no data is lost.
//
// `tandem locks` shows the same entries before the kill and after the
// reclaims, owners included, but for f3's lease, which caches reads only
// after the restart where it cached nothing before.
func TestCrossProtocolReclaim(t *testing.T) {
	v := client(t)
	srv := newTandemServer(t, v)
	srv.args = []string{"--grace-period", reclaimGrace.String()}
	addSMBUser(t, srv, "tester", "0")
	srv.start(t)
	waitSMB(t, srv)
	addServerAddr(t, v)

	const mntA, mntB, mntC = "/mnt/rca", "/mnt/rcb", "/mnt/rcc"
	sh(t, v, 2*time.Minute, nfsMountCmd(v, mntA, "")+" && "+mountOtherCmd(mntB)+" && "+cifsMountCmd(v, mntC, "vers=3.1.1"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = v.Exec(ctx, "echo 0 > /proc/sys/sunrpc/nlm_debug; rm -f /tmp/rc-*; umount "+mntC+" || umount -l "+mntC+
			"; for m in "+mntA+" "+mntB+"; do umount $m || umount -f -l $m; done", nil)
	})
	// The guest's lockd logs what it sends and receives (NLMDBG_CLIENT and
	// NLMDBG_MONITOR): reclaims, retries in grace, GRANTED callbacks.
	sh(t, v, 10*time.Second, "echo 0x12 > /proc/sys/sunrpc/nlm_debug && dmesg -C")
	sh(t, v, time.Minute, "rm -f /tmp/rc-*; touch "+mntA+"/f1 && ls "+mntB+" >/dev/null")

	c := &clients{v: v, srv: srv, a: v.Hostname(), mntA: mntA, mntB: mntB}
	lv := newLockView()
	lv.owners = true
	a, b := c.a, otherHost
	data2 := strings.Repeat("f2-cached-", 20) // 200 bytes each
	data3 := strings.Repeat("f3-pushed-", 20)
	wait := func(name string) probeOp { return probeOp{"op": "waitfile", "path": "/tmp/" + name, "ms": 300000} }

	pa := startProbe(v, 6*time.Minute, false,
		openOp("a", mntA+"/f1"),
		lockOp("a-wr", "a", "F_SETLK", "wr", 0, 100),
		touchOp("rc-a-held"), wait("rc-a-go"),
		lockOp("a-un", "a", "F_SETLK", "un", 0, 100),
		wait("rc-end"))
	pb := startProbe(v, 6*time.Minute, true,
		wait("rc-a-held"),
		openOp("b", mntB+"/f1"),
		lockOp("b-wait", "b", "F_SETLKW", "wr", 50, 100),
		touchOp("rc-b-got"), wait("rc-end"))
	pc := startProbe(v, 6*time.Minute, false,
		openOp("c2", mntC+"/f2"),
		probeOp{"op": "pwrite", "id": "c2-write", "fd": "c2", "off": 0, "data": data2},
		lockOp("c2-wr", "c2", "F_SETLK", "wr", 0, 100),
		openOp("c3", mntC+"/f3"),
		probeOp{"op": "pwrite", "id": "c3-write", "fd": "c3", "off": 0, "data": data3},
		lockOp("c3-wr", "c3", "F_SETLK", "wr", 0, 100),
		touchOp("rc-c-held"), wait("rc-c-go"),
		probeOp{"op": "pwrite", "id": "c3-again", "fd": "c3", "off": 10, "data": "AGAIN3"},
		probeOp{"op": "pwrite", "id": "c2-again", "fd": "c2", "off": 10, "data": "AGAIN2"},
		probeOp{"op": "fsync", "id": "c2-fsync", "fd": "c2"},
		touchOp("rc-c-wrote"), wait("rc-end"))
	defer c.release("rc-a-go", "rc-c-go", "rc-end")

	// Before the kill.
	c.awaitFile(t, "rc-a-held", pa)
	c.awaitFile(t, "rc-c-held", pc)
	lv.name(inodeOf(t, c, mntA+"/f1"), "f1")
	lv.name(inodeOf(t, c, mntC+"/f2"), "f2")
	lv.name(inodeOf(t, c, mntC+"/f3"), "f3")
	srv.awaitRanges(t, lv, time.Minute, "f1 range exclusive 0+100 nlm "+a, "f1 range exclusive 50+100 nlm "+b+" waiting")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rs := probe(ctx, t, v,
		probeOp{"op": "open", "fd": "n", "path": mntA + "/f3", "flags": "O_RDWR"},
		lockOp("a-get3", "n", "F_GETLK", "wr", 0, 0))
	wantGetlk(t, rs, "a-get3", "wr", 0, 100, 0)
	// f3's data the break flushed. f2's is in the CIFS client's cache
	// only: no NFS request may look at f2 here, as its LOOKUP or GETATTR
	// would break the lease too.
	expectSh(t, v, 30*time.Second, "stat -c %s "+mntA+"/f3", "200\n")
	es := srv.entries(t)
	before := lv.all(es)
	owner := ownersByClient(lv, es)
	want := []string{
		"f1 range exclusive 0+100 nlm " + a + " (" + owner[a] + ")",
		"f1 range exclusive 50+100 nlm " + b + " waiting (" + owner[b] + ")",
		"f2 caching RWH smb cifs (" + owner["f2"] + ")",
		"f2 share rw-/rwd smb cifs",
		"f3 caching none smb cifs (" + owner["f3"] + ")",
		"f3 range exclusive 0+100 smb cifs",
		"f3 share rw-/rwd smb cifs",
	}
	wantView(t, "before the kill", before, want)
	if len(lv.guids) != 1 {
		t.Fatalf("SMB clients: %v, want one", lv.guids)
	}

	// kill -9, and a new server on the same data.
	killed := time.Now()
	srv.kill9(t)
	srv.start(t)
	waitSMB(t, srv)
	up := time.Now()
	t.Logf("server restarted %v after the kill", up.Sub(killed).Round(time.Millisecond))
	g := srv.grace(t)
	if !g.Active || g.Ends.After(killed.Add(reclaimGrace+5*time.Second)) || g.Ends.Before(up.Add(reclaimGrace-5*time.Second)) {
		t.Fatalf("grace after the restart: %+v, want one of %v", g, reclaimGrace)
	}
	// A reclaims on SM_NOTIFY. The CIFS client's opens are durable (it
	// asks for durable handles with its leases, and the server grants
	// them): they come back with their share reservations, leases and
	// f3's lock, and wait for the client, which reconnects but takes
	// nothing back until its program writes.
	srv.awaitRanges(t, lv, reclaimGrace, "f1 range exclusive 0+100 nlm "+a, "f3 range exclusive 0+100 smb cifs unreclaimed")
	t.Logf("A reclaimed within %v of the restart", time.Since(up).Round(time.Millisecond))
	wantView(t, "after A's reclaim", lv.all(srv.entries(t)), []string{
		"f1 range exclusive 0+100 nlm " + a + " (" + owner[a] + ")",
		"f2 caching RWH smb cifs unreclaimed (" + owner["f2"] + ")",
		"f2 share rw-/rwd smb cifs unreclaimed",
		"f3 caching none smb cifs unreclaimed (" + owner["f3"] + ")",
		"f3 range exclusive 0+100 smb cifs unreclaimed",
		"f3 share rw-/rwd smb cifs unreclaimed",
	})
	var guid string
	for k := range lv.guids {
		guid = k
	}
	if g := srv.grace(t); !g.Active || g.Unreclaimed != 5 || !slices.Equal(g.Clients, []string{"smb:" + guid}) {
		t.Fatalf("grace while the CIFS client has not reclaimed: %+v, want 5 entries of smb:%s", g, guid)
	}

	// The CIFS program writes again: the client reconnects its durable
	// handles (DHnC), which brings back f3's lock with its open; f2's lock
	// it still keeps to itself under its write lease.
	c.signal(t, "rc-c-go")
	c.awaitFile(t, "rc-c-wrote", pc)
	reclaimed := time.Now()
	t.Logf("the CIFS program's writes done %v after the restart", reclaimed.Sub(up).Round(time.Millisecond))
	// Nothing is left to reclaim: the grace period ends early.
	for deadline := time.Now().Add(5 * time.Second); srv.grace(t).Active; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("grace still on with everything reclaimed: %s; locks %q", srv.grace(t), lv.all(srv.entries(t)))
		}
	}
	t.Logf("grace over within %v of the restart (of %v)", time.Since(up).Round(100*time.Millisecond), reclaimGrace)
	// (The server logs it within a second.)
	for deadline := time.Now().Add(3 * time.Second); !strings.Contains(srv.lastLog(), "grace period over: everything was reclaimed"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not log the end of grace:\n%s", withoutAdmin(srv.lastLog()))
		}
	}
	// B's lockd, retrying every 5 s, waits on the server again.
	srv.awaitRanges(t, lv, 15*time.Second, "f1 range exclusive 0+100 nlm "+a, "f1 range exclusive 50+100 nlm "+b+" waiting",
		"f3 range exclusive 0+100 smb cifs")
	t.Logf("B waits on the server again %v after the restart", time.Since(up).Round(time.Millisecond))
	after := lv.all(srv.entries(t))
	wantView(t, "after the reclaims", after, want)

	// B sees A's lock; the NFS client meets the CIFS client's locks.
	rb, err := probeOn(ctx, v, true,
		probeOp{"op": "open", "fd": "b", "path": mntB + "/f1", "flags": "O_RDWR"},
		lockOp("b-get", "b", "F_GETLK", "wr", 0, 0),
		lockOp("b-set", "b", "F_SETLK", "wr", 50, 10))
	if err != nil {
		t.Fatal(err)
	}
	// Linux reports the holder's svid, negated, as the pid of an NLM lock.
	svid, err := strconv.Atoi(strings.Fields(owner[a])[1])
	if err != nil {
		t.Fatalf("A's owner %q: %v", owner[a], err)
	}
	wantGetlk(t, rb, "b-get", "wr", 0, 100, int32(-svid))
	wantErrno(t, rb, "b-set", "EAGAIN")
	rn := probe(ctx, t, v,
		probeOp{"op": "open", "fd": "n2", "path": mntA + "/f2", "flags": "O_RDWR|O_DIRECT"},
		probeOp{"op": "pwrite", "id": "n2-write", "fd": "n2", "off": 20, "data": "nfs"},
		lockOp("n2-lock", "n2", "F_SETLK", "wr", 0, 10),
		probeOp{"op": "pread", "id": "n2-read", "fd": "n2", "off": 100, "len": 100},
		probeOp{"op": "open", "fd": "n3", "path": mntA + "/f3", "flags": "O_RDWR|O_DIRECT"},
		probeOp{"op": "pwrite", "id": "n3-write", "fd": "n3", "off": 20, "data": "nfs"},
		lockOp("n3-lock", "n3", "F_SETLK", "wr", 0, 10),
		probeOp{"op": "pread", "id": "n3-read", "fd": "n3", "off": 100, "len": 100})
	for _, f := range []string{"2", "3"} {
		wantErrno(t, rn, "n"+f+"-write", "EACCES")
		wantErrno(t, rn, "n"+f+"-lock", "EAGAIN")
	}
	wantData(t, rn, "n2-read", data2[100:])
	wantData(t, rn, "n3-read", data3[100:])
	// The NFS write broke f2's lease, and the client sent its lock.
	srv.awaitRanges(t, lv, 10*time.Second, "f1 range exclusive 0+100 nlm "+a, "f1 range exclusive 50+100 nlm "+b+" waiting",
		"f2 range exclusive 0+100 smb cifs", "f3 range exclusive 0+100 smb cifs")

	// A unlocks; B is granted by callback.
	c.signal(t, "rc-a-go")
	c.awaitFile(t, "rc-b-got", pb)
	c.signal(t, "rc-end")
	ra, rbw, rc := pa.wait(t, time.Minute), pb.wait(t, time.Minute), pc.wait(t, time.Minute)
	srv.awaitRanges(t, lv, 10*time.Second)
	wantOK(t, ra, "a-wr")
	un, w := wantOK(t, ra, "a-un"), wantOK(t, rbw, "b-wait")
	lat := time.Duration(w.T1 - un.T0)
	t.Logf("B's F_SETLKW granted %v after A's unlock began (it waited %v in all, across the restart)", lat, took(w))
	if lat < 0 || lat >= time.Second {
		t.Fatalf("B's F_SETLKW returned %v after A's unlock began; want under 1s", lat)
	}
	lockd := guestLockd(t, c)
	checkLockd(t, lockd, v.HostIP())

	for _, id := range []string{"c2-write", "c2-wr", "c3-write", "c3-wr", "c2-again", "c2-fsync"} {
		wantOK(t, rc, id)
	}
	// The first write after the restart waited for the client to
	// reconnect (it tries every 3 s) and to open f3 again.
	t.Logf("the CIFS program's first write after the restart took %v", took(wantOK(t, rc, "c3-again")))
	rd := mustProbe(t, v, time.Minute,
		probeOp{"op": "open", "fd": "n2", "path": mntA + "/f2", "flags": "O_RDONLY|O_DIRECT"},
		probeOp{"op": "pread", "id": "n2-all", "fd": "n2", "off": 0, "len": 300},
		probeOp{"op": "open", "fd": "n3", "path": mntA + "/f3", "flags": "O_RDONLY|O_DIRECT"},
		probeOp{"op": "pread", "id": "n3-all", "fd": "n3", "off": 0, "len": 300})
	wantData(t, rd, "n2-all", data2[:10]+"AGAIN2"+data2[16:])
	wantData(t, rd, "n3-all", data3[:10]+"AGAIN3"+data3[16:])
	srv.checkLogs(t)
}

// ownersByClient maps each NLM client to the owner (svid and owner
// handle) of its entries, and each file (by its view name) to the owner of
// its SMB lease.
func ownersByClient(lv *lockView, es []lockEntry) map[string]string {
	m := map[string]string{}
	for _, e := range es {
		switch {
		case e.Proto == "nlm":
			m[e.Client] = e.Owner
		case e.Kind == "caching":
			m[lv.file(e.File)] = e.Owner
		}
	}
	return m
}

// wantView fails t unless a view of `tandem locks` is exactly want.
func wantView(t *testing.T, when string, got, want []string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Fatalf("tandem locks %s:\n got %q\nwant %q", when, got, want)
	}
}

// guestLockd returns the guest kernel's lockd messages.
func guestLockd(t *testing.T, c *clients) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(sh(t, c.v, 30*time.Second, "dmesg"), "\n") {
		if strings.Contains(l, "lockd:") || strings.Contains(l, "NLM:") {
			out = append(out, l)
		}
	}
	return out
}

// checkLockd checks, from the guest's lockd messages, that A's lockd
// reclaimed on the server's SM_NOTIFY, and that what granted B's waiting
// lock after A's UNLOCK was the server's GRANTED callback, not a request
// of B's sent again.
func checkLockd(t *testing.T, log []string, serverIP string) {
	t.Helper()
	has := func(from int, s string) int {
		for i := from; i < len(log); i++ {
			if strings.Contains(log[i], s) {
				return i
			}
		}
		return -1
	}
	text := strings.Join(log, "\n")
	notify := has(0, "SM_NOTIFY     called")
	reclaim := has(0, "reclaiming locks for host "+serverIP)
	if notify < 0 || reclaim < notify || has(reclaim, "done reclaiming locks for host "+serverIP) < 0 {
		t.Fatalf("A's lockd did not reclaim on SM_NOTIFY:\n%s", text)
	}
	unlock := -1 // A's last UNLOCK
	for i := range log {
		if strings.Contains(log[i], "call procedure 4 on "+serverIP) {
			unlock = i
		}
	}
	granted := has(max(unlock, 0), "GRANTED       called")
	if unlock < 0 || granted < 0 {
		t.Fatalf("no GRANTED callback after A's UNLOCK:\n%s", text)
	}
	if relock := has(unlock, "call procedure 2 on "+otherServerIP); relock >= 0 && relock < granted {
		t.Fatalf("B's lockd sent LOCK again before the GRANTED callback:\n%s", text)
	}
	t.Logf("guest lockd:\n%s", text)
}

// inodeOf stats path in the guest.
func inodeOf(t *testing.T, c *clients, path string) uint64 {
	t.Helper()
	rs := mustProbe(t, c.v, 30*time.Second, statOp("st", path))
	return inode(t, rs, "st")
}

// graceStatus is the "grace" object of `tandem status --json`.
type graceStatus struct {
	Active      bool      `json:"active"`
	Ends        time.Time `json:"ends"`
	Unreclaimed int       `json:"unreclaimed"`
	Clients     []string  `json:"clients"`
}

func (g graceStatus) String() string {
	if !g.Active {
		return "none"
	}
	return fmt.Sprintf("active, %v left, %d unreclaimed %v", time.Until(g.Ends).Round(100*time.Millisecond), g.Unreclaimed, g.Clients)
}

// grace returns the server's grace period as `tandem status --json` shows it.
func (s *tandemServer) grace(t *testing.T) graceStatus {
	t.Helper()
	out, err := exec.Command(s.bin, "status", "--json", "--data", s.data).Output()
	if err != nil {
		t.Fatalf("tandem status: %v", err)
	}
	var st struct {
		Grace graceStatus `json:"grace"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("tandem status: %v\n%s", err, out)
	}
	slices.Sort(st.Grace.Clients)
	return st.Grace
}
