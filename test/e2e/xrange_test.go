//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestCrossProtocolLockingByteRange: fcntl locks taken by programs on the
// kernel's NFSv3 mount (NLM) and on its CIFS mount (SMB2 LOCK) of the same
// share, at the same time, bind each other as one lock table: the byte
// range rows of DESIGN's cross-protocol table, one subtest each, and
// shared, disjoint and deadlocked locks across the protocols. Outcomes are
// the errnos the kernel clients give their programs, the bytes they read,
// and `tandem locks`.
func TestCrossProtocolLockingByteRange(t *testing.T) {
	x := newXTable(t, "xr")
	t.Run("nlm-lock-over-smb-lock", x.nlmOverSMB)
	t.Run("smb-lock-over-nlm-lock", x.smbOverNLM)
	t.Run("smb-io-into-nlm-lock", x.smbIOIntoNLM)
	t.Run("nfs-io-into-smb-lock", x.nfsIOIntoSMB)
	t.Run("shared-and-disjoint", x.sharedDisjoint)
	t.Run("deadlock", x.xdeadlock)
	x.srv.checkLogs(t)
}

// nlmOverSMB (NLM LOCK overlapping an SMB lock of another owner: denied,
// holder reported, or queued and granted by callback when the SMB lock
// goes): a CIFS program holds 0..100 for writing. On the NFS mount
// F_GETLK reports it, F_SETLK inside it is refused (EAGAIN), a read lock
// next to it is granted, and F_SETLKW waits in the server's queue until
// the CIFS program unlocks; it is granted within a second of that.
func (x *xtable) nlmOverSMB(t *testing.T) {
	fc, fn := x.cifs+"/r1", x.nfs+"/r1"
	pc := startProbe(x.v, 3*time.Minute, false,
		openOp("c", fc),
		probeOp{"op": "pwrite", "fd": "c", "off": 0, "data": strings.Repeat("r", 200)},
		lockOp("c-wr", "c", "F_SETLK", "wr", 0, 100),
		touchOp("xt-r1-held"), waitOp("xt-r1-go"),
		lockOp("c-un", "c", "F_SETLK", "un", 0, 100),
		waitOp("xt-r1-end"))
	pn := startProbe(x.v, 3*time.Minute, false,
		waitOp("xt-r1-held"),
		probeOp{"op": "open", "fd": "n", "path": fn, "flags": "O_RDWR"},
		lockOp("n-get", "n", "F_GETLK", "wr", 0, 0),
		lockOp("n-set", "n", "F_SETLK", "wr", 50, 10),
		lockOp("n-rd", "n", "F_SETLK", "rd", 100, 10),
		touchOp("xt-r1-tried"),
		lockOp("n-wait", "n", "F_SETLKW", "wr", 0, 100),
		touchOp("xt-r1-got"), waitOp("xt-r1-end"))
	defer x.release("xt-r1-go", "xt-r1-end")
	x.clients.awaitFile(t, "xt-r1-tried", pn)
	x.name(t, fn, "r1")
	host := x.v.Hostname()
	x.srv.awaitRanges(t, x.lv, 30*time.Second,
		"r1 range exclusive 0+100 smb cifs", "r1 range shared 100+10 nlm "+host, "r1 range exclusive 0+100 nlm "+host+" waiting")
	time.Sleep(time.Second) // the grant must come from the unlock
	x.signal(t, "xt-r1-go")
	x.clients.awaitFile(t, "xt-r1-got", pn)
	x.srv.awaitRanges(t, x.lv, 10*time.Second, "r1 range exclusive 0+100 nlm "+host, "r1 range shared 100+10 nlm "+host)
	x.signal(t, "xt-r1-end")
	rc, rn := pc.wait(t, time.Minute), pn.wait(t, time.Minute)
	x.srv.awaitRanges(t, x.lv, 10*time.Second)

	wantOK(t, rc, "c-wr")
	// An SMB holder has no svid: the server reports 0, Linux shows -svid.
	wantGetlk(t, rn, "n-get", "wr", 0, 100, 0)
	wantErrno(t, rn, "n-set", "EAGAIN")
	wantOK(t, rn, "n-rd")
	un, w := wantOK(t, rc, "c-un"), wantOK(t, rn, "n-wait")
	lat := time.Duration(w.T1 - un.T0)
	t.Logf("NFS F_SETLKW granted %v after the CIFS unlock began (waited %v)", lat, took(w))
	if w.T0 >= un.T0 || lat < 0 || lat >= time.Second {
		t.Fatalf("NFS F_SETLKW %d..%d, CIFS unlock at %d: want a wait ended within 1s of the unlock", w.T0, w.T1, un.T0)
	}
}

