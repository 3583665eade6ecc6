//go:build e2e

package e2e

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestKernelCrossProtocolCachedLock: the Linux CIFS client, mounted with
// its defaults (SMB 3.1.1, leases on), keeps the byte-range locks its
// applications take to itself while it holds a write-caching lease, and the
// data they write in its page cache. The kernel's NFSv3 client, mounted at
// the same time with locking on, must still see those locks: its open
// (LOOKUP, GETATTR) or an NLM TEST or LOCK first breaks the lease, the CIFS
// client flushes and sends the locks, and then the server decides. The other way round, an NLM lock binds the
// CIFS client's fcntl locks, and a blocked CIFS F_SETLKW is granted as soon
// as the NLM lock goes. `tandem locks` is checked at each step.
func TestKernelCrossProtocolCachedLock(t *testing.T) {
	v := client(t)
	srv := newTandemServer(t, v)
	addSMBUser(t, srv, "tester", "0")
	srv.start(t)
	waitSMB(t, srv)
	const nfs, cifs = "/mnt/cln", "/mnt/clc"
	sh(t, v, 2*time.Minute, nfsMountCmd(v, nfs, "")+" && "+cifsMountCmd(v, cifs, "vers=3.1.1"))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = v.Exec(ctx, "rm -f /tmp/xl-*; umount "+cifs+" || umount -l "+cifs+"; umount "+nfs+" || umount -f -l "+nfs, nil)
	})
	// The CIFS mount has leases: no nolease, no cache=none.
	mounted := sh(t, v, 10*time.Second, `grep " `+cifs+` " /proc/mounts`)
	if !strings.Contains(mounted, "vers=3.1.1") || !strings.Contains(mounted, "cache=strict") || strings.Contains(mounted, "nolease") {
		t.Fatalf("CIFS mount options: %s", mounted)
	}
	x := &xlock{clients: clients{v: v, srv: srv}, nfs: nfs, cifs: cifs, lv: newLockView()}
	t.Run("smb-holds", x.smbHolds)
	t.Run("nfs-holds", x.nfsHolds)
	t.Run("shared", x.shared)
	srv.checkLogs(t)
}

type xlock struct {
	clients
	nfs, cifs string
	lv        *lockView
}

// smbHolds: a program on the CIFS mount writes 200 bytes and locks 0..100
// for writing under a write-caching lease, so the server has seen neither
// (`tandem locks` shows the lease and the open, no lock). Through the NFS
// mount, F_GETLK reports the lock (the NFS open's LOOKUP and GETATTR, or
// else the NLM TEST, broke the lease first; an SMB holder has no svid, the
// server says 0, and Linux reports -svid as the pid), F_SETLK inside it
// gets EAGAIN, and the bytes the program wrote are on the server: an O_DIRECT
// read outside the lock returns them, one inside the exclusive SMB lock is
// refused (EACCES). Once the program unlocks and closes, NFS F_SETLK is
// granted and reads everything.
func (x *xlock) smbHolds(t *testing.T) {
	data := strings.Repeat("cifs-data-", 20) // 200 bytes
	fc, fn := x.cifs+"/held", x.nfs+"/held"
	pc := startProbe(x.v, 3*time.Minute, false,
		openOp("c", fc),
		probeOp{"op": "pwrite", "id": "c-write", "fd": "c", "off": 0, "data": data},
		lockOp("c-wr", "c", "F_SETLK", "wr", 0, 100),
		touchOp("xl-held"), waitOp("xl-go"),
		lockOp("c-un", "c", "F_SETLK", "un", 0, 100),
		probeOp{"op": "close", "id": "c-close", "fd": "c"},
		touchOp("xl-closed"), waitOp("xl-end"))
	pn := startProbe(x.v, 3*time.Minute, false,
		waitOp("xl-look"),
		probeOp{"op": "open", "fd": "n", "path": fn, "flags": "O_RDWR"},
		lockOp("n-get", "n", "F_GETLK", "wr", 0, 0),
		lockOp("n-set", "n", "F_SETLK", "wr", 50, 10),
		lockOp("n-set-rd", "n", "F_SETLK", "rd", 99, 1),
		probeOp{"op": "open", "fd": "r", "path": fn, "flags": "O_RDONLY|O_DIRECT"},
		probeOp{"op": "pread", "id": "n-read-out", "fd": "r", "off": 100, "len": 100},
		probeOp{"op": "pread", "id": "n-read-in", "fd": "r", "off": 0, "len": 10},
		touchOp("xl-checked"), waitOp("xl-closed"),
		lockOp("n-set2", "n", "F_SETLK", "wr", 50, 10),
		probeOp{"op": "pread", "id": "n-read-all", "fd": "r", "off": 0, "len": 300},
		touchOp("xl-n-done"), waitOp("xl-end"))
	defer x.release("xl-look", "xl-go", "xl-closed", "xl-end")

	// The lock and the data are the CIFS client's alone: its lease caches
	// writes, and so byte-range locks.
	x.awaitFile(t, "xl-held", pc)
	x.name(t, fc, "held")
	x.wantAll(t, "held caching RWH smb cifs", "held share rw-/rwd smb cifs")
	x.signal(t, "xl-look")
	x.awaitFile(t, "xl-checked", pn)
	// The lease was broken; the client gave up caching altogether (it
	// holds a mandatory lock) and sent its lock.
	x.wantAll(t, "held caching none smb cifs", "held range exclusive 0+100 smb cifs", "held share rw-/rwd smb cifs")
	x.signal(t, "xl-go")
	x.awaitFile(t, "xl-n-done", pn)
	x.wantAll(t, "held range exclusive 50+10 nlm "+x.v.Hostname())
	x.signal(t, "xl-end")
	rc, rn := pc.wait(t, time.Minute), pn.wait(t, time.Minute)
	x.srv.awaitRanges(t, x.lv, 10*time.Second)

	wantOK(t, rc, "c-wr")
	get := byID(t, rn, "n-get")
	t.Logf("NFS F_GETLK (TEST, after breaking the lease) took %v", took(get))
	wantGetlk(t, rn, "n-get", "wr", 0, 100, 0)
	wantErrno(t, rn, "n-set", "EAGAIN")
	wantErrno(t, rn, "n-set-rd", "EAGAIN")
	wantData(t, rn, "n-read-out", data[100:])
	wantErrno(t, rn, "n-read-in", "EACCES")
	wantOK(t, rc, "c-un")
	wantOK(t, rc, "c-close")
	if set2, closed := wantOK(t, rn, "n-set2"), byID(t, rc, "c-close"); set2.T0 < closed.T1 {
		t.Fatalf("NFS F_SETLK at %d, before the CIFS close ended at %d", set2.T0, closed.T1)
	}
	wantData(t, rn, "n-read-all", data)
}

