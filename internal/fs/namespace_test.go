package fs

import (
	"strings"
	"testing"
)

var long256 = strings.Repeat("a", 256)

// TestNameErrors checks every create and remove operation against bad names.
func TestNameErrors(t *testing.T) {
	e := newEnv(t)
	f := e.create(alice, e.root, "f", 0o644)
	names := []struct {
		name           string
		create, remove error
	}{
		{"", ErrInval, ErrInval},
		{".", ErrExist, ErrInval},
		{"..", ErrExist, ErrInval},
		{"a/b", ErrInval, ErrInval},
		{"a\x00b", ErrInval, ErrInval},
		{long256, ErrNameTooLong, ErrNameTooLong},
	}
	for _, n := range names {
		q := "name " + strings.ReplaceAll(n.name[:min(len(n.name), 8)], "\x00", `\0`)
		_, _, _, err := e.fs.Create(e.ctx, alice, e.root, n.name, CreateHow{})
		wantErr(t, q+" create", err, n.create)
		_, _, _, err = e.fs.Mkdir(e.ctx, alice, e.root, n.name, SetAttr{})
		wantErr(t, q+" mkdir", err, n.create)
		_, _, _, err = e.fs.Symlink(e.ctx, alice, e.root, n.name, "t", SetAttr{})
		wantErr(t, q+" symlink", err, n.create)
		_, _, _, err = e.fs.Mknod(e.ctx, alice, e.root, n.name, TypeFIFO, SetAttr{}, 0, 0)
		wantErr(t, q+" mknod", err, n.create)
		_, _, err = e.fs.Link(e.ctx, alice, f, e.root, n.name)
		wantErr(t, q+" link", err, n.create)
		_, err = e.fs.Remove(e.ctx, alice, e.root, n.name)
		wantErr(t, q+" remove", err, n.remove)
		_, err = e.fs.Rmdir(e.ctx, alice, e.root, n.name)
		wantErr(t, q+" rmdir", err, n.remove)
		_, _, err = e.fs.Rename(e.ctx, alice, e.root, n.name, e.root, "x")
		wantErr(t, q+" rename from", err, n.remove)
		_, _, err = e.fs.Rename(e.ctx, alice, e.root, "f", e.root, n.name)
		wantErr(t, q+" rename to", err, n.remove)
		if n.name != "." && n.name != ".." {
			_, err = e.lookup(alice, e.root, n.name)
			wantErr(t, q+" lookup", err, n.remove)
		}
	}
	// 255 bytes is fine.
	e.create(alice, e.root, long256[:255], 0o644)
}

func TestLookup(t *testing.T) {
	e := newEnv(t)
	d := e.mkdir(alice, e.root, "d", 0o755)
	f := e.create(alice, d, "f", 0o644)
	h, a, da, err := e.fs.Lookup(e.ctx, eve, d, "f")
	if err != nil || h != f || a != e.attr(f) || da != e.attr(d) {
		t.Fatalf("lookup f: %+v %+v %+v %v", h, a, da, err)
	}
	if h, _ := e.lookup(eve, d, "."); h != d {
		t.Fatalf(". = %+v", h)
	}
	if h, _ := e.lookup(eve, d, ".."); h != e.root {
		t.Fatalf(".. = %+v", h)
	}
	_, _, da, err = e.fs.Lookup(e.ctx, eve, d, "nope")
	wantErr(t, "lookup missing", err, ErrNotExist)
	if da != e.attr(d) {
		t.Fatalf("dir attr on failed lookup %+v", da)
	}
	_, err = e.lookup(eve, f, "x")
	wantErr(t, "lookup in file", err, ErrNotDir)
	e.chmod(d, 0o744)
	_, err = e.lookup(eve, d, "f")
	wantErr(t, "lookup without x", err, ErrAccess)
	_, err = e.lookup(alice, d, "f")
	wantErr(t, "owner lookup with x", err, nil)
	_, err = e.lookup(alice, Handle{Share: 1, ID: d.ID, Gen: d.Gen + 2}, "f")
	wantErr(t, "stale dir", err, ErrStale)
}