// smbOverNLM (SMB2 LOCK overlapping an NLM lock: STATUS_LOCK_NOT_GRANTED
// at once, or an asynchronous wait until the NLM lock goes): an NFS
// program holds 0..100 for writing. On the CIFS mount F_GETLK reports a
// write lock, F_SETLK inside is refused (EACCES: the Linux client's word
// for LOCK_NOT_GRANTED), one outside is granted, and F_SETLKW waits on
// the server, granted within a second of the NFS unlock.
func (x *xtable) smbOverNLM(t *testing.T) {
	fc, fn := x.cifs+"/r2", x.nfs+"/r2"
	pn := startProbe(x.v, 3*time.Minute, false,
		openOp("n", fn),
		probeOp{"op": "pwrite", "fd": "n", "off": 0, "data": "nfs-data"},
		lockOp("n-wr", "n", "F_SETLK", "wr", 0, 100),
		touchOp("xt-r2-held"), waitOp("xt-r2-go"),
		lockOp("n-un", "n", "F_SETLK", "un", 0, 100),
		waitOp("xt-r2-end"))
	pc := startProbe(x.v, 3*time.Minute, false,
		waitOp("xt-r2-held"),
		probeOp{"op": "getpid", "id": "c-pid"},
		probeOp{"op": "open", "fd": "c", "path": fc, "flags": "O_RDWR"},
		lockOp("c-get", "c", "F_GETLK", "rd", 10, 10),
		lockOp("c-set", "c", "F_SETLK", "wr", 50, 10),
		lockOp("c-out", "c", "F_SETLK", "rd", 100, 10),
		touchOp("xt-r2-tried"),
		lockOp("c-wait", "c", "F_SETLKW", "wr", 0, 100),
		touchOp("xt-r2-got"), waitOp("xt-r2-end"))
	defer x.release("xt-r2-go", "xt-r2-end")
	x.clients.awaitFile(t, "xt-r2-tried", pc)
	x.name(t, fn, "r2")
	host := x.v.Hostname()
	x.srv.awaitRanges(t, x.lv, 30*time.Second,
		"r2 range exclusive 0+100 nlm "+host, "r2 range shared 100+10 smb cifs", "r2 range exclusive 0+100 smb cifs waiting")
	time.Sleep(time.Second)
	x.signal(t, "xt-r2-go")
	x.clients.awaitFile(t, "xt-r2-got", pc)
	x.srv.awaitRanges(t, x.lv, 10*time.Second, "r2 range exclusive 0+100 smb cifs", "r2 range shared 100+10 smb cifs")
	x.signal(t, "xt-r2-end")
	rn, rc := pn.wait(t, time.Minute), pc.wait(t, time.Minute)
	x.srv.awaitRanges(t, x.lv, 10*time.Second)

	wantOK(t, rn, "n-wr")
	// The CIFS client learns only that the range is taken, and reports
	// the range it asked about, with the asker's own pid.
	wantGetlk(t, rc, "c-get", "wr", 10, 10, int32(byID(t, rc, "c-pid").Pid))
	wantErrno(t, rc, "c-set", "EACCES")
	wantOK(t, rc, "c-out")
	un, w := wantOK(t, rn, "n-un"), wantOK(t, rc, "c-wait")
	lat := time.Duration(w.T1 - un.T0)
	t.Logf("CIFS F_SETLKW granted %v after the NFS unlock began (waited %v)", lat, took(w))
	if w.T0 >= un.T0 || lat < 0 || lat >= time.Second {
		t.Fatalf("CIFS F_SETLKW %d..%d, NFS unlock at %d: want a wait ended within 1s of the unlock", w.T0, w.T1, un.T0)
	}
}

