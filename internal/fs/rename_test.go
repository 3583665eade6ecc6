package fs

import "testing"

// TestRenameMatrix renames each kind of source over each kind of target.
func TestRenameMatrix(t *testing.T) {
	const (
		none     = "none"
		file     = "file"
		dir      = "empty dir"
		fullDir  = "full dir"
		symlink  = "symlink"
		sameFile = "link to source"
	)
	tests := []struct {
		src, dst string
		want     error
	}{
		{file, none, nil},
		{file, file, nil},
		{file, symlink, nil},
		{file, dir, ErrIsDir},
		{file, fullDir, ErrIsDir},
		{file, sameFile, nil},
		{dir, none, nil},
		{dir, dir, nil},
		{dir, fullDir, ErrNotEmpty},
		{dir, file, ErrNotDir},
		{dir, symlink, ErrNotDir},
		{symlink, file, nil},
		{symlink, dir, ErrIsDir},
	}
	for _, tt := range tests {
		for _, sameDir := range []bool{true, false} {
			name := tt.src + " over " + tt.dst
			if !sameDir {
				name += " across dirs"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t)
				from := e.mkdir(alice, e.root, "from", 0o755)
				to := from
				if !sameDir {
					to = e.mkdir(alice, e.root, "to", 0o755)
				}
				mk := func(kind string, in Handle, name string) Handle {
					switch kind {
					case file:
						h := e.create(alice, in, name, 0o644)
						e.write(alice, h, 0, name)
						return h
					case dir, fullDir:
						h := e.mkdir(alice, in, name, 0o755)
						if kind == fullDir {
							e.create(alice, h, "inside", 0o644)
						}
						return h
					case symlink:
						h, _, _, err := e.fs.Symlink(e.ctx, alice, in, name, "x", SetAttr{})
						if err != nil {
							t.Fatal(err)
						}
						return h
					case sameFile:
						src, _ := e.lookup(alice, from, "src")
						if _, _, err := e.fs.Link(e.ctx, alice, src, in, name); err != nil {
							t.Fatal(err)
						}
						return src
					}
					return Handle{}
				}
				src := mk(tt.src, from, "src")
				var dst Handle
				if tt.dst != none {
					dst = mk(tt.dst, to, "dst")
				}
				fromBefore, toBefore := e.attr(from), e.attr(to)
				files := e.fileCount()
				now := e.clock.advance()

				fw, tw, err := e.fs.Rename(e.ctx, alice, from, "src", to, "dst")
				wantErr(t, "rename", err, tt.want)
				if !fw.HavePre || !tw.HavePre || fw.Pre.Mtime != fromBefore.Mtime || tw.Pre.Mtime != toBefore.Mtime {
					t.Fatalf("wcc pre %+v %+v", fw, tw)
				}
				if fw.Post != e.attr(from) || tw.Post != e.attr(to) {
					t.Fatalf("wcc post %+v %+v, dirs now %+v %+v", fw.Post, tw.Post, e.attr(from), e.attr(to))
				}
				if err != nil {
					if e.attr(from) != fromBefore || e.attr(to) != toBefore {
						t.Fatal("failed rename changed a directory")
					}
					if h, _ := e.lookup(alice, from, "src"); h != src {
						t.Fatal("failed rename moved the source")
					}
					return
				}
				if tt.dst == sameFile {
					// Links to one file: nothing happens.
					if h, _ := e.lookup(alice, from, "src"); h != src {
						t.Fatal("same-file rename removed the source")
					}
					if e.attr(from) != fromBefore || e.attr(src).Nlink != 2 {
						t.Fatal("same-file rename changed something")
					}
					return
				}
				if _, err := e.lookup(alice, from, "src"); err != ErrNotExist {
					t.Fatalf("source still there: %v", err)
				}
				if h, _ := e.lookup(alice, to, "dst"); h != src {
					t.Fatalf("target names %+v, want %+v", h, src)
				}
				if a := e.attr(src); a.Ctime != now {
					t.Fatalf("moved file ctime %d, want %d", a.Ctime, now)
				}
				fa, ta := e.attr(from), e.attr(to)
				if fa.Mtime != now || fa.Ctime != now || ta.Mtime != now || ta.Ctime != now {
					t.Fatalf("directory times %+v %+v", fa, ta)
				}
				// Link counts: a directory leaving takes its ".." with it; a
				// replaced directory is gone.
				wantFrom, wantTo := fromBefore.Nlink, toBefore.Nlink
				if tt.src == dir && !sameDir {
					wantFrom--
					wantTo++
				}
				if tt.dst == dir {
					wantTo--
				}
				if sameDir {
					wantFrom = wantTo
					if tt.src == dir && tt.dst == dir {
						wantFrom, wantTo = fromBefore.Nlink-1, fromBefore.Nlink-1
					}
				}
				if fa.Nlink != wantFrom || ta.Nlink != wantTo {
					t.Fatalf("nlink from %d to %d, want %d %d", fa.Nlink, ta.Nlink, wantFrom, wantTo)
				}
				if tt.src == dir {
					if up, _ := e.lookup(alice, src, ".."); up != to {
						t.Fatalf(`moved dir's ".." = %+v, want %+v`, up, to)
					}
				}
				// The replaced file is gone, with its content.
				if tt.dst != none {
					if _, err := e.fs.GetAttr(e.ctx, dst); err != ErrStale {
						t.Fatalf("replaced target: %v", err)
					}
					if e.content.Size(dst.ID) != 0 {
						t.Fatal("replaced file's content kept")
					}
					if n := e.fileCount(); n != files-1 {
						t.Fatalf("file count %d, want %d", n, files-1)
					}
				}
			})
		}
	}
}

