//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/smbclient"
)

// TestCrossProtocolLocking: the rows of DESIGN's cross-protocol table
// that are not about byte ranges (those are in
// TestCrossProtocolLockingByteRange), one subtest each, with the kernel's
// NFSv3 and CIFS clients mounted on one share at once with their default
// options, and this repository's SMB client where a row needs what the
// Linux CIFS client cannot ask for (share modes, making a symbolic link;
// see xtable_helpers_test.go). Outcomes are the errnos and bytes the
// kernel clients give their programs and `tandem locks`.
func TestCrossProtocolLocking(t *testing.T) {
	x := newXTable(t, "xt")
	t.Run("nfs-read-breaks-write-caching", x.readBreaksW)
	t.Run("nfs-write-and-size-break-caching", x.writeBreaksRW)
	t.Run("nfs-remove-rename-break-handle-caching", x.removeBreaksH)
	t.Run("nlm-under-write-lease", x.smbHolds)
	t.Run("smb-create-write-lease-under-nlm-lock", x.leaseUnderNLM)
	t.Run("deny-read-deny-write", x.denyModes)
	t.Run("nfs-remove-of-open-file", x.removeOpen)
	t.Run("symlink-made-over-nfs", x.nfsSymlink)
	t.Run("symlink-made-over-smb", x.smbSymlink)
	x.srv.checkLogs(t)
}

// readBreaksW (NFS READ of a file with another client's SMB write-caching
// lease: break to read caching, wait for the flush, then serve; and so do
// GETATTR and LOOKUP, whose size the NFS client reads up to): a CIFS
// program writes and keeps the file open; the bytes are in its page cache
// only. `cat` on the NFS mount prints them, and the lease is RH after;
// the CIFS program's next write goes to the server at once, and NFS reads
// it.
func (x *xtable) readBreaksW(t *testing.T) {
	fc, fn := x.cifs+"/t1", x.nfs+"/t1"
	data := "written through the CIFS cache"
	pc := startProbe(x.v, 3*time.Minute, false,
		openOp("c", fc),
		probeOp{"op": "pwrite", "fd": "c", "off": 0, "data": data},
		touchOp("xt-t1-w"), waitOp("xt-t1-read"),
		probeOp{"op": "pwrite", "id": "c-again", "fd": "c", "off": 0, "data": "W"},
		probeOp{"op": "pread", "id": "c-read", "fd": "c", "off": 0, "len": 100},
		waitOp("xt-t1-end"))
	defer x.release("xt-t1-read", "xt-t1-end")
	x.clients.awaitFile(t, "xt-t1-w", pc)
	x.name(t, fc, "t1")
	x.wantEntries(t, "t1", "t1 caching RWH smb cifs", "t1 share rw-/rwd smb cifs")
	expectSh(t, x.v, 30*time.Second, "cat "+fn, data)
	x.wantEntries(t, "t1", "t1 caching RH smb cifs", "t1 share rw-/rwd smb cifs")
	x.signal(t, "xt-t1-read")
	x.signal(t, "xt-t1-end")
	rc := pc.wait(t, time.Minute)
	wantData(t, rc, "c-read", "W"+data[1:])
	expectSh(t, x.v, 30*time.Second, "cat "+fn, "W"+data[1:])
}