// smbIOIntoNLM (SMB READ/WRITE into a range locked by another owner:
// STATUS_FILE_LOCK_CONFLICT, SMB locks being mandatory): an NFS program
// holds 0..100 exclusively and 4096..4196 shared. The CIFS client (which
// caches no writes: NLM locks exist) is refused writes into both and
// reads of the exclusive range, O_DIRECT or through its page cache (the
// Linux client reports EACCES), and reads and writes elsewhere succeed.
func (x *xtable) smbIOIntoNLM(t *testing.T) {
	fc, fn := x.cifs+"/r3", x.nfs+"/r3"
	data := strings.Repeat("0123456789abcdef", 768) // 12 KiB
	pn := startProbe(x.v, 3*time.Minute, false,
		openOp("n", fn),
		probeOp{"op": "pwrite", "fd": "n", "off": 0, "data": data},
		probeOp{"op": "fsync", "fd": "n"},
		lockOp("n-wr", "n", "F_SETLK", "wr", 0, 100),
		lockOp("n-rd", "n", "F_SETLK", "rd", 4096, 100),
		touchOp("xt-r3-held"), waitOp("xt-r3-end"))
	defer x.release("xt-r3-end")
	x.clients.awaitFile(t, "xt-r3-held", pn)
	rc := x.run(t,
		probeOp{"op": "open", "fd": "d", "path": fc, "flags": "O_RDWR|O_DIRECT"},
		probeOp{"op": "pread", "id": "d-read-ex", "fd": "d", "off": 10, "len": 10},
		probeOp{"op": "pwrite", "id": "d-write-ex", "fd": "d", "off": 10, "data": "XX"},
		probeOp{"op": "pread", "id": "d-read-sh", "fd": "d", "off": 4100, "len": 10},
		probeOp{"op": "pwrite", "id": "d-write-sh", "fd": "d", "off": 4100, "data": "XX"},
		probeOp{"op": "pread", "id": "d-read-out", "fd": "d", "off": 200, "len": 10},
		probeOp{"op": "pwrite", "id": "d-write-out", "fd": "d", "off": 200, "data": "D1"},
		probeOp{"op": "close", "fd": "d"},
		probeOp{"op": "open", "fd": "b", "path": fc, "flags": "O_RDWR"},
		probeOp{"op": "pwrite", "id": "b-write-ex", "fd": "b", "off": 20, "data": "YY"},
		probeOp{"op": "pwrite", "id": "b-write-sh", "fd": "b", "off": 4110, "data": "YY"},
		probeOp{"op": "pwrite", "id": "b-write-out", "fd": "b", "off": 8200, "data": "B1"},
		probeOp{"op": "pread", "id": "b-read-out", "fd": "b", "off": 8192, "len": 16},
		probeOp{"op": "pread", "id": "b-read-ex", "fd": "b", "off": 30, "len": 10},
		probeOp{"op": "fsync", "id": "b-fsync", "fd": "b"},
		probeOp{"op": "close", "fd": "b"})
	x.name(t, fn, "r3")
	host := x.v.Hostname()
	x.srv.awaitRanges(t, x.lv, 10*time.Second, "r3 range exclusive 0+100 nlm "+host, "r3 range shared 4096+100 nlm "+host)
	x.signal(t, "xt-r3-end")
	pn.wait(t, time.Minute)
	x.srv.awaitRanges(t, x.lv, 10*time.Second)
	wantOutcomes(t, rc, map[string]string{
		"d-read-ex": "EACCES", "d-write-ex": "EACCES", "d-read-sh": "ok", "d-write-sh": "EACCES",
		"d-read-out": "ok", "d-write-out": "ok",
		"b-write-ex": "EACCES", "b-write-sh": "EACCES", "b-write-out": "ok", "b-read-out": "ok", "b-read-ex": "EACCES", "b-fsync": "ok",
	})
	wantData(t, rc, "d-read-sh", data[4100:4110])
	wantData(t, rc, "d-read-out", data[200:210])
	wantData(t, rc, "b-read-out", data[8192:8200]+"B1"+data[8202:8208])
	want := data[:200] + "D1" + data[202:8200] + "B1" + data[8202:]
	rs := x.run(t, probeOp{"op": "open", "fd": "r", "path": fn, "flags": "O_RDONLY|O_DIRECT"},
		probeOp{"op": "pread", "id": "all", "fd": "r", "off": 0, "len": 16384})
	wantData(t, rs, "all", want)
}

