package conformance

import (
	"strings"
	"testing"

	"github.com/tandemfs/tandem/internal/server"
)

// TestErrorStatuses checks the exact nfsstat3 of each failure a client can
// provoke, and that each failure's reply is well formed.
func TestErrorStatuses(t *testing.T) {
	ts := startServer(t, server.ShareConfig{Name: "export"}, server.ShareConfig{Name: "ro", ReadOnly: true})
	c, root := session(t, ts)

	file := c.create(root, "file", 0o644)
	c.write(file, 0, []byte("content"), fileSync)
	dir := c.mkdir(root, "dir", 0o755)
	c.create(dir, "inside", 0o644)
	c.mkdir(root, "empty", 0o755)

	t.Run("NOENT", func(t *testing.T) {
		expect(c, procLookup, diropargs3{root, "missing"}, errNoEnt)
		expect(c, procRemove, diropargs3{root, "missing"}, errNoEnt)
		expect(c, procRmdir, diropargs3{root, "missing"}, errNoEnt)
		expect(c, procRename, renameArgs{diropargs3{root, "missing"}, diropargs3{root, "other"}}, errNoEnt)
	})

	t.Run("EXIST", func(t *testing.T) {
		expect(c, procCreate, createArgs{Where: diropargs3{root, "file"}, Mode: guarded, Attr: setMode(0o644)}, errExist)
		expect(c, procMkdir, mkdirArgs{Where: diropargs3{root, "dir"}, Attr: setMode(0o755)}, errExist)
		expect(c, procMkdir, mkdirArgs{Where: diropargs3{root, "file"}, Attr: setMode(0o755)}, errExist)
		expect(c, procSymlink, symlinkArgs{Where: diropargs3{root, "file"}, Target: "x"}, errExist)
		expect(c, procMknod, mknodPipeArgs{Where: diropargs3{root, "file"}, Type: typeFIFO}, errExist)
		expect(c, procLink, linkArgs{FH: file, Link: diropargs3{root, "dir"}}, errExist)
	})

	t.Run("NOTDIR", func(t *testing.T) {
		expect(c, procLookup, diropargs3{file, "x"}, errNotDir)
		expect(c, procCreate, createArgs{Where: diropargs3{file, "x"}, Mode: guarded}, errNotDir)
		expect(c, procMkdir, mkdirArgs{Where: diropargs3{file, "x"}}, errNotDir)
		expect(c, procRmdir, diropargs3{root, "file"}, errNotDir)
		expect(c, procReaddir, readdirArgs{Dir: file, Count: 4096}, errNotDir)
		expect(c, procReaddirplus, readdirplusArgs{Dir: file, DirCount: 1024, MaxCount: 4096}, errNotDir)
		// A directory renamed onto a file.
		expect(c, procRename, renameArgs{diropargs3{root, "empty"}, diropargs3{root, "file"}}, errNotDir)
	})

	t.Run("ISDIR", func(t *testing.T) {
		expect(c, procRead, readArgs{FH: dir, Count: 10}, errIsDir)
		expect(c, procWrite, writeArgs{FH: dir, Count: 1, Stable: fileSync, Data: []byte("x")}, errIsDir)
		expect(c, procRemove, diropargs3{root, "dir"}, errIsDir)
		// A file renamed onto a directory.
		expect(c, procRename, renameArgs{diropargs3{root, "file"}, diropargs3{root, "empty"}}, errIsDir)
	})

	t.Run("NOTEMPTY", func(t *testing.T) {
		expect(c, procRmdir, diropargs3{root, "dir"}, errNotEmpty)
		// A directory renamed onto a non-empty directory.
		expect(c, procRename, renameArgs{diropargs3{root, "empty"}, diropargs3{root, "dir"}}, errNotEmpty)
		c.lookup(dir, "inside")
		c.lookup(root, "empty")
	})

	t.Run("ACCES", func(t *testing.T) {
		owner, other := c.as(1000, 100), c.as(2000, 200)
		private := owner.create(root, "private", 0o600)
		owner.write(private, 0, []byte("secret"), fileSync)
		expect(other, procRead, readArgs{FH: private, Count: 6}, errAcces)
		expect(other, procWrite, writeArgs{FH: private, Count: 1, Stable: fileSync, Data: []byte("x")}, errAcces)
		owned := owner.mkdir(root, "owned", 0o755)
		expect(other, procCreate, createArgs{Where: diropargs3{owned, "x"}, Mode: guarded, Attr: setMode(0o644)}, errAcces)
		expect(other, procMkdir, mkdirArgs{Where: diropargs3{owned, "x"}, Attr: setMode(0o755)}, errAcces)
		owner.create(owned, "victim", 0o666)
		expect(other, procRemove, diropargs3{owned, "victim"}, errAcces)
		expect(other, procRename, renameArgs{diropargs3{owned, "victim"}, diropargs3{root, "stolen"}}, errAcces)
		closed := owner.mkdir(root, "closed", 0o700)
		expect(other, procLookup, diropargs3{closed, "anything"}, errAcces)
		expect(other, procReaddir, readdirArgs{Dir: closed, Count: 4096}, errAcces)
		// The owner and root still get in.
		if got := owner.read(private, 0, 6); string(got.Data) != "secret" {
			t.Errorf("owner READ: %q", got.Data)
		}
		if got := c.read(private, 0, 6); string(got.Data) != "secret" {
			t.Errorf("root READ of a 0600 file: %q", got.Data)
		}
	})

	t.Run("PERM", func(t *testing.T) {
		owner, other := c.as(1000, 100), c.as(2000, 200)
		fh := owner.create(root, "perm", 0o644)
		expect(other, procSetattr, setattrArgs{FH: fh, Attr: setMode(0o777)}, errPerm)
		expect(owner, procSetattr, setattrArgs{FH: fh, Attr: sattr3{UID: setU32{true, 2000}}}, errPerm)
		expect(owner, procSetattr, setattrArgs{FH: fh, Attr: setMode(0o600)}, nfsOK)
	})

	t.Run("ROFS", func(t *testing.T) {
		ro := c.mount("/ro")
		expect(c, procCreate, createArgs{Where: diropargs3{ro, "x"}, Mode: guarded, Attr: setMode(0o644)}, errROFS)
		expect(c, procMkdir, mkdirArgs{Where: diropargs3{ro, "x"}, Attr: setMode(0o755)}, errROFS)
		expect(c, procSymlink, symlinkArgs{Where: diropargs3{ro, "x"}, Target: "y"}, errROFS)
		expect(c, procMknod, mknodPipeArgs{Where: diropargs3{ro, "x"}, Type: typeFIFO}, errROFS)
		expect(c, procSetattr, setattrArgs{FH: ro, Attr: setMode(0o700)}, errROFS)
		// Reading is fine.
		c.getattr(ro)
		readdirAll(c, ro, 4096)
	})

	t.Run("STALE", func(t *testing.T) {
		gone := c.create(root, "gone", 0o644)
		goneDir := c.mkdir(root, "gonedir", 0o755)
		ok[wccData](c, procRemove, diropargs3{root, "gone"})
		ok[wccData](c, procRmdir, diropargs3{root, "gonedir"})
		expect(c, procGetattr, fhArgs{gone}, errStale)
		expect(c, procRead, readArgs{FH: gone, Count: 1}, errStale)
		expect(c, procWrite, writeArgs{FH: gone, Count: 1, Stable: fileSync, Data: []byte("x")}, errStale)
		expect(c, procSetattr, setattrArgs{FH: gone, Attr: setMode(0o600)}, errStale)
		expect(c, procCommit, commitArgs{FH: gone}, errStale)
		expect(c, procLookup, diropargs3{goneDir, "x"}, errStale)
		expect(c, procCreate, createArgs{Where: diropargs3{goneDir, "x"}, Mode: guarded}, errStale)
		expect(c, procReaddir, readdirArgs{Dir: goneDir, Count: 4096}, errStale)
	})

	t.Run("BADHANDLE", func(t *testing.T) {
		for _, junk := range [][]byte{[]byte("garbage"), {}, []byte(strings.Repeat("\xff", 64))} {
			expect(c, procGetattr, fhArgs{junk}, errBadHandle)
			expect(c, procLookup, diropargs3{junk, "x"}, errBadHandle)
			expect(c, procRead, readArgs{FH: junk, Count: 1}, errBadHandle)
		}
	})

	t.Run("NAMETOOLONG", func(t *testing.T) {
		long := strings.Repeat("n", 256)
		expect(c, procCreate, createArgs{Where: diropargs3{root, long}, Mode: guarded, Attr: setMode(0o644)}, errNameTooLong)
		expect(c, procMkdir, mkdirArgs{Where: diropargs3{root, long}, Attr: setMode(0o755)}, errNameTooLong)
		expect(c, procLookup, diropargs3{root, long}, errNameTooLong)
		expect(c, procSymlink, symlinkArgs{Where: diropargs3{root, long}, Target: "x"}, errNameTooLong)
		expect(c, procRename, renameArgs{diropargs3{root, "file"}, diropargs3{root, long}}, errNameTooLong)
		expect(c, procLink, linkArgs{FH: file, Link: diropargs3{root, long}}, errNameTooLong)
		// 255 bytes is the limit, not over it.
		c.create(root, long[:255], 0o644)
		c.lookup(root, long[:255])
	})

	t.Run("INVAL", func(t *testing.T) {
		expect(c, procReadlink, fhArgs{file}, errInval)
		expect(c, procReadlink, fhArgs{dir}, errInval)
	})

	t.Run("BADTYPE", func(t *testing.T) {
		for _, typ := range []uint32{typeReg, typeDir, typeLnk} {
			expect(c, procMknod, mknodOtherArgs{Where: diropargs3{root, "badtype"}, Type: typ}, errBadType)
		}
	})

	t.Run("NOT_SYNC", func(t *testing.T) {
		a := c.getattr(file)
		wrong := a.Ctime
		wrong.Seconds--
		expect(c, procSetattr, setattrArgs{FH: file, Attr: setMode(0o600), Guard: sattrGuard3{true, wrong}}, errNotSync)
		if m := c.getattr(file).Mode & 0o7777; m != 0o644 {
			t.Errorf("mode after a failed guarded SETATTR: %o, want 644 unchanged", m)
		}
	})

	t.Run("BAD_COOKIE", func(t *testing.T) {
		big := c.mkdir(root, "cookies", 0o755)
		for i := range 50 {
			c.create(big, strings.Repeat("c", 100)+string(rune('A'+i%26))+string(rune('a'+i/26)), 0o644)
		}
		first := readdirOnce(c, big, 0, 0, 1024)
		if first.status != nfsOK || first.eof || len(first.entries) == 0 {
			t.Fatalf("first READDIR page: %s eof %v entries %d; want OK, more to come", statName(first.status), first.eof, len(first.entries))
		}
		cookie := first.entries[len(first.entries)-1].Cookie
		bad := first.head.Verf ^ 0x5a5a5a5a5a5a5a5a
		if p := readdirOnce(c, big, cookie, bad, 1024); p.status != errBadCookie {
			t.Errorf("READDIR with a wrong cookie verifier: %s, want NFS3ERR_BAD_COOKIE", statName(p.status))
		}
		if p := readdirplusOnce(c, big, cookie, bad, 1024, 8192); p.status != errBadCookie {
			t.Errorf("READDIRPLUS with a wrong cookie verifier: %s, want NFS3ERR_BAD_COOKIE", statName(p.status))
		}
		if p := readdirOnce(c, big, cookie, first.head.Verf, 1024); p.status != nfsOK {
			t.Errorf("READDIR with the right verifier: %s", statName(p.status))
		}
	})
}