// writeBreaksRW (NFS WRITE, SETATTR(size) of a file with SMB read/write
// caching: break to none, wait for the flush, then do it): a CIFS
// program writes ten bytes and reads them, all from its cache. An NFS
// WRITE of two bytes in the middle comes after the CIFS bytes reached the
// server (they are all there, with the NFS bytes on top), and the CIFS
// program reads the NFS bytes at once. On a second file, an NFS truncate
// to 3 bytes comes after the CIFS program's 10 cached bytes were flushed:
// the file has 3 bytes, whatever the CIFS client had cached, and the CIFS
// program reads 3 at once. (Its stat says 3 once it has closed the file
// and the client's attribute cache has timed out: the Linux client never
// shrinks the size of a file it has open for writing, and keeps the
// attributes it fetched for actimeo, 1 s, once it holds no lease.)
func (x *xtable) writeBreaksRW(t *testing.T) {
	fc, fn := x.cifs+"/t2", x.nfs+"/t2"
	gc, gn := x.cifs+"/t2s", x.nfs+"/t2s"
	pc := startProbe(x.v, 3*time.Minute, false,
		openOp("c", fc),
		probeOp{"op": "pwrite", "fd": "c", "off": 0, "data": "0123456789"},
		probeOp{"op": "pread", "id": "c-read1", "fd": "c", "off": 0, "len": 100},
		openOp("g", gc),
		probeOp{"op": "pwrite", "fd": "g", "off": 0, "data": "abcdefghij"},
		probeOp{"op": "pread", "id": "g-read1", "fd": "g", "off": 0, "len": 100},
		touchOp("xt-t2-w"), waitOp("xt-t2-nfs"),
		probeOp{"op": "pread", "id": "c-read2", "fd": "c", "off": 0, "len": 100},
		probeOp{"op": "pread", "id": "g-read2", "fd": "g", "off": 0, "len": 100},
		probeOp{"op": "close", "fd": "g"},
		probeOp{"op": "sleep", "ms": 1100},
		probeOp{"op": "stat", "id": "g-stat", "path": gc},
		waitOp("xt-t2-end"))
	defer x.release("xt-t2-nfs", "xt-t2-end")
	x.clients.awaitFile(t, "xt-t2-w", pc)
	x.name(t, fc, "t2")
	x.name(t, gc, "t2s")
	x.wantEntries(t, "t2", "t2 caching RWH smb cifs", "t2 share rw-/rwd smb cifs")
	x.wantEntries(t, "t2s", "t2s caching RWH smb cifs", "t2s share rw-/rwd smb cifs")
	rn := x.run(t,
		probeOp{"op": "open", "fd": "n", "path": fn, "flags": "O_WRONLY|O_DIRECT"},
		probeOp{"op": "pwrite", "id": "n-write", "fd": "n", "off": 4, "data": "NF"},
		probeOp{"op": "open", "fd": "s", "path": gn, "flags": "O_WRONLY"},
		probeOp{"op": "ftruncate", "id": "n-trunc", "fd": "s", "size": 3})
	wantOutcomes(t, rn, map[string]string{"n-write": "ok", "n-trunc": "ok"})
	x.wantEntries(t, "t2", "t2 caching none smb cifs", "t2 share rw-/rwd smb cifs")
	x.wantEntries(t, "t2s", "t2s caching none smb cifs", "t2s share rw-/rwd smb cifs")
	x.signal(t, "xt-t2-nfs")
	x.signal(t, "xt-t2-end")
	rc := pc.wait(t, time.Minute)
	wantData(t, rc, "c-read1", "0123456789")
	wantData(t, rc, "g-read1", "abcdefghij")
	wantData(t, rc, "c-read2", "0123NF6789")
	wantData(t, rc, "g-read2", "abc")
	if st := wantOK(t, rc, "g-stat").Stat; st == nil || st.Size != 3 {
		t.Errorf("CIFS stat after the NFS truncate: %+v", st)
	}
	expectSh(t, x.v, 30*time.Second, "cat "+fn+" "+gn, "0123NF6789abc")
}