func TestRenameErrors(t *testing.T) {
	e := newEnv(t)
	a := e.mkdir(alice, e.root, "a", 0o755)
	b := e.mkdir(alice, a, "b", 0o755)
	c := e.mkdir(alice, b, "c", 0o755)
	f := e.create(alice, e.root, "f", 0o644)
	other, _ := e.fs.AddShare(e.ctx, ShareConfig{Name: "other"})

	checks := []struct {
		what                string
		c                   *Caller
		from                Handle
		fromName            string
		to                  Handle
		toName              string
		want                error
		haveFromWcc, haveTo bool
	}{
		{"into itself", alice, e.root, "a", a, "x", ErrInval, true, true},
		{"into child", alice, e.root, "a", b, "x", ErrInval, true, true},
		{"into grandchild", alice, e.root, "a", c, "x", ErrInval, true, true},
		{"onto itself", alice, e.root, "a", e.root, "a", nil, true, true},
		{"over own ancestor", alice, b, "c", e.root, "a", ErrNotEmpty, true, true},
		{"missing", alice, e.root, "nope", e.root, "x", ErrNotExist, true, true},
		{"across shares", alice, e.root, "f", other, "f", ErrXDev, false, false},
		{"from a file", alice, f, "x", e.root, "y", ErrNotDir, true, false},
		{"to a file", alice, e.root, "f", f, "y", ErrNotDir, true, true},
		{"stale from", alice, Handle{Share: 1, ID: 1 << 40, Gen: 1 << 32}, "x", e.root, "y", ErrStale, false, false},
		{"stale to", alice, e.root, "f", Handle{Share: 1, ID: 1 << 40, Gen: 1 << 32}, "y", ErrStale, true, false},
		{"no write on source dir", eve, a, "b", e.root, "b", ErrAccess, true, true},
		{"no write on target dir", eve, e.root, "f", a, "f", ErrAccess, true, true},
	}
	for _, tt := range checks {
		fw, tw, err := e.fs.Rename(e.ctx, tt.c, tt.from, tt.fromName, tt.to, tt.toName)
		wantErr(t, tt.what, err, tt.want)
		if fw.HavePre != tt.haveFromWcc || tw.HavePre != tt.haveTo {
			t.Errorf("%s: wcc present %v %v", tt.what, fw.HavePre, tw.HavePre)
		}
	}
	if h, _ := e.lookup(alice, e.root, "a"); h != a {
		t.Fatal("a moved")
	}
}

func TestRenameDirNeedsWriteOnItself(t *testing.T) {
	e := newEnv(t)
	d := e.mkdir(alice, e.root, "d", 0o777)
	e.mkdir(bob, e.root, "bobs", 0o755) // bob's dir, alice may not write it
	_, _, err := e.fs.Rename(e.ctx, alice, e.root, "bobs", d, "bobs")
	wantErr(t, "move other's dir to another parent", err, ErrAccess)
	_, _, err = e.fs.Rename(e.ctx, alice, e.root, "bobs", e.root, "renamed")
	wantErr(t, "rename other's dir in place", err, nil)
}

func TestRenameMLink(t *testing.T) {
	e := newEnv(t)
	d := e.mkdir(alice, e.root, "d", 0o755)
	e.mkdir(alice, e.root, "sub", 0o755)
	e.mkdir(alice, d, "victim", 0o755)
	e.poke(d.ID, func(ino *inodeT) { ino.Nlink = MaxLinks })
	_, _, err := e.fs.Rename(e.ctx, alice, e.root, "sub", d, "new")
	wantErr(t, "move dir into full dir", err, ErrMLink)
	_, _, err = e.fs.Rename(e.ctx, alice, e.root, "sub", d, "victim")
	wantErr(t, "replace a dir in a full dir", err, nil)
	if n := e.attr(d).Nlink; n != MaxLinks {
		t.Fatalf("nlink %d", n)
	}
}

func TestRenameHardLinkSameDir(t *testing.T) {
	// rename(a, b) where a and b are links to one file leaves both.
	e := newEnv(t)
	f := e.create(alice, e.root, "a", 0o644)
	e.fs.Link(e.ctx, alice, f, e.root, "b")
	_, _, err := e.fs.Rename(e.ctx, alice, e.root, "a", e.root, "b")
	wantErr(t, "rename over own link", err, nil)
	for _, n := range []string{"a", "b"} {
		if h, _ := e.lookup(alice, e.root, n); h != f {
			t.Fatalf("%s gone", n)
		}
	}
}