// nfsIOIntoSMB (NFS WRITE into a range an SMB open has locked, NFS READ
// into one it has locked exclusively: NFS3ERR_ACCES): a CIFS program
// locks 0..100 exclusively and 4096..4196 shared, under a write-caching
// lease (so the locks reach the server when the first NFS READ breaks
// it). The NFS client is refused, with EACCES, O_DIRECT reads and writes
// of the exclusive range and writes of the shared one, and buffered
// writes into them at fsync and buffered reads of their pages; other pages
// are read and written. Once the CIFS program unlocks, everything goes.
func (x *xtable) nfsIOIntoSMB(t *testing.T) {
	fc, fn := x.cifs+"/r4", x.nfs+"/r4"
	data := strings.Repeat("fedcba9876543210", 768)
	pc := startProbe(x.v, 3*time.Minute, false,
		openOp("c", fc),
		probeOp{"op": "pwrite", "fd": "c", "off": 0, "data": data},
		lockOp("c-wr", "c", "F_SETLK", "wr", 0, 100),
		lockOp("c-rd", "c", "F_SETLK", "rd", 4096, 100),
		touchOp("xt-r4-held"), waitOp("xt-r4-go"),
		lockOp("c-un", "c", "F_SETLK", "un", 0, 0),
		touchOp("xt-r4-un"), waitOp("xt-r4-end"))
	defer x.release("xt-r4-go", "xt-r4-end")
	x.clients.awaitFile(t, "xt-r4-held", pc)
	x.name(t, fn, "r4")
	rn := x.run(t,
		probeOp{"op": "open", "fd": "d", "path": fn, "flags": "O_RDWR|O_DIRECT"},
		probeOp{"op": "pread", "id": "d-read-ex", "fd": "d", "off": 10, "len": 10},
		probeOp{"op": "pwrite", "id": "d-write-ex", "fd": "d", "off": 10, "data": "XX"},
		probeOp{"op": "pread", "id": "d-read-sh", "fd": "d", "off": 4100, "len": 10},
		probeOp{"op": "pwrite", "id": "d-write-sh", "fd": "d", "off": 4100, "data": "XX"},
		probeOp{"op": "pread", "id": "d-read-out", "fd": "d", "off": 200, "len": 10},
		probeOp{"op": "pwrite", "id": "d-write-out", "fd": "d", "off": 200, "data": "D1"},
		probeOp{"op": "close", "fd": "d"},
		probeOp{"op": "open", "fd": "w", "path": fn, "flags": "O_WRONLY"},
		probeOp{"op": "pwrite", "id": "b-write-ex", "fd": "w", "off": 20, "data": "YY"},
		probeOp{"op": "fsync", "id": "b-fsync-ex", "fd": "w"},
		probeOp{"op": "close", "fd": "w"},
		probeOp{"op": "open", "fd": "w2", "path": fn, "flags": "O_WRONLY"},
		probeOp{"op": "pwrite", "id": "b-write-out", "fd": "w2", "off": 8200, "data": "B1"},
		probeOp{"op": "fsync", "id": "b-fsync-out", "fd": "w2"},
		probeOp{"op": "close", "fd": "w2"},
		probeOp{"op": "open", "fd": "r", "path": fn, "flags": "O_RDONLY"},
		probeOp{"op": "pread", "id": "b-read-out", "fd": "r", "off": 8192, "len": 16},
		probeOp{"op": "pread", "id": "b-read-ex", "fd": "r", "off": 30, "len": 10},
		probeOp{"op": "close", "fd": "r"})
	x.wantEntries(t, "r4", "r4 caching none smb cifs", "r4 range exclusive 0+100 smb cifs",
		"r4 range shared 4096+100 smb cifs", "r4 share rw-/rwd smb cifs")
	x.signal(t, "xt-r4-go")
	x.clients.awaitFile(t, "xt-r4-un", pc)
	after := x.run(t,
		probeOp{"op": "open", "fd": "d", "path": fn, "flags": "O_RDWR|O_DIRECT"},
		probeOp{"op": "pwrite", "id": "write-ex", "fd": "d", "off": 10, "data": "U1"},
		probeOp{"op": "pwrite", "id": "write-sh", "fd": "d", "off": 4100, "data": "U2"},
		probeOp{"op": "pread", "id": "all", "fd": "d", "off": 0, "len": 16384})
	x.signal(t, "xt-r4-end")
	rc := pc.wait(t, time.Minute)
	x.srv.awaitRanges(t, x.lv, 10*time.Second)
	wantOK(t, rc, "c-wr")
	wantOK(t, rc, "c-rd")
	wantOutcomes(t, rn, map[string]string{
		"d-read-ex": "EACCES", "d-write-ex": "EACCES", "d-read-sh": "ok", "d-write-sh": "EACCES",
		"d-read-out": "ok", "d-write-out": "ok",
		"b-write-ex": "ok", "b-fsync-ex": "EACCES", "b-write-out": "ok", "b-fsync-out": "ok",
		"b-read-out": "ok", "b-read-ex": "EACCES",
	})
	wantData(t, rn, "d-read-sh", data[4100:4110])
	wantData(t, rn, "d-read-out", data[200:210])
	wantData(t, rn, "b-read-out", data[8192:8200]+"B1"+data[8202:8208])
	wantOutcomes(t, after, map[string]string{"write-ex": "ok", "write-sh": "ok", "all": "ok"})
	want := data[:10] + "U1" + data[12:200] + "D1" + data[202:4100] + "U2" + data[4102:8200] + "B1" + data[8202:]
	wantData(t, after, "all", want)
}

