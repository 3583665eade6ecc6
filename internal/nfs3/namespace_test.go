package nfs3

import (
	"strings"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

func TestLookup(t *testing.T) {
	e := newEnv(t, Options{})
	d := e.mkdir(credUser, e.root, "d", 0755)
	f := e.create(credUser, d, "f", 0644)

	r, st := e.call(ProcLookup, credUser, diropArg(d, "f"))
	if st != StatusOK {
		t.Fatal(st)
	}
	if got := decFH(t, r); got != f {
		t.Errorf("handle %+v, want %+v", got, f)
	}
	if a, ok := decPostOpAttr(r); !ok || a != e.attr(f) {
		t.Errorf("object attributes %v %+v", ok, a)
	}
	if a, ok := decPostOpAttr(r); !ok || a != e.attr(d) {
		t.Errorf("directory attributes %v %+v", ok, a)
	}
	done(t, r)

	for _, c := range []struct {
		dir     fs.Handle
		name    string
		want    Status
		dirAttr bool
	}{
		{d, "missing", StatusNoEnt, true},
		{d, strings.Repeat("n", 256), StatusNameTooLong, false},
		{d, strings.Repeat("n", 1024), StatusNameTooLong, false},
		{f, "x", StatusNotDir, true},
		{d, "", StatusInval, false},
	} {
		r, st := e.call(ProcLookup, credUser, diropArg(c.dir, c.name))
		if st != c.want {
			t.Errorf("LOOKUP %.10q: %v, want %v", c.name, st, c.want)
			continue
		}
		a, ok := decPostOpAttr(r)
		if ok != c.dirAttr || (ok && a != e.attr(c.dir)) {
			t.Errorf("LOOKUP %.10q: directory attributes %v %+v", c.name, ok, a)
		}
		done(t, r)
	}
	// A name over the generous XDR bound is not an argument at all.
	if _, err := e.serve(ProcLookup, credUser, diropArg(d, strings.Repeat("n", 1025))); err != rpc.ErrGarbageArgs {
		t.Errorf("1025-byte name: %v", err)
	}
	// Without search permission on the directory.
	e.call(ProcSetAttr, credUser, sattrArgs(d, clientSattr{mode: u32(0700)}, nil))
	r, st = e.call(ProcLookup, rpc.Cred{Flavor: rpc.AuthSys, UID: 2000, GID: 2000}, diropArg(d, "f"))
	if st != StatusAccess {
		t.Errorf("no search permission: %v", st)
	}
	if _, ok := decPostOpAttr(r); !ok {
		t.Error("no directory attributes on ACCES")
	}
	// ".." of the share root is the root.
	r, st = e.call(ProcLookup, credUser, diropArg(e.root, ".."))
	if st != StatusOK || decFH(t, r) != e.root {
		t.Errorf("root/..: %v", st)
	}
}

func TestSymlinkReadLink(t *testing.T) {
	e := newEnv(t, Options{})
	r, st := e.call(ProcSymlink, credUser, func(w *xdr.Writer) {
		diropArg(e.root, "l")(w)
		encSattr(w, clientSattr{})
		w.String("../some/target")
	})
	if st != StatusOK {
		t.Fatal(st)
	}
	l, ok := decPostOpFH(t, r)
	if !ok {
		t.Fatal("no handle")
	}
	if a, ok := decPostOpAttr(r); !ok || a.Type != typeSymlink || a.Size != uint64(len("../some/target")) {
		t.Errorf("symlink attributes %+v", a)
	}
	if wcc := decWcc(r); !wcc.HavePre || wcc.Post != e.attr(e.root) {
		t.Errorf("dir wcc %+v", wcc)
	}
	done(t, r)

	r, st = e.call(ProcReadLink, credUser, fhArg(l))
	if st != StatusOK {
		t.Fatal(st)
	}
	if a, ok := decPostOpAttr(r); !ok || a != e.attr(l) {
		t.Errorf("attributes %+v", a)
	}
	if got := r.String(4096); got != "../some/target" {
		t.Errorf("target %q", got)
	}
	done(t, r)

	// READLINK of a directory.
	r, st = e.call(ProcReadLink, credUser, fhArg(e.root))
	if st != StatusInval {
		t.Errorf("READLINK dir: %v", st)
	}
	if _, ok := decPostOpAttr(r); !ok {
		t.Error("no attributes")
	}
	done(t, r)

	// Too long a target.
	_, st = e.call(ProcSymlink, credUser, func(w *xdr.Writer) {
		diropArg(e.root, "long")(w)
		encSattr(w, clientSattr{})
		w.String(strings.Repeat("t", fs.MaxPathLen+1))
	})
	if st != StatusNameTooLong {
		t.Errorf("long target: %v", st)
	}
}

func createArgsOf(dir fs.Handle, name string, mode fs.CreateMode, sa clientSattr, verf string) func(w *xdr.Writer) {
	return func(w *xdr.Writer) {
		diropArg(dir, name)(w)
		w.Uint32(uint32(mode))
		if mode == fs.Exclusive {
			w.FixedOpaque([]byte(verf))
		} else {
			encSattr(w, sa)
		}
	}
}

func TestCreate(t *testing.T) {
	e := newEnv(t, Options{})
	rootBefore := e.attr(e.root)
	e.now += 1e9
	r, st := e.call(ProcCreate, credUser, createArgsOf(e.root, "f", fs.Guarded, clientSattr{mode: u32(0640)}, ""))
	if st != StatusOK {
		t.Fatal(st)
	}
	f, ok := decPostOpFH(t, r)
	if !ok {
		t.Fatal("no handle")
	}
	a, ok := decPostOpAttr(r)
	if !ok || a != e.attr(f) || a.Type != typeRegular || a.Mode != 0640 || a.UID != 1000 || a.GID != 1000 || a.Size != 0 {
		t.Errorf("attributes %+v", a)
	}
	wcc := decWcc(r)
	done(t, r)
	want := fs.Wcc{HavePre: true, Pre: fs.WccAttr{Size: rootBefore.Size, Mtime: rootBefore.Mtime, Ctime: rootBefore.Ctime}, HavePost: true, Post: e.attr(e.root)}
	if wcc != want {
		t.Errorf("dir wcc\n got %+v\nwant %+v", wcc, want)
	}

	// GUARDED on an existing name.
	r, st = e.call(ProcCreate, credUser, createArgsOf(e.root, "f", fs.Guarded, clientSattr{}, ""))
	if st != StatusExist {
		t.Errorf("GUARDED existing: %v", st)
	}
	if wcc := decWcc(r); !wcc.HavePre || !wcc.HavePost {
		t.Errorf("EXIST wcc %+v", wcc)
	}
	done(t, r)

	// UNCHECKED on an existing file truncates it when asked to.
	e.writeFile(credUser, f, 0, []byte("data"))
	r, st = e.call(ProcCreate, credUser, createArgsOf(e.root, "f", fs.Unchecked, clientSattr{size: u64(0)}, ""))
	if st != StatusOK {
		t.Fatalf("UNCHECKED existing: %v", st)
	}
	if got, _ := decPostOpFH(t, r); got != f {
		t.Errorf("UNCHECKED made a new file")
	}
	if e.attr(f).Size != 0 {
		t.Errorf("not truncated")
	}

	// EXCLUSIVE is idempotent by verifier.
	var ex fs.Handle
	for i := range 2 {
		r, st = e.call(ProcCreate, credUser, createArgsOf(e.root, "x", fs.Exclusive, clientSattr{}, "verf0001"))
		if st != StatusOK {
			t.Fatalf("EXCLUSIVE %d: %v", i, st)
		}
		h, _ := decPostOpFH(t, r)
		if i == 1 && h != ex {
			t.Errorf("retry made another file")
		}
		ex = h
	}
	if _, st = e.call(ProcCreate, credUser, createArgsOf(e.root, "x", fs.Exclusive, clientSattr{}, "verf0002")); st != StatusExist {
		t.Errorf("EXCLUSIVE, other verifier: %v", st)
	}

	for _, c := range []struct {
		dir  fs.Handle
		name string
		cred rpc.Cred
		want Status
	}{
		{f, "y", credUser, StatusNotDir},
		{e.root, strings.Repeat("n", 256), credUser, StatusNameTooLong},
		{e.root, "a/b", credUser, StatusInval},
		{e.root, ".", credUser, StatusExist},
	} {
		if _, st := e.call(ProcCreate, c.cred, createArgsOf(c.dir, c.name, fs.Guarded, clientSattr{}, "")); st != c.want {
			t.Errorf("CREATE %.10q: %v, want %v", c.name, st, c.want)
		}
	}

	// AUTH_NONE creates as the anonymous user.
	r, st = e.call(ProcCreate, credNone, createArgsOf(e.root, "anon", fs.Guarded, clientSattr{}, ""))
	if st != StatusOK {
		t.Fatal(st)
	}
	decPostOpFH(t, r)
	if a, _ := decPostOpAttr(r); a.UID != 65534 || a.GID != 65534 {
		t.Errorf("anonymous file owned by %d:%d", a.UID, a.GID)
	}
}

func TestCreateReadOnly(t *testing.T) {
	e := newEnv(t, Options{}, fs.ShareConfig{Name: "ro", ReadOnly: true})
	r, st := e.call(ProcCreate, credRoot, createArgsOf(e.root, "f", fs.Guarded, clientSattr{}, ""))
	if st != StatusROFS {
		t.Errorf("CREATE on a read-only share: %v", st)
	}
	decWcc(r)
	done(t, r)
}

func TestMkdirMknod(t *testing.T) {
	e := newEnv(t, Options{})
	d := e.mkdir(credUser, e.root, "d", 0750)
	if a := e.attr(d); a.Type != typeDir || a.Mode != 0750 || a.Nlink != 2 {
		t.Errorf("mkdir attributes %+v", a)
	}
	if e.attr(e.root).Nlink != 3 {
		t.Errorf("parent nlink %d", e.attr(e.root).Nlink)
	}
	r, st := e.call(ProcMkdir, credUser, func(w *xdr.Writer) { diropArg(e.root, "d")(w); encSattr(w, clientSattr{}) })
	if st != StatusExist {
		t.Errorf("MKDIR existing: %v", st)
	}
	if wcc := decWcc(r); !wcc.HavePost {
		t.Error("no wcc")
	}
	done(t, r)

	mknod := func(cred rpc.Cred, name string, typ fs.FileType, major, minor uint32) (*xdr.Reader, Status) {
		return e.call(ProcMknod, cred, func(w *xdr.Writer) {
			diropArg(d, name)(w)
			w.Uint32(uint32(typ))
			switch typ {
			case typeChar, typeBlock:
				encSattr(w, clientSattr{mode: u32(0660)})
				w.Uint32(major)
				w.Uint32(minor)
			case typeSocket, typeFIFO:
				encSattr(w, clientSattr{mode: u32(0600)})
			}
		})
	}
	r, st = mknod(credUser, "fifo", typeFIFO, 0, 0)
	if st != StatusOK {
		t.Fatal(st)
	}
	decPostOpFH(t, r)
	if a, _ := decPostOpAttr(r); a.Type != typeFIFO || a.Mode != 0600 {
		t.Errorf("fifo %+v", a)
	}
	r, st = mknod(credRoot, "null", typeChar, 1, 3)
	if st != StatusOK {
		t.Fatal(st)
	}
	decPostOpFH(t, r)
	if a, _ := decPostOpAttr(r); a.Type != typeChar || a.Major != 1 || a.Minor != 3 {
		t.Errorf("device %+v", a)
	}
	if _, st = mknod(credUser, "dev", typeBlock, 8, 0); st != StatusPerm {
		t.Errorf("device by a user: %v", st)
	}
	for _, typ := range []fs.FileType{typeRegular, typeDir, typeSymlink, 0, 8} {
		r, st = mknod(credUser, "x", typ, 0, 0)
		if st != StatusBadType {
			t.Errorf("MKNOD type %d: %v", typ, st)
		}
		decWcc(r)
		done(t, r)
	}
}

func TestRemoveRmdir(t *testing.T) {
	e := newEnv(t, Options{})
	d := e.mkdir(credUser, e.root, "d", 0755)
	e.create(credUser, d, "f", 0644)

	for _, c := range []struct {
		proc uint32
		dir  fs.Handle
		name string
		cred rpc.Cred
		want Status
	}{
		{ProcRmdir, e.root, "d", credUser, StatusNotEmpty},
		{ProcRemove, e.root, "d", credUser, StatusIsDir},
		{ProcRmdir, d, "f", credUser, StatusNotDir},
		{ProcRemove, d, "missing", credUser, StatusNoEnt},
		{ProcRemove, d, "f", rpc.Cred{Flavor: rpc.AuthSys, UID: 2000, GID: 2000}, StatusAccess},
		{ProcRemove, d, "f", credUser, StatusOK},
		{ProcRmdir, e.root, "d", credUser, StatusOK},
	} {
		before := e.attr(c.dir)
		e.now += 1e9
		r, st := e.call(c.proc, c.cred, diropArg(c.dir, c.name))
		if st != c.want {
			t.Errorf("%s %s: %v, want %v", procNames[c.proc], c.name, st, c.want)
			continue
		}
		wcc := decWcc(r)
		done(t, r)
		if !wcc.HavePre || wcc.Pre.Mtime != before.Mtime || !wcc.HavePost {
			t.Errorf("%s %s: wcc %+v", procNames[c.proc], c.name, wcc)
		}
		if c.want == StatusOK && wcc.Post.Mtime != e.now {
			t.Errorf("%s %s: mtime not updated", procNames[c.proc], c.name)
		}
	}
	// A bad name is refused before the directory is read: no wcc.
	r, st := e.call(ProcRmdir, credUser, diropArg(e.root, "."))
	if st != StatusInval {
		t.Errorf("RMDIR .: %v", st)
	}
	decWcc(r)
	done(t, r)
	if _, st := e.call(ProcGetAttr, credUser, fhArg(d)); st != StatusStale {
		t.Errorf("GETATTR of a removed directory: %v", st)
	}
}

func TestRename(t *testing.T) {
	e := newEnv(t, Options{})
	a := e.mkdir(credUser, e.root, "a", 0755)
	b := e.mkdir(credUser, e.root, "b", 0755)
	f := e.create(credUser, a, "f", 0644)
	rename := func(from fs.Handle, fromName string, to fs.Handle, toName string) (*xdr.Reader, Status) {
		return e.call(ProcRename, credUser, func(w *xdr.Writer) {
			diropArg(from, fromName)(w)
			diropArg(to, toName)(w)
		})
	}
	e.now += 1e9
	r, st := rename(a, "f", b, "g")
	if st != StatusOK {
		t.Fatal(st)
	}
	from, to := decWcc(r), decWcc(r)
	done(t, r)
	if !from.HavePre || from.Post != e.attr(a) || !to.HavePre || to.Post != e.attr(b) || to.Post.Mtime != e.now {
		t.Errorf("wcc %+v %+v", from, to)
	}
	if r, st := e.call(ProcLookup, credUser, diropArg(b, "g")); st != StatusOK || decFH(t, r) != f {
		t.Errorf("renamed file not found: %v", st)
	}

	r, st = rename(a, "f", b, "g")
	if st != StatusNoEnt {
		t.Errorf("missing source: %v", st)
	}
	if from, to := decWcc(r), decWcc(r); !from.HavePost || !to.HavePost {
		t.Errorf("failure wcc %+v %+v", from, to)
	}
	done(t, r)
	if _, st = rename(e.root, "a", a, "sub"); st != StatusInval {
		t.Errorf("into own subtree: %v", st)
	}
	e.create(credUser, b, "h", 0644)
	if _, st = rename(b, "g", e.root, "a"); st != StatusIsDir {
		t.Errorf("file over directory: %v", st)
	}
	full := e.mkdir(credUser, a, "full", 0755)
	e.create(credUser, full, "y", 0644)
	e.mkdir(credUser, b, "empty", 0755)
	if _, st = rename(b, "empty", a, "full"); st != StatusNotEmpty {
		t.Errorf("over a non-empty directory: %v", st)
	}
	if _, st = rename(b, "h", b, strings.Repeat("n", 256)); st != StatusNameTooLong {
		t.Errorf("long target name: %v", st)
	}
}

func TestLink(t *testing.T) {
	e := newEnv(t, Options{})
	d := e.mkdir(credUser, e.root, "d", 0755)
	f := e.create(credUser, e.root, "f", 0644)
	link := func(h, dir fs.Handle, name string) (*xdr.Reader, Status) {
		return e.call(ProcLink, credUser, func(w *xdr.Writer) { w.Opaque(h.Bytes()); diropArg(dir, name)(w) })
	}
	r, st := link(f, d, "g")
	if st != StatusOK {
		t.Fatal(st)
	}
	a, ok := decPostOpAttr(r)
	if !ok || a.Nlink != 2 || a != e.attr(f) {
		t.Errorf("file attributes %+v", a)
	}
	if wcc := decWcc(r); !wcc.HavePre || wcc.Post != e.attr(d) {
		t.Errorf("dir wcc %+v", wcc)
	}
	done(t, r)

	r, st = link(f, d, "g")
	if st != StatusExist {
		t.Errorf("existing name: %v", st)
	}
	if a, ok := decPostOpAttr(r); !ok || a.Nlink != 2 {
		t.Errorf("EXIST file attributes %+v", a)
	}
	decWcc(r)
	done(t, r)
	if _, st = link(d, e.root, "dlink"); st != StatusPerm { // link(2): EPERM
		t.Errorf("link to a directory: %v", st)
	}
	if _, st = link(f, f, "x"); st != StatusNotDir {
		t.Errorf("link into a file: %v", st)
	}
}
