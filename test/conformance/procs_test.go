package conformance

import (
	"bytes"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
)

// TestProcedures calls each NFSv3 procedure on its success path and checks
// what it returns.
func TestProcedures(t *testing.T) {
	ts := startServer(t)
	c, root := session(t, ts)

	t.Run("NULL", func(t *testing.T) {
		end(c, "NULL", call(c, 100003, procNull, struct{}{}))
	})

	t.Run("GETATTR", func(t *testing.T) {
		a := c.getattr(root)
		if a.Type != typeDir || a.Mode&0o7777 != 0o777 || a.UID != 0 || a.GID != 0 {
			t.Errorf("share root: type %d mode %o uid %d gid %d, want NF3DIR 0777 0 0", a.Type, a.Mode, a.UID, a.GID)
		}
		if a.Nlink < 2 {
			t.Errorf("share root: nlink %d, want at least 2", a.Nlink)
		}
	})

	t.Run("SETATTR", func(t *testing.T) {
		fh := c.create(root, "setattr", 0o644)
		c.write(fh, 0, bytes.Repeat([]byte("x"), 1000), fileSync)
		r := ok[wccData](c, procSetattr, setattrArgs{FH: fh, Attr: sattr3{
			Mode:  setU32{true, 0o600},
			UID:   setU32{true, 1234},
			GID:   setU32{true, 5678},
			Size:  setU64{true, 10},
			Mtime: setTime{How: 2, Time: nfstime3{1_000_000_000, 5}},
			Atime: setTime{How: 2, Time: nfstime3{999_999_999, 7}},
		}})
		if !r.Before.Present || r.Before.Attr.Size != 1000 {
			t.Errorf("SETATTR wcc before: %+v, want size 1000", r.Before)
		}
		a := c.getattr(fh)
		if a.Mode&0o7777 != 0o600 || a.UID != 1234 || a.GID != 5678 || a.Size != 10 ||
			a.Mtime != (nfstime3{1_000_000_000, 5}) || a.Atime != (nfstime3{999_999_999, 7}) {
			t.Errorf("after SETATTR: %+v", a)
		}
		if !r.After.Present || r.After.Attr != a {
			t.Errorf("SETATTR wcc after %+v, GETATTR %+v", r.After.Attr, a)
		}
		// Guarded by the right ctime, the change happens.
		ok[wccData](c, procSetattr, setattrArgs{FH: fh, Attr: setMode(0o640), Guard: sattrGuard3{true, a.Ctime}})
		if m := c.getattr(fh).Mode & 0o7777; m != 0o640 {
			t.Errorf("guarded SETATTR with the current ctime: mode %o, want 640", m)
		}
		// Truncating to a larger size zero-fills.
		ok[wccData](c, procSetattr, setattrArgs{FH: fh, Attr: sattr3{Size: setU64{true, 20}}})
		if got := c.read(fh, 0, 100); !bytes.Equal(got.Data, append(bytes.Repeat([]byte("x"), 10), make([]byte, 10)...)) || !got.EOF {
			t.Errorf("after truncate down and up: %q eof %v", got.Data, got.EOF)
		}
	})

	t.Run("LOOKUP", func(t *testing.T) {
		fh := c.create(root, "lookup", 0o644)
		got, a := c.lookup(root, "lookup")
		if !bytes.Equal(got, fh) || a.Type != typeReg {
			t.Errorf("LOOKUP: handle %x type %d, want %x NF3REG", got, a.Type, fh)
		}
		r := ok[lookupOK](c, procLookup, diropargs3{root, "lookup"})
		if !r.DirAttr.Present || r.DirAttr.Attr.FileID != c.getattr(root).FileID {
			t.Errorf("LOOKUP directory attributes: %+v", r.DirAttr)
		}
		if _, a := c.lookup(root, "."); a.FileID != c.getattr(root).FileID {
			t.Errorf(`LOOKUP ".": file id %d, want the directory's`, a.FileID)
		}
		sub := c.mkdir(root, "lookupdir", 0o755)
		if _, a := c.lookup(sub, ".."); a.FileID != c.getattr(root).FileID {
			t.Errorf(`LOOKUP "..": file id %d, want the parent's`, a.FileID)
		}
	})

	t.Run("ACCESS", func(t *testing.T) {
		fh := c.as(1000, 100).create(root, "access", 0o640)
		const fileBits = accessRead | accessModify | accessExtend | accessExecute
		for _, tc := range []struct {
			uid, gid uint32
			want     uint32
		}{
			{1000, 100, accessRead | accessModify | accessExtend}, // owner: rw-
			{2000, 100, accessRead},                               // group: r--
			{3000, 3000, 0},                                       // other: ---
		} {
			r := ok[accessOK](c.as(tc.uid, tc.gid), procAccess, accessArgs{fh, fileBits})
			if r.Access != tc.want {
				t.Errorf("ACCESS of a 0640 file as %d:%d: %#x, want %#x", tc.uid, tc.gid, r.Access, tc.want)
			}
			if !r.Attr.Present || r.Attr.Attr.Mode&0o7777 != 0o640 {
				t.Errorf("ACCESS attributes: %+v", r.Attr)
			}
		}
		dir := c.as(1000, 100).mkdir(root, "accessdir", 0o755)
		const dirBits = accessRead | accessLookup | accessModify | accessExtend | accessDelete
		if r := ok[accessOK](c.as(1000, 100), procAccess, accessArgs{dir, dirBits}); r.Access != dirBits {
			t.Errorf("ACCESS of an own 0755 directory: %#x, want %#x", r.Access, dirBits)
		}
		if r := ok[accessOK](c.as(3000, 3000), procAccess, accessArgs{dir, dirBits}); r.Access != accessRead|accessLookup {
			t.Errorf("ACCESS of another's 0755 directory: %#x, want %#x", r.Access, accessRead|accessLookup)
		}
	})

	t.Run("READLINK SYMLINK", func(t *testing.T) {
		const target = "../some/where else"
		r := ok[diropOK](c, procSymlink, symlinkArgs{Where: diropargs3{root, "symlink"}, Attr: setMode(0o777), Target: target})
		fh := handleOf(c, "SYMLINK", r)
		if a := r.Attr.Attr; a.Type != typeLnk || a.Size != uint64(len(target)) {
			t.Errorf("SYMLINK attributes: type %d size %d, want NF3LNK %d", a.Type, a.Size, len(target))
		}
		l := ok[readlinkOK](c, procReadlink, fhArgs{fh})
		if l.Target != target {
			t.Errorf("READLINK: %q, want %q", l.Target, target)
		}
		if _, a := c.lookup(root, "symlink"); a.Type != typeLnk {
			t.Errorf("LOOKUP of a symlink: type %d, want NF3LNK (not followed)", a.Type)
		}
	})

	t.Run("READ WRITE", func(t *testing.T) {
		fh := c.create(root, "readwrite", 0o644)
		data := make([]byte, 70000)
		for i := range data {
			data[i] = byte(i * 7)
		}
		w := c.write(fh, 0, data, fileSync)
		if w.Committed != fileSync {
			t.Errorf("FILE_SYNC WRITE: committed %d, want FILE_SYNC", w.Committed)
		}
		c.write(fh, 100000, []byte("tail"), unstable)
		r := c.read(fh, 0, 70000)
		if !bytes.Equal(r.Data, data) || r.Count != 70000 || r.EOF {
			t.Errorf("READ 0..70000: %d bytes (count %d), eof %v; want the written bytes, no eof", len(r.Data), r.Count, r.EOF)
		}
		r = c.read(fh, 70000, 40000)
		want := append(make([]byte, 30000), "tail"...)
		if !bytes.Equal(r.Data, want) || !r.EOF {
			t.Errorf("READ across the hole to the end: %d bytes eof %v, want %d zero bytes then \"tail\" and eof", len(r.Data), r.EOF, 30000)
		}
		if r := c.read(fh, 200000, 10); len(r.Data) != 0 || !r.EOF {
			t.Errorf("READ past the end: %d bytes eof %v, want 0 and eof", len(r.Data), r.EOF)
		}
		if r := c.read(fh, 0, 0); len(r.Data) != 0 || r.EOF {
			t.Errorf("READ of 0 bytes at 0: %d bytes eof %v, want 0 bytes and no eof", len(r.Data), r.EOF)
		}
		if !r.Attr.Present || r.Attr.Attr.Size != 100004 {
			t.Errorf("READ attributes: %+v, want size 100004", r.Attr)
		}
	})

	t.Run("CREATE", func(t *testing.T) {
		r := ok[diropOK](c.as(1000, 100), procCreate, createArgs{Where: diropargs3{root, "create"}, Mode: unchecked, Attr: setMode(0o604)})
		fh := handleOf(c, "CREATE", r)
		if a := r.Attr.Attr; a.Type != typeReg || a.Mode&0o7777 != 0o604 || a.UID != 1000 || a.GID != 100 || a.Size != 0 || a.Nlink != 1 {
			t.Errorf("CREATE attributes: %+v", a)
		}
		c.write(fh, 0, []byte("hello"), fileSync)
		// UNCHECKED on an existing file without a size keeps it.
		r2 := ok[diropOK](c, procCreate, createArgs{Where: diropargs3{root, "create"}, Mode: unchecked})
		if !bytes.Equal(handleOf(c, "CREATE", r2), fh) || c.getattr(fh).Size != 5 {
			t.Errorf("UNCHECKED CREATE of an existing file: another handle or lost content")
		}
		// UNCHECKED with size 0 truncates it.
		ok[diropOK](c, procCreate, createArgs{Where: diropargs3{root, "create"}, Mode: unchecked, Attr: sattr3{Size: setU64{true, 0}}})
		if s := c.getattr(fh).Size; s != 0 {
			t.Errorf("UNCHECKED CREATE with size 0 of an existing file: size %d", s)
		}
	})

	t.Run("MKDIR", func(t *testing.T) {
		r := ok[diropOK](c, procMkdir, mkdirArgs{Where: diropargs3{root, "mkdir"}, Attr: setMode(0o750)})
		handleOf(c, "MKDIR", r)
		if a := r.Attr.Attr; a.Type != typeDir || a.Mode&0o7777 != 0o750 || a.Nlink != 2 {
			t.Errorf("MKDIR attributes: %+v", a)
		}
	})

	t.Run("MKNOD", func(t *testing.T) {
		r := ok[diropOK](c, procMknod, mknodPipeArgs{Where: diropargs3{root, "fifo"}, Type: typeFIFO, Attr: setMode(0o644)})
		handleOf(c, "MKNOD FIFO", r)
		if a := r.Attr.Attr; a.Type != typeFIFO || a.Mode&0o7777 != 0o644 {
			t.Errorf("MKNOD FIFO attributes: %+v", a)
		}
		r = ok[diropOK](c, procMknod, mknodPipeArgs{Where: diropargs3{root, "sock"}, Type: typeSock, Attr: setMode(0o600)})
		if a := r.Attr.Attr; a.Type != typeSock {
			t.Errorf("MKNOD SOCK attributes: %+v", a)
		}
		r = ok[diropOK](c, procMknod, mknodDevArgs{Where: diropargs3{root, "null"}, Type: typeChr, Attr: setMode(0o666), Spec: specdata3{1, 3}})
		if a := r.Attr.Attr; a.Type != typeChr || a.Rdev != (specdata3{1, 3}) {
			t.Errorf("MKNOD CHR 1,3 attributes: %+v", a)
		}
		r = ok[diropOK](c, procMknod, mknodDevArgs{Where: diropargs3{root, "sda"}, Type: typeBlk, Attr: setMode(0o660), Spec: specdata3{8, 0}})
		if a := r.Attr.Attr; a.Type != typeBlk || a.Rdev != (specdata3{8, 0}) {
			t.Errorf("MKNOD BLK 8,0 attributes: %+v", a)
		}
	})

	t.Run("REMOVE", func(t *testing.T) {
		c.create(root, "remove", 0o644)
		before := c.getattr(root)
		r := ok[wccData](c, procRemove, diropargs3{root, "remove"})
		checkWcc(t, "REMOVE", r, before, c.getattr(root))
		expect(c, procLookup, diropargs3{root, "remove"}, errNoEnt)
	})

	t.Run("RMDIR", func(t *testing.T) {
		c.mkdir(root, "rmdir", 0o755)
		nlink := c.getattr(root).Nlink
		ok[wccData](c, procRmdir, diropargs3{root, "rmdir"})
		expect(c, procLookup, diropargs3{root, "rmdir"}, errNoEnt)
		if n := c.getattr(root).Nlink; n != nlink-1 {
			t.Errorf("parent nlink after RMDIR: %d, want %d", n, nlink-1)
		}
	})

	t.Run("RENAME", func(t *testing.T) {
		src := c.create(root, "rename-src", 0o644)
		dst := c.create(root, "rename-dst", 0o644)
		sub := c.mkdir(root, "rename-dir", 0o755)
		rootBefore, subBefore := c.getattr(root), c.getattr(sub)
		r := ok[renameRes](c, procRename, renameArgs{diropargs3{root, "rename-src"}, diropargs3{sub, "moved"}})
		checkWcc(t, "RENAME from", r.FromWcc, rootBefore, c.getattr(root))
		checkWcc(t, "RENAME to", r.ToWcc, subBefore, c.getattr(sub))
		expect(c, procLookup, diropargs3{root, "rename-src"}, errNoEnt)
		if got, _ := c.lookup(sub, "moved"); !bytes.Equal(got, src) {
			t.Errorf("RENAME: the moved file has another handle")
		}
		// Onto an existing file: the target is replaced, and its handle
		// goes stale once its last link is gone.
		ok[renameRes](c, procRename, renameArgs{diropargs3{sub, "moved"}, diropargs3{root, "rename-dst"}})
		if got, _ := c.lookup(root, "rename-dst"); !bytes.Equal(got, src) {
			t.Errorf("RENAME over an existing file: the name does not lead to the renamed file")
		}
		expect(c, procGetattr, fhArgs{dst}, errStale)
		// Renaming a name onto itself changes nothing.
		ok[renameRes](c, procRename, renameArgs{diropargs3{root, "rename-dst"}, diropargs3{root, "rename-dst"}})
		c.lookup(root, "rename-dst")
	})

	t.Run("LINK", func(t *testing.T) {
		fh := c.create(root, "link-src", 0o644)
		before := c.getattr(root)
		r := ok[linkRes](c, procLink, linkArgs{FH: fh, Link: diropargs3{root, "link-dst"}})
		if !r.Attr.Present || r.Attr.Attr.Nlink != 2 {
			t.Errorf("LINK file attributes: %+v, want nlink 2", r.Attr)
		}
		checkWcc(t, "LINK", r.LinkWcc, before, c.getattr(root))
		if got, _ := c.lookup(root, "link-dst"); !bytes.Equal(got, fh) {
			t.Errorf("LINK: the new name leads elsewhere")
		}
		ok[wccData](c, procRemove, diropargs3{root, "link-src"})
		if a := c.getattr(fh); a.Nlink != 1 {
			t.Errorf("nlink after removing one of two links: %d", a.Nlink)
		}
	})

	t.Run("READDIR READDIRPLUS", func(t *testing.T) {
		dir := c.mkdir(root, "list", 0o755)
		want := map[string]uint64{}
		for _, n := range []string{"a", "bb", "ccc"} {
			c.create(dir, n, 0o644)
			_, a := c.lookup(dir, n)
			want[n] = a.FileID
		}
		got := map[string]uint64{}
		for _, e := range readdirAll(c, dir, 8192) {
			got[e.Name] = e.FileID
		}
		checkListing(t, "READDIR", got, want)
		gotPlus := map[string]uint64{}
		for _, e := range readdirplusAll(c, dir, 8192, 32768) {
			gotPlus[e.Name] = e.FileID
			if e.Name == "." || e.Name == ".." {
				continue
			}
			if !e.Attr.Present || !e.FH.Present {
				t.Errorf("READDIRPLUS %s: attributes present %v, handle present %v", e.Name, e.Attr.Present, e.FH.Present)
				continue
			}
			if a := c.getattr(e.FH.FH); a != e.Attr.Attr || a.FileID != e.FileID {
				t.Errorf("READDIRPLUS %s: entry attributes %+v, GETATTR of its handle %+v", e.Name, e.Attr.Attr, a)
			}
		}
		checkListing(t, "READDIRPLUS", gotPlus, want)
	})

	t.Run("FSSTAT", func(t *testing.T) {
		r := ok[fsstatOK](c, procFsstat, fhArgs{root})
		if r.TBytes == 0 || r.FBytes > r.TBytes || r.ABytes > r.FBytes || r.FFiles > r.TFiles || r.AFiles > r.FFiles {
			t.Errorf("FSSTAT: %+v", r)
		}
		if !r.Attr.Present || r.Attr.Attr.Type != typeDir {
			t.Errorf("FSSTAT attributes: %+v", r.Attr)
		}
	})

	t.Run("FSINFO", func(t *testing.T) {
		r := ok[fsinfoOK](c, procFsinfo, fhArgs{root})
		if r.RTMax == 0 || r.RTPref == 0 || r.RTPref > r.RTMax || r.WTMax == 0 || r.WTPref == 0 || r.WTPref > r.WTMax || r.DTPref == 0 {
			t.Errorf("FSINFO transfer sizes: %+v", r)
		}
		if r.MaxFileSize == 0 {
			t.Errorf("FSINFO maxfilesize 0")
		}
		if want := uint32(fsfLink | fsfSymlink | fsfHomogeneous | fsfCanSetTime); r.Properties != want {
			t.Errorf("FSINFO properties %#x, want %#x (links, symlinks, homogeneous, settable times)", r.Properties, want)
		}
		if r.TimeDelta.Seconds != 0 || r.TimeDelta.Nseconds == 0 {
			t.Errorf("FSINFO time_delta %+v, want under a second", r.TimeDelta)
		}
		if !r.Attr.Present {
			t.Errorf("FSINFO: no attributes")
		}
	})

	t.Run("PATHCONF", func(t *testing.T) {
		r := ok[pathconfOK](c, procPathconf, fhArgs{root})
		if r.LinkMax != fs.MaxLinks || r.NameMax != fs.MaxNameLen || !r.NoTrunc || !r.ChownRestricted || r.CaseInsensitive || !r.CasePreserving {
			t.Errorf("PATHCONF: %+v; want linkmax %d name_max %d no_trunc chown_restricted case-sensitive case-preserving",
				r, fs.MaxLinks, fs.MaxNameLen)
		}
	})

	t.Run("COMMIT", func(t *testing.T) {
		fh := c.create(root, "commit", 0o644)
		w := c.write(fh, 0, []byte("some unstable data"), unstable)
		r := ok[commitOK](c, procCommit, commitArgs{FH: fh})
		if r.Verf != w.Verf {
			t.Errorf("COMMIT verifier %x, WRITE verifier %x: must be equal while the server runs", r.Verf, w.Verf)
		}
		if !r.Wcc.After.Present || r.Wcc.After.Attr.Size != 18 {
			t.Errorf("COMMIT wcc after: %+v", r.Wcc.After)
		}
	})
}

// checkWcc checks a directory's wcc_data against GETATTRs before and
// after the operation.
func checkWcc(t *testing.T, what string, w wccData, before, after fattr3) {
	t.Helper()
	if !w.Before.Present || w.Before.Attr != (wccAttr{before.Size, before.Mtime, before.Ctime}) {
		t.Errorf("%s wcc before: %+v, GETATTR before: size %d mtime %v ctime %v", what, w.Before, before.Size, before.Mtime, before.Ctime)
	}
	if !w.After.Present || w.After.Attr != after {
		t.Errorf("%s wcc after: %+v, GETATTR after: %+v", what, w.After, after)
	}
}

// checkListing compares a listing (names to file ids) with the expected
// entries; "." and ".." may be listed (RFC 1813 leaves them to the server).
func checkListing(t *testing.T, what string, got, want map[string]uint64) {
	t.Helper()
	delete(got, ".")
	delete(got, "..")
	if len(got) != len(want) {
		t.Errorf("%s: %d entries, want %d", what, len(got), len(want))
	}
	for n, id := range want {
		if g, ok := got[n]; !ok || g != id {
			t.Errorf("%s: entry %q file id %d (listed %v), want %d", what, n, g, ok, id)
		}
	}
}