func TestCreateModes(t *testing.T) {
	e := newEnv(t)
	d := e.mkdir(alice, e.root, "d", 0o777)
	h, a, wcc, err := e.fs.Create(e.ctx, alice, d, "f", CreateHow{Mode: Guarded, Attr: SetAttr{Mask: SetMode, Mode: 0o640}})
	if err != nil || a.Type != TypeRegular || a.Mode != 0o640 || a.Nlink != 1 || a.Size != 0 || a.UID != 1000 || h.Share != e.root.Share {
		t.Fatalf("create: %+v %v", a, err)
	}
	if !wcc.HavePre || !wcc.HavePost || wcc.Post != e.attr(d) {
		t.Fatalf("create wcc %+v", wcc)
	}
	_, _, _, err = e.fs.Create(e.ctx, alice, d, "f", CreateHow{Mode: Guarded})
	wantErr(t, "guarded over file", err, ErrExist)

	// Unchecked reuses a file, truncating it only when asked.
	e.write(alice, h, 0, "hello world")
	h2, a, _, err := e.fs.Create(e.ctx, alice, d, "f", CreateHow{Mode: Unchecked, Attr: SetAttr{Mask: SetMode, Mode: 0o600}})
	if err != nil || h2 != h || a.Size != 11 || a.Mode != 0o640 {
		t.Fatalf("unchecked without size: %+v %+v %v", h2, a, err)
	}
	now := e.clock.advance()
	h2, a, _, err = e.fs.Create(e.ctx, alice, d, "f", CreateHow{Mode: Unchecked, Attr: SetAttr{Mask: SetSize, Size: 5}})
	if err != nil || h2 != h || a.Size != 5 || a.Mtime != now || a.Ctime != now {
		t.Fatalf("unchecked truncate: %+v %v", a, err)
	}
	if n := e.content.Size(h.ID); n != 5 {
		t.Fatalf("content length after truncate %d", n)
	}
	if s := e.read(alice, h); s != "hello" {
		t.Fatalf("after unchecked truncate %q", s)
	}
	_, _, _, err = e.fs.Create(e.ctx, eve, d, "f", CreateHow{Mode: Unchecked, Attr: SetAttr{Mask: SetSize, Size: 0}})
	wantErr(t, "unchecked truncate without write permission", err, ErrAccess)
	_, _, _, err = e.fs.Create(e.ctx, alice, e.root, "d", CreateHow{Mode: Unchecked})
	wantErr(t, "unchecked over dir", err, ErrExist)
	e.fs.Symlink(e.ctx, alice, d, "l", "f", SetAttr{})
	_, _, _, err = e.fs.Create(e.ctx, alice, d, "l", CreateHow{Mode: Unchecked})
	wantErr(t, "unchecked over symlink", err, ErrExist)

	_, _, _, err = e.fs.Create(e.ctx, alice, h, "x", CreateHow{})
	wantErr(t, "create in a file", err, ErrNotDir)
	_, _, _, err = e.fs.Create(e.ctx, alice, Handle{Share: 1, ID: 1 << 40, Gen: 1 << 32}, "x", CreateHow{})
	wantErr(t, "create in stale dir", err, ErrStale)
	_, _, _, err = e.fs.Create(e.ctx, alice, d, "big", CreateHow{Attr: SetAttr{Mask: SetSize, Size: MaxFileSize + 1}})
	wantErr(t, "create with huge size", err, ErrFBig)
	_, a, _, err = e.fs.Create(e.ctx, alice, d, "sized", CreateHow{Attr: SetAttr{Mask: SetSize, Size: 100}})
	if err != nil || a.Size != 100 || a.Used != 4096 {
		t.Fatalf("create with size %+v %v", a, err)
	}
}

func TestCreateExclusive(t *testing.T) {
	e := newEnv(t)
	verf := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	how := CreateHow{Mode: Exclusive, Verf: verf}
	h, a, _, err := e.fs.Create(e.ctx, alice, e.root, "x", how)
	if err != nil || a.Mode != 0o644 {
		t.Fatalf("exclusive create %+v %v", a, err)
	}
	count := e.fileCount()
	e.clock.advance()
	// A retransmission with the same verifier finds its own file.
	h2, a2, _, err := e.fs.Create(e.ctx, alice, e.root, "x", how)
	if err != nil || h2 != h || a2 != a {
		t.Fatalf("retry: %+v %+v %v", h2, a2, err)
	}
	if e.fileCount() != count {
		t.Fatal("retry made a file")
	}
	_, _, _, err = e.fs.Create(e.ctx, alice, e.root, "x", CreateHow{Mode: Exclusive, Verf: [8]byte{9}})
	wantErr(t, "other verifier", err, ErrExist)
	// The client's SETATTR after an exclusive create ends idempotence.
	e.setattr(alice, h, SetAttr{Mask: SetMode, Mode: 0o600})
	_, _, _, err = e.fs.Create(e.ctx, alice, e.root, "x", how)
	wantErr(t, "retry after setattr", err, ErrExist)

	// A zero verifier matches nothing, not even a file made without one.
	e.create(alice, e.root, "plain", 0o644)
	_, _, _, err = e.fs.Create(e.ctx, alice, e.root, "plain", CreateHow{Mode: Exclusive})
	wantErr(t, "zero verifier over plain file", err, ErrExist)
	// A directory never matches.
	e.mkdir(alice, e.root, "dir", 0o755)
	_, _, _, err = e.fs.Create(e.ctx, alice, e.root, "dir", how)
	wantErr(t, "exclusive over dir", err, ErrExist)
}