// removeBreaksH (NFS REMOVE/RENAME of a file with SMB handle caching:
// break H, wait for the ack; NFS3ERR_ACCES if an SMB open still denies
// delete): a CIFS program has two files open under RWH leases. NFS rm of
// one and mv of the other succeed (the Linux client shares delete), and
// their leases are R after (the LOOKUP before each took W, the REMOVE or
// RENAME H). The CIFS mount finds neither old name within
// a moment of the program's close, and the moved file by its new name. A
// file the CIFS client closed (it keeps the handle, deferred, under the
// lease) goes from its view the same way. An open of the host's SMB client
// that does not share delete makes NFS rm and mv fail with EACCES once its
// H is broken; once it closes they succeed.
//
// What the CIFS mount shows is the Linux client's: it offers no directory
// lease here and trusts a name it looked up for its attribute cache time
// (actimeo, 1 s) or, longer, while it caches reads of the file; and while
// it has the file open, it asks the server about its handle, not the
// name, so the name stays in its view until the close. No break changes
// that (breaking R too was tried: the names went no sooner).
func (x *xtable) removeBreaksH(t *testing.T) {
	ca, cb := x.cifs+"/t3a", x.cifs+"/t3b"
	pc := startProbe(x.v, 3*time.Minute, false,
		openOp("a", ca),
		probeOp{"op": "pwrite", "fd": "a", "off": 0, "data": "gone"},
		openOp("b", cb),
		probeOp{"op": "pwrite", "fd": "b", "off": 0, "data": "moved"},
		touchOp("xt-t3-open"), waitOp("xt-t3-nfs"),
		probeOp{"op": "close", "fd": "a"},
		probeOp{"op": "close", "fd": "b"},
		probeOp{"op": "waitgone", "id": "gone-a", "path": ca, "ms": 10000},
		probeOp{"op": "waitgone", "id": "gone-b", "path": cb, "ms": 10000},
		probeOp{"op": "open", "fd": "c", "path": x.cifs + "/t3c", "flags": "O_RDONLY"},
		probeOp{"op": "read", "id": "read-c", "fd": "c", "len": 100},
		probeOp{"op": "close", "fd": "c"},
		probeOp{"op": "open", "fd": "d", "path": x.cifs + "/t3x", "flags": "O_RDWR|O_CREAT"},
		probeOp{"op": "close", "fd": "d"},
		touchOp("xt-t3-deferred"), waitOp("xt-t3-rm"),
		probeOp{"op": "waitgone", "id": "gone-x", "path": x.cifs + "/t3x", "ms": 10000})
	defer x.release("xt-t3-nfs", "xt-t3-rm")
	x.clients.awaitFile(t, "xt-t3-open", pc)
	x.name(t, ca, "t3a")
	x.name(t, cb, "t3b")
	x.wantEntries(t, "t3a", "t3a caching RWH smb cifs", "t3a share rw-/rwd smb cifs")
	x.wantEntries(t, "t3b", "t3b caching RWH smb cifs", "t3b share rw-/rwd smb cifs")
	out, rc := x.guest(t, "cd "+x.nfs+" && rm t3a && mv t3b t3c && ls t3a t3b 2>&1; cat t3c")
	if want := lines("ls: cannot access 't3a': No such file or directory", "ls: cannot access 't3b': No such file or directory") + "moved"; out != want {
		t.Fatalf("NFS rm and mv of files open over SMB: rc %d\n%s\nwant\n%s", rc, out, want)
	}
	x.wantEntries(t, "t3a", "t3a caching R smb cifs", "t3a share rw-/rwd smb cifs")
	x.wantEntries(t, "t3b", "t3b caching R smb cifs", "t3b share rw-/rwd smb cifs")
	x.signal(t, "xt-t3-nfs")
	x.clients.awaitFile(t, "xt-t3-deferred", pc)
	sh(t, x.v, 30*time.Second, "rm "+x.nfs+"/t3x")
	x.signal(t, "xt-t3-rm")
	rs := pc.wait(t, time.Minute)
	wantData(t, rs, "read-c", "moved")
	for _, id := range []string{"gone-a", "gone-b", "gone-x"} {
		r := wantOK(t, rs, id)
		t.Logf("%s: the CIFS mount lost the name %d ms after the close or remove", id, r.N)
		if time.Duration(r.N)*time.Millisecond >= nameCacheTime {
			t.Errorf("%s: the CIFS mount still found the name %d ms after, want under %v", id, r.N, nameCacheTime)
		}
	}
	x.wantEntries(t, "t3a")

	sh(t, x.v, 30*time.Second, "echo kept > "+x.nfs+"/t3d")
	r := x.smbOpen(t, "t3d", smbclient.ShareRead|smbclient.ShareWrite, smbclient.LeaseRWH, smbclient.DispositionOpen)
	defer x.smb.Close(r.FileID) // if the test fails before it does
	if r.Lease == nil || r.Lease.State != smbclient.LeaseRWH {
		t.Fatalf("lease of the SMB open: %+v", r.Lease)
	}
	x.name(t, x.nfs+"/t3d", "t3d")
	x.wantEntries(t, "t3d", "t3d caching RWH smb smbc", "t3d share rwd/rw- smb smbc")
	x.leaseBreaks()
	out, rc = x.guest(t, "cd "+x.nfs+" && rm t3d; mv t3d t3e; ls t3*")
	if want := lines("t3c", "t3d", "rm: cannot remove 't3d': Permission denied", "mv: cannot move 't3d' to 't3e': Permission denied"); out != want {
		t.Fatalf("NFS rm and mv under an SMB open without FILE_SHARE_DELETE: rc %d\n%s\nwant\n%s", rc, out, want)
	}
	// Two breaks: H for the REMOVE, W for a LOOKUP or GETATTR (before or
	// after, as the NFS client's cache has it).
	if got := x.leaseBreaks(); len(got) != 2 || got[1] != "RH->R" && got[1] != "RW->R" {
		t.Errorf("the SMB client's lease breaks: %q, want two, taking H and W", got)
	}
	x.wantEntries(t, "t3d", "t3d caching R smb smbc", "t3d share rwd/rw- smb smbc")
	x.smbClose(t, r.FileID)
	expectSh(t, x.v, 30*time.Second, "cd "+x.nfs+" && mv t3d t3e && cat t3e && rm t3e t3c && test ! -e t3d && echo gone", "kept\ngone\n")
}