// nfsHolds: an NFS program holds a write lock of 0..100. A CIFS program
// opens the file (the server grants its lease without write caching, as
// NLM locks exist, so the client sends its locks): F_SETLK inside the
// range fails with EACCES (STATUS_LOCK_NOT_GRANTED), outside it succeeds,
// and F_SETLKW waits on the server until the NFS program unlocks, then is
// granted at once.
func (x *xlock) nfsHolds(t *testing.T) {
	fc, fn := x.cifs+"/nheld", x.nfs+"/nheld"
	pn := startProbe(x.v, 3*time.Minute, false,
		openOp("n", fn),
		probeOp{"op": "pwrite", "fd": "n", "off": 0, "data": "nfs-data"},
		lockOp("n-wr", "n", "F_SETLK", "wr", 0, 100),
		touchOp("xl2-held"), waitOp("xl2-go"),
		lockOp("n-un", "n", "F_SETLK", "un", 0, 100),
		waitOp("xl2-end"))
	pc := startProbe(x.v, 3*time.Minute, false,
		waitOp("xl2-held"),
		probeOp{"op": "open", "fd": "c", "path": fc, "flags": "O_RDWR"},
		lockOp("c-set", "c", "F_SETLK", "wr", 50, 10),
		lockOp("c-set-rd", "c", "F_SETLK", "rd", 0, 1),
		lockOp("c-out", "c", "F_SETLK", "wr", 100, 10),
		touchOp("xl2-tried"),
		lockOp("c-wait", "c", "F_SETLKW", "wr", 0, 100),
		touchOp("xl2-got"), waitOp("xl2-end"))
	defer x.release("xl2-go", "xl2-end")
	x.awaitFile(t, "xl2-tried", pc)
	x.name(t, fn, "nheld")
	host := x.v.Hostname()
	x.srv.awaitRanges(t, x.lv, 30*time.Second,
		"nheld range exclusive 0+100 nlm "+host,
		"nheld range exclusive 100+10 smb cifs",
		"nheld range exclusive 0+100 smb cifs waiting")
	x.wantAll(t, "nheld caching RH smb cifs", "nheld range exclusive 0+100 nlm "+host,
		"nheld range exclusive 100+10 smb cifs", "nheld range exclusive 0+100 smb cifs waiting", "nheld share rw-/rwd smb cifs")
	// The CIFS request waits on the server; the grant must come from the
	// unlock, whenever that is.
	time.Sleep(time.Second)
	x.signal(t, "xl2-go")
	x.awaitFile(t, "xl2-got", pc)
	x.srv.awaitRanges(t, x.lv, 10*time.Second, "nheld range exclusive 0+100 smb cifs", "nheld range exclusive 100+10 smb cifs")
	x.signal(t, "xl2-end")
	rn, rc := pn.wait(t, time.Minute), pc.wait(t, time.Minute)
	x.srv.awaitRanges(t, x.lv, 10*time.Second)

	wantOK(t, rn, "n-wr")
	wantErrno(t, rc, "c-set", "EACCES")
	wantErrno(t, rc, "c-set-rd", "EACCES")
	wantOK(t, rc, "c-out")
	un, w := wantOK(t, rn, "n-un"), wantOK(t, rc, "c-wait")
	if w.T0 >= un.T0 {
		t.Fatalf("CIFS F_SETLKW started at %d, not before the NFS unlock at %d", w.T0, un.T0)
	}
	lat := time.Duration(w.T1 - un.T0)
	t.Logf("CIFS F_SETLKW granted %v after the NFS unlock began (waited %v in all)", lat, took(w))
	if lat < 0 || lat >= time.Second {
		t.Fatalf("CIFS F_SETLKW returned %v after the NFS unlock began; want under 1s", lat)
	}
}