func TestMkdirLinksAndTimes(t *testing.T) {
	e := newEnv(t)
	now := e.clock.advance()
	d, a, wcc, err := e.fs.Mkdir(e.ctx, alice, e.root, "d", SetAttr{})
	if err != nil || a.Nlink != 2 || a.Mode != 0o755 || a.Type != TypeDir || a.Size != dirSize ||
		a.Atime != now || a.Mtime != now || a.Ctime != now || a.Btime != now {
		t.Fatalf("mkdir %+v %v", a, err)
	}
	r := e.attr(e.root)
	if r.Nlink != 3 || r.Mtime != now || r.Ctime != now || wcc.Pre.Mtime != t0 || wcc.Post != r {
		t.Fatalf("parent after mkdir %+v wcc %+v", r, wcc)
	}
	_, _, _, err = e.fs.Mkdir(e.ctx, alice, e.root, "d", SetAttr{})
	wantErr(t, "mkdir existing", err, ErrExist)
	e.create(alice, d, "f", 0o644)
	if n := e.attr(d).Nlink; n != 2 {
		t.Fatalf("a file changed the dir's nlink to %d", n)
	}
	e.mkdir(alice, d, "sub", 0o755)
	if n := e.attr(d).Nlink; n != 3 {
		t.Fatalf("nlink with a subdir %d", n)
	}
	now = e.clock.advance()
	_, err = e.fs.Rmdir(e.ctx, alice, d, "sub")
	wantErr(t, "rmdir", err, nil)
	if a := e.attr(d); a.Nlink != 2 || a.Mtime != now || a.Ctime != now {
		t.Fatalf("after rmdir %+v", a)
	}
	// A directory at the link limit takes no more subdirectories, but files.
	e.poke(d.ID, func(ino *inodeT) { ino.Nlink = MaxLinks })
	_, _, _, err = e.fs.Mkdir(e.ctx, alice, d, "one-too-many", SetAttr{})
	wantErr(t, "mkdir at MaxLinks", err, ErrMLink)
	e.create(alice, d, "file-is-fine", 0o644)
}

func TestSymlink(t *testing.T) {
	e := newEnv(t)
	h, a, _, err := e.fs.Symlink(e.ctx, alice, e.root, "l", "../some/where", SetAttr{Mask: SetMode, Mode: 0o600})
	if err != nil || a.Type != TypeSymlink || a.Mode != 0o777 || a.Size != 13 || a.Nlink != 1 {
		t.Fatalf("symlink %+v %v", a, err)
	}
	target, ra, err := e.fs.ReadLink(e.ctx, eve, h)
	if err != nil || target != "../some/where" || ra != a {
		t.Fatalf("readlink %q %+v %v", target, ra, err)
	}
	_, _, _, err = e.fs.Symlink(e.ctx, alice, e.root, "e", "", SetAttr{})
	wantErr(t, "empty target", err, ErrInval)
	_, _, _, err = e.fs.Symlink(e.ctx, alice, e.root, "e", "a\x00b", SetAttr{})
	wantErr(t, "NUL in target", err, ErrInval)
	_, _, _, err = e.fs.Symlink(e.ctx, alice, e.root, "e", strings.Repeat("x", MaxPathLen+1), SetAttr{})
	wantErr(t, "long target", err, ErrNameTooLong)
	_, _, _, err = e.fs.Symlink(e.ctx, alice, e.root, "max", strings.Repeat("x", MaxPathLen), SetAttr{})
	wantErr(t, "target of MaxPathLen", err, nil)
	_, _, _, err = e.fs.Symlink(e.ctx, alice, e.root, "l", "x", SetAttr{})
	wantErr(t, "symlink existing", err, ErrExist)
	f := e.create(alice, e.root, "f", 0o644)
	_, _, err = e.fs.ReadLink(e.ctx, alice, f)
	wantErr(t, "readlink of file", err, ErrInval)
	_, _, err = e.fs.ReadLink(e.ctx, alice, Handle{Share: 1, ID: f.ID, Gen: f.Gen ^ 2})
	wantErr(t, "readlink stale", err, ErrStale)
	_, _, _, err = e.fs.Read(e.ctx, alice, h, 0, make([]byte, 10))
	wantErr(t, "read of symlink", err, ErrInval)
}