// sharedDisjoint: shared locks of both protocols on one range coexist
// (whichever came first) and keep out an exclusive one of the other
// protocol; exclusive locks of both protocols on disjoint ranges coexist.
func (x *xtable) sharedDisjoint(t *testing.T) {
	fc, fn := x.cifs+"/r5", x.nfs+"/r5"
	sh(t, x.v, time.Minute, "echo r5 > "+fn)
	pc := startProbe(x.v, 3*time.Minute, false,
		probeOp{"op": "open", "fd": "c", "path": fc, "flags": "O_RDWR"},
		lockOp("c-rd", "c", "F_SETLK", "rd", 0, 100),
		lockOp("c-wr", "c", "F_SETLK", "wr", 200, 50),
		touchOp("xt-r5-c"), waitOp("xt-r5-n"),
		lockOp("c-wr-sh", "c", "F_SETLK", "wr", 0, 10),
		lockOp("c-wr-nfs", "c", "F_SETLK", "wr", 300, 1),
		touchOp("xt-r5-c2"), waitOp("xt-r5-end"))
	pn := startProbe(x.v, 3*time.Minute, false,
		waitOp("xt-r5-c"),
		probeOp{"op": "open", "fd": "n", "path": fn, "flags": "O_RDWR"},
		lockOp("n-rd", "n", "F_SETLK", "rd", 0, 100),
		lockOp("n-wr-sh", "n", "F_SETLK", "wr", 50, 10),
		lockOp("n-wr", "n", "F_SETLK", "wr", 250, 100),
		lockOp("n-wr-smb", "n", "F_SETLK", "wr", 240, 20),
		touchOp("xt-r5-n"), waitOp("xt-r5-end"))
	defer x.release("xt-r5-end")
	x.clients.awaitFile(t, "xt-r5-c2", pc)
	x.name(t, fn, "r5")
	host := x.v.Hostname()
	x.srv.awaitRanges(t, x.lv, 10*time.Second,
		"r5 range shared 0+100 smb cifs", "r5 range exclusive 200+50 smb cifs",
		"r5 range shared 0+100 nlm "+host, "r5 range exclusive 250+100 nlm "+host)
	x.signal(t, "xt-r5-end")
	rc, rn := pc.wait(t, time.Minute), pn.wait(t, time.Minute)
	x.srv.awaitRanges(t, x.lv, 10*time.Second)
	wantOutcomes(t, rc, map[string]string{"c-rd": "ok", "c-wr": "ok", "c-wr-sh": "EACCES", "c-wr-nfs": "EACCES"})
	wantOutcomes(t, rn, map[string]string{"n-rd": "ok", "n-wr-sh": "EAGAIN", "n-wr": "ok", "n-wr-smb": "EAGAIN"})
}