// leaseUnderNLM (SMB CREATE asking for a W lease while NLM locks exist:
// granted without W): with an NFS program's read lock on the file, the
// CIFS client's open gets RH, and so does an open asking for RWH, and
// `tandem locks` shows it.
func (x *xtable) leaseUnderNLM(t *testing.T) {
	fc, fn := x.cifs+"/t5", x.nfs+"/t5"
	pn := startProbe(x.v, 3*time.Minute, false,
		openOp("n", fn),
		probeOp{"op": "pwrite", "fd": "n", "off": 0, "data": "nlm"},
		lockOp("n-rd", "n", "F_SETLK", "rd", 0, 10),
		touchOp("xt-t5-held"), waitOp("xt-t5-end"))
	defer x.release("xt-t5-end")
	x.clients.awaitFile(t, "xt-t5-held", pn)
	pc := startProbe(x.v, 3*time.Minute, false,
		probeOp{"op": "open", "fd": "c", "path": fc, "flags": "O_RDWR"},
		probeOp{"op": "pread", "id": "c-read", "fd": "c", "off": 0, "len": 10},
		touchOp("xt-t5-open"), waitOp("xt-t5-end"))
	x.clients.awaitFile(t, "xt-t5-open", pc)
	x.name(t, fn, "t5")
	host := x.v.Hostname()
	x.wantEntries(t, "t5", "t5 caching RH smb cifs", "t5 range shared 0+10 nlm "+host, "t5 share rw-/rwd smb cifs")
	r := x.smbOpen(t, "t5", smbclient.ShareAll, smbclient.LeaseRWH, smbclient.DispositionOpen)
	if r.Lease == nil || r.Lease.State != smbclient.LeaseRead|smbclient.LeaseHandle {
		t.Errorf("lease asked RWH under an NLM lock: %+v, want RH", r.Lease)
	}
	x.smbClose(t, r.FileID)
	x.signal(t, "xt-t5-end")
	pn.wait(t, time.Minute)
	wantData(t, pc.wait(t, time.Minute), "c-read", "nlm")
}