// shared: shared locks of both protocols over the same range coexist,
// whichever comes first, and keep out an exclusive one of the other
// protocol. The CIFS program's shared lock, taken first, is cached under
// its lease until the NLM LOCK breaks it.
func (x *xlock) shared(t *testing.T) {
	c1, n1 := x.cifs+"/sh1", x.nfs+"/sh1"
	c2, n2 := x.cifs+"/sh2", x.nfs+"/sh2"
	sh(t, x.v, time.Minute, "touch "+n2)
	pc := startProbe(x.v, 3*time.Minute, false,
		openOp("c1", c1),
		probeOp{"op": "pwrite", "fd": "c1", "off": 0, "data": "shared"},
		lockOp("c1-rd", "c1", "F_SETLK", "rd", 0, 100),
		touchOp("xl3-c1"), waitOp("xl3-n2"),
		probeOp{"op": "open", "fd": "c2", "path": c2, "flags": "O_RDWR"},
		lockOp("c2-rd", "c2", "F_SETLK", "rd", 0, 100),
		lockOp("c2-wr", "c2", "F_SETLK", "wr", 50, 10),
		touchOp("xl3-c2"), waitOp("xl3-end"))
	pn := startProbe(x.v, 3*time.Minute, false,
		waitOp("xl3-c1"),
		probeOp{"op": "open", "fd": "n1", "path": n1, "flags": "O_RDWR"},
		lockOp("n1-rd", "n1", "F_SETLK", "rd", 0, 100),
		lockOp("n1-wr", "n1", "F_SETLK", "wr", 0, 1),
		lockOp("n1-get", "n1", "F_GETLK", "wr", 0, 1),
		probeOp{"op": "open", "fd": "n2", "path": n2, "flags": "O_RDWR"},
		lockOp("n2-rd", "n2", "F_SETLK", "rd", 0, 100),
		touchOp("xl3-n2"), waitOp("xl3-end"))
	defer x.release("xl3-end")
	x.awaitFile(t, "xl3-c2", pc)
	x.name(t, n1, "sh1")
	x.name(t, n2, "sh2")
	host := x.v.Hostname()
	x.srv.awaitRanges(t, x.lv, 10*time.Second,
		"sh1 range shared 0+100 smb cifs", "sh1 range shared 0+100 nlm "+host,
		"sh2 range shared 0+100 nlm "+host, "sh2 range shared 0+100 smb cifs")
	x.signal(t, "xl3-end")
	rc, rn := pc.wait(t, time.Minute), pn.wait(t, time.Minute)
	x.srv.awaitRanges(t, x.lv, 10*time.Second)

	wantOK(t, rc, "c1-rd")
	wantOK(t, rn, "n1-rd")
	wantErrno(t, rn, "n1-wr", "EAGAIN")
	wantGetlk(t, rn, "n1-get", "rd", 0, 100, 0)
	wantOK(t, rn, "n2-rd")
	wantOK(t, rc, "c2-rd")
	wantErrno(t, rc, "c2-wr", "EACCES")
}

// name learns the inode number of path (through either mount) as the
// file called name in `tandem locks`.
func (x *xlock) name(t *testing.T, path, name string) {
	t.Helper()
	out := strings.TrimSpace(sh(t, x.v, 30*time.Second, "stat -c %i "+path))
	ino, err := strconv.ParseUint(out, 10, 64)
	if err != nil {
		t.Fatalf("stat %s: %q", path, out)
	}
	x.lv.name(ino, name)
}

// wantAll fails t unless `tandem locks` shows exactly want (any order).
func (x *xlock) wantAll(t *testing.T, want ...string) {
	t.Helper()
	got := x.lv.all(x.srv.entries(t))
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Fatalf("tandem locks:\n got %q\nwant %q", got, want)
	}
}