func TestMknod(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		typ  FileType
		c    *Caller
		want error
	}{
		{TypeFIFO, alice, nil},
		{TypeSocket, alice, nil},
		{TypeChar, alice, ErrPerm},
		{TypeBlock, alice, ErrPerm},
		{TypeChar, rootC, nil},
		{TypeBlock, rootC, nil},
		{TypeRegular, rootC, ErrBadType},
		{TypeDir, rootC, ErrBadType},
		{TypeSymlink, rootC, ErrBadType},
		{0, rootC, ErrBadType},
		{9, rootC, ErrBadType},
	} {
		name := "n" + string('0'+rune(tc.typ)) + string('0'+rune(tc.c.UID%10))
		_, a, _, err := e.fs.Mknod(e.ctx, tc.c, e.root, name, tc.typ, SetAttr{Mask: SetMode, Mode: 0o620}, 8, 1)
		wantErr(t, "mknod "+name, err, tc.want)
		if err != nil {
			continue
		}
		wantDev := tc.typ == TypeChar || tc.typ == TypeBlock
		if a.Type != tc.typ || a.Mode != 0o620 || (wantDev && (a.Major != 8 || a.Minor != 1)) || (!wantDev && (a.Major|a.Minor) != 0) {
			t.Errorf("mknod %s: %+v", name, a)
		}
	}
	// Device files are not readable through the file system.
	h, _, _, _ := e.fs.Mknod(e.ctx, rootC, e.root, "c", TypeChar, SetAttr{}, 1, 3)
	_, _, _, err := e.fs.Read(e.ctx, rootC, h, 0, make([]byte, 1))
	wantErr(t, "read of char device", err, ErrInval)
	_, _, _, err = e.fs.Write(e.ctx, rootC, h, 0, []byte("x"), Unstable)
	wantErr(t, "write of char device", err, ErrInval)
	_, _, _, err = e.fs.Mknod(e.ctx, alice, e.root, "c", TypeFIFO, SetAttr{}, 0, 0)
	wantErr(t, "mknod existing", err, ErrExist)
}

func TestLink(t *testing.T) {
	e := newEnv(t)
	d := e.mkdir(alice, e.root, "d", 0o755)
	f := e.create(alice, e.root, "f", 0o644)
	now := e.clock.advance()
	a, wcc, err := e.fs.Link(e.ctx, alice, f, d, "g")
	if err != nil || a.Nlink != 2 || a.Ctime != now || a.Mtime != t0 {
		t.Fatalf("link: %+v %v", a, err)
	}
	if da := e.attr(d); da.Mtime != now || da.Ctime != now || wcc.Post != da || da.Nlink != 2 {
		t.Fatalf("dir after link %+v wcc %+v", da, wcc)
	}
	if h, _ := e.lookup(alice, d, "g"); h != f {
		t.Fatalf("link names %+v", h)
	}
	_, _, err = e.fs.Link(e.ctx, alice, f, d, "g")
	wantErr(t, "link existing", err, ErrExist)
	_, _, err = e.fs.Link(e.ctx, alice, d, e.root, "d2")
	wantErr(t, "link of dir", err, ErrPerm)
	_, _, err = e.fs.Link(e.ctx, eve, f, d, "h")
	wantErr(t, "link into unwritable dir", err, ErrAccess)
	_, _, err = e.fs.Link(e.ctx, alice, f, f, "h")
	wantErr(t, "link into file", err, ErrNotDir)
	_, _, err = e.fs.Link(e.ctx, alice, Handle{Share: 1, ID: 1 << 40, Gen: 1<<32 | 1}, d, "h")
	wantErr(t, "link of stale", err, ErrStale)
	other, _ := e.fs.AddShare(e.ctx, ShareConfig{Name: "other"})
	_, _, err = e.fs.Link(e.ctx, alice, f, other, "h")
	wantErr(t, "link across shares", err, ErrXDev)
	e.poke(f.ID, func(ino *inodeT) { ino.Nlink = MaxLinks })
	_, _, err = e.fs.Link(e.ctx, alice, f, d, "h")
	wantErr(t, "link at MaxLinks", err, ErrMLink)
}