// denyModes (SMB open with deny-read / deny-write: NFS READ / WRITE
// refused while it is open): the host's SMB client opens without
// FILE_SHARE_READ, and NFS reads fail with EACCES while writes go; then
// without FILE_SHARE_WRITE, and NFS writes and truncation fail while reads
// go. After each close, everything goes.
func (x *xtable) denyModes(t *testing.T) {
	fn := x.nfs + "/t6"
	sh(t, x.v, 30*time.Second, "printf 0123456789 > "+fn)
	x.name(t, fn, "t6")
	// Each round writes its tag at 8 and sets a new size (the client
	// sends no SETATTR for the size the file has).
	nfsIO := func(tag string, size int64) []probeResult {
		return x.run(t,
			probeOp{"op": "open", "fd": "d", "path": fn, "flags": "O_RDWR|O_DIRECT"},
			probeOp{"op": "pread", "id": tag + "-read", "fd": "d", "off": 0, "len": 4},
			probeOp{"op": "pwrite", "id": tag + "-write", "fd": "d", "off": 8, "data": strings.ToUpper(tag[:2])},
			probeOp{"op": "ftruncate", "id": tag + "-trunc", "fd": "d", "size": size})
	}
	r := x.smbOpen(t, "t6", smbclient.ShareWrite|smbclient.ShareDelete, 0, smbclient.DispositionOpen)
	defer x.smb.Close(r.FileID) // if the test fails before it does
	x.wantEntries(t, "t6", "t6 share rwd/-wd smb smbc")
	dr := nfsIO("dr", 11)
	x.smbClose(t, r.FileID)
	after1 := nfsIO("o1", 10)
	r = x.smbOpen(t, "t6", smbclient.ShareRead|smbclient.ShareDelete, 0, smbclient.DispositionOpen)
	defer x.smb.Close(r.FileID)
	x.wantEntries(t, "t6", "t6 share rwd/r-d smb smbc")
	dw := nfsIO("dw", 11)
	x.smbClose(t, r.FileID)
	after2 := nfsIO("o2", 12)
	x.wantEntries(t, "t6")
	wantOutcomes(t, dr, map[string]string{"dr-read": "EACCES", "dr-write": "ok", "dr-trunc": "ok"})
	wantOutcomes(t, after1, map[string]string{"o1-read": "ok", "o1-write": "ok", "o1-trunc": "ok"})
	wantOutcomes(t, dw, map[string]string{"dw-read": "ok", "dw-write": "EACCES", "dw-trunc": "EACCES"})
	wantOutcomes(t, after2, map[string]string{"o2-read": "ok", "o2-write": "ok", "o2-trunc": "ok"})
	expectSh(t, x.v, 30*time.Second, "stat -c %s "+fn+" && head -c 10 "+fn, "12\n01234567O2")
}

// removeOpen (NFS REMOVE of a file an SMB client has open with
// FILE_SHARE_DELETE: the name goes at once, the open keeps reading,
// writing and flushing until it closes): a CIFS program has the file open
// (the Linux client shares delete). NFS rm succeeds, and NFS makes a new
// file of that name at once; the CIFS program writes, reads and fsyncs
// its old file without an error and closes it; NFS still reads the new
// file, and so does the CIFS mount, within its attribute cache time of the
// close. (While it has the old file open, the Linux client answers stat
// of the name from that open, asking the server about its handle rather
// than the name: a client of its own open never sees the name go.)
func (x *xtable) removeOpen(t *testing.T) {
	fc, fn := x.cifs+"/t7", x.nfs+"/t7"
	pc := startProbe(x.v, 3*time.Minute, false,
		openOp("c", fc),
		probeOp{"op": "pwrite", "fd": "c", "off": 0, "data": "old file"},
		probeOp{"op": "fsync", "fd": "c"},
		touchOp("xt-t7-open"), waitOp("xt-t7-rm"),
		probeOp{"op": "pwrite", "id": "c-write", "fd": "c", "off": 8, "data": ", still written"},
		probeOp{"op": "pread", "id": "c-read", "fd": "c", "off": 0, "len": 100},
		probeOp{"op": "fsync", "id": "c-fsync", "fd": "c"},
		probeOp{"op": "close", "id": "c-close", "fd": "c"},
		touchOp("xt-t7-closed"), waitOp("xt-t7-end"))
	defer x.release("xt-t7-rm", "xt-t7-end")
	x.clients.awaitFile(t, "xt-t7-open", pc)
	x.name(t, fn, "t7")
	out, rc := x.guest(t, "rm "+fn+" && (stat "+fn+" 2>&1; true) && echo new file > "+fn+" && cat "+fn)
	if want := lines("stat: cannot statx '"+fn+"': No such file or directory", "new file"); rc != 0 || out != want {
		t.Fatalf("NFS rm of a file open over SMB, then a new file of its name: rc %d\n%s\nwant\n%s", rc, out, want)
	}
	x.wantEntries(t, "t7", "t7 caching R smb cifs", "t7 share rw-/rwd smb cifs")
	x.signal(t, "xt-t7-rm")
	x.clients.awaitFile(t, "xt-t7-closed", pc)
	x.signal(t, "xt-t7-end")
	rcs := pc.wait(t, time.Minute)
	wantOutcomes(t, rcs, map[string]string{"c-write": "ok", "c-read": "ok", "c-fsync": "ok", "c-close": "ok"})
	wantData(t, rcs, "c-read", "old file, still written")
	x.wantEntries(t, "t7")
	x.showsWithin(t, "cat "+fc, "new file\n", nameCacheTime)
	expectSh(t, x.v, 30*time.Second, "cat "+fn, "new file\n")
}