// xdeadlock: an NFS program holds r1 and a CIFS program r2; the CIFS
// program waits for r1 on the server, and the NFS program's F_SETLKW of
// r2 would close the cycle: it fails with EDEADLK at once (one wait-for
// graph covers both protocols) instead of hanging. When the NFS program
// then lets r1 go, the CIFS program gets it.
func (x *xtable) xdeadlock(t *testing.T) {
	fc, fn := x.cifs+"/r6", x.nfs+"/r6"
	pn := startProbe(x.v, 3*time.Minute, false,
		openOp("n", fn),
		lockOp("n-r1", "n", "F_SETLK", "wr", 0, 10),
		touchOp("xt-r6-n"), waitOp("xt-r6-c"),
		lockOp("n-r2", "n", "F_SETLKW", "wr", 10, 10),
		lockOp("n-un", "n", "F_SETLK", "un", 0, 10),
		touchOp("xt-r6-un"), waitOp("xt-r6-end"))
	pc := startProbe(x.v, 3*time.Minute, false,
		waitOp("xt-r6-n"),
		probeOp{"op": "open", "fd": "c", "path": fc, "flags": "O_RDWR"},
		lockOp("c-r2", "c", "F_SETLK", "wr", 10, 10),
		touchOp("xt-r6-c2"),
		lockOp("c-r1", "c", "F_SETLKW", "wr", 0, 10),
		touchOp("xt-r6-got"), waitOp("xt-r6-end"))
	defer x.release("xt-r6-c", "xt-r6-end")
	x.clients.awaitFile(t, "xt-r6-c2", pc)
	x.name(t, fn, "r6")
	host := x.v.Hostname()
	x.srv.awaitRanges(t, x.lv, 30*time.Second,
		"r6 range exclusive 0+10 nlm "+host, "r6 range exclusive 10+10 smb cifs", "r6 range exclusive 0+10 smb cifs waiting")
	x.signal(t, "xt-r6-c")
	x.clients.awaitFile(t, "xt-r6-got", pc)
	x.srv.awaitRanges(t, x.lv, 10*time.Second, "r6 range exclusive 0+10 smb cifs", "r6 range exclusive 10+10 smb cifs")
	x.signal(t, "xt-r6-end")
	rn, rc := pn.wait(t, time.Minute), pc.wait(t, time.Minute)
	x.srv.awaitRanges(t, x.lv, 10*time.Second)
	wantOutcomes(t, rn, map[string]string{"n-r1": "ok", "n-r2": "EDEADLK", "n-un": "ok"})
	wantOutcomes(t, rc, map[string]string{"c-r2": "ok", "c-r1": "ok"})
	if d := took(byID(t, rn, "n-r2")); d >= time.Second {
		t.Errorf("the deadlocked F_SETLKW took %v", d)
	}
}