func TestRemove(t *testing.T) {
	e := newEnv(t)
	f := e.create(alice, e.root, "f", 0o644)
	e.write(alice, f, 0, "data")
	e.fs.Link(e.ctx, alice, f, e.root, "g")
	files := e.fileCount()

	now := e.clock.advance()
	wcc, err := e.fs.Remove(e.ctx, alice, e.root, "f")
	wantErr(t, "remove first link", err, nil)
	a := e.attr(f)
	if a.Nlink != 1 || a.Ctime != now || e.content.Size(f.ID) != 4 {
		t.Fatalf("after removing one of two links %+v", a)
	}
	if r := e.attr(e.root); r.Mtime != now || r.Ctime != now || wcc.Post != r || wcc.Pre.Mtime == now {
		t.Fatalf("dir after remove %+v wcc %+v", r, wcc)
	}
	_, err = e.fs.Remove(e.ctx, alice, e.root, "f")
	wantErr(t, "remove missing", err, ErrNotExist)
	_, err = e.fs.Remove(e.ctx, alice, e.root, "g")
	wantErr(t, "remove last link", err, nil)
	_, err = e.fs.GetAttr(e.ctx, f)
	wantErr(t, "getattr after remove", err, ErrStale)
	_, _, _, err = e.fs.Read(e.ctx, alice, f, 0, make([]byte, 1))
	wantErr(t, "read after remove", err, ErrStale)
	_, _, _, err = e.fs.Write(e.ctx, alice, f, 0, []byte("x"), Unstable)
	wantErr(t, "write after remove", err, ErrStale)
	if _, err := e.inode(f.ID); err == nil {
		t.Fatal("inode still stored")
	}
	if e.content.Size(f.ID) != 0 {
		t.Fatal("content still stored")
	}
	if n := e.fileCount(); n != files-1 {
		t.Fatalf("file count %d, want %d", n, files-1)
	}

	d := e.mkdir(alice, e.root, "d", 0o755)
	_, err = e.fs.Remove(e.ctx, alice, e.root, "d")
	wantErr(t, "remove of dir", err, ErrIsDir)
	e.create(alice, d, "x", 0o644)
	_, err = e.fs.Remove(e.ctx, eve, d, "x")
	wantErr(t, "remove without write on dir", err, ErrAccess)
	x := e.create(alice, e.root, "x", 0o644)
	_, err = e.fs.Remove(e.ctx, alice, x, "x")
	wantErr(t, "remove in file", err, ErrNotDir)

	// Symlinks, FIFOs: removed without touching content.
	e.fs.Symlink(e.ctx, alice, e.root, "l", "x", SetAttr{})
	_, err = e.fs.Remove(e.ctx, alice, e.root, "l")
	wantErr(t, "remove symlink", err, nil)
}

func TestRmdir(t *testing.T) {
	e := newEnv(t)
	d := e.mkdir(alice, e.root, "d", 0o755)
	e.create(alice, d, "f", 0o644)
	_, err := e.fs.Rmdir(e.ctx, alice, e.root, "d")
	wantErr(t, "rmdir non-empty", err, ErrNotEmpty)
	_, err = e.fs.Rmdir(e.ctx, alice, d, "f")
	wantErr(t, "rmdir of file", err, ErrNotDir)
	_, err = e.fs.Rmdir(e.ctx, alice, e.root, "nope")
	wantErr(t, "rmdir missing", err, ErrNotExist)
	_, err = e.fs.Rmdir(e.ctx, eve, e.root, "d")
	wantErr(t, "rmdir by other in 0777 root", err, ErrNotEmpty)
	e.fs.Remove(e.ctx, alice, d, "f")
	files := e.fileCount()
	_, err = e.fs.Rmdir(e.ctx, alice, e.root, "d")
	wantErr(t, "rmdir", err, nil)
	if n := e.attr(e.root).Nlink; n != 2 {
		t.Fatalf("root nlink %d", n)
	}
	_, err = e.fs.GetAttr(e.ctx, d)
	wantErr(t, "stale after rmdir", err, ErrStale)
	if n := e.fileCount(); n != files-1 {
		t.Fatalf("file count %d", n)
	}
}

func TestStoreFailureIsIO(t *testing.T) {
	e := newEnv(t)
	f := e.create(alice, e.root, "f", 0o644)
	e.meta.Close()
	_, err := e.fs.GetAttr(e.ctx, f)
	wantErr(t, "getattr on closed store", err, ErrIO)
	_, _, _, err = e.fs.Create(e.ctx, alice, e.root, "g", CreateHow{})
	wantErr(t, "create on closed store", err, ErrIO)
	if !strings.Contains(e.logs.String(), "store closed") {
		t.Fatalf("cause not logged: %q", e.logs.String())
	}
}