// nfsSymlink (a symbolic link made over NFS: the SMB client sees a
// reparse point and resolves it itself): links made with ln -s on the NFS
// mount, relative and absolute, are links with the same target on the
// CIFS mount, and the relative one leads to its file's bytes.
func (x *xtable) nfsSymlink(t *testing.T) {
	sh(t, x.v, 30*time.Second, "cd "+x.nfs+" && mkdir -p t8 && echo target > t8/file && ln -s t8/file t8rel && ln -s /srv/elsewhere t8abs")
	expectSh(t, x.v, 30*time.Second, "cd "+x.cifs+" && stat -c %F t8rel t8abs && readlink t8rel t8abs && cat t8rel",
		lines("symbolic link", "symbolic link", "t8/file", "/srv/elsewhere", "target"))
}

// smbSymlink (a symbolic link made by an SMB client with
// FSCTL_SET_REPARSE_POINT: an NFS client sees a symlink with that
// target): the host's SMB client makes a relative and an absolute link
// (the Linux 6.1 CIFS client cannot make symbolic links on a share
// without mfsymlinks); NFS and CIFS both read them back.
func (x *xtable) smbSymlink(t *testing.T) {
	const openReparsePoint = 0x00200000
	for _, l := range []struct {
		name, substitute string
		flags            uint32
	}{{"t9rel", `t8\file`, smbclient.SymlinkFlagRelative}, {"t9abs", `\srv\other`, 0}} {
		r, err := x.smb.Create(l.name, smbclient.CreateRequest{DesiredAccess: smbclient.AccessReadWrite, ShareAccess: smbclient.ShareAll,
			Disposition: smbclient.DispositionCreate, Options: openReparsePoint})
		if err != nil || r.Status != smbclient.StatusSuccess {
			t.Fatalf("SMB CREATE %s: %v %v", l.name, r, err)
		}
		if _, st, err := x.smb.Ioctl(r.FileID, smbclient.FsctlSetReparsePoint, smbclient.SymlinkReparseData(l.substitute, l.substitute, l.flags), 0); err != nil || st != smbclient.StatusSuccess {
			t.Fatalf("FSCTL_SET_REPARSE_POINT %s: %v %v", l.name, st, err)
		}
		x.smbClose(t, r.FileID)
	}
	expectSh(t, x.v, 30*time.Second, "cd "+x.nfs+" && stat -c %F t9rel t9abs && readlink t9rel t9abs && cat t9rel && cd "+x.cifs+" && readlink t9rel t9abs",
		lines("symbolic link", "symbolic link", "t8/file", "/srv/other", "target", "t8/file", "/srv/other"))
}
