package fs

import "testing"

func TestToSymlink(t *testing.T) {
	e := newEnv(t)
	f := e.create(alice, e.root, "f", 0o644)
	a, err := e.fs.ToSymlink(e.ctx, alice, f, "d/target")
	wantErr(t, "file to link", err, nil)
	if a.Type != TypeSymlink || a.Size != 8 || a.Mode&0o777 != 0o777 {
		t.Fatalf("attributes %+v", a)
	}
	got, _, err := e.fs.ReadLink(e.ctx, bob, f)
	if err != nil || got != "d/target" {
		t.Fatalf("readlink: %q %v", got, err)
	}
	_, err = e.fs.ToSymlink(e.ctx, alice, f, "/abs")
	wantErr(t, "link to link", err, nil)
	if got, _, _ := e.fs.ReadLink(e.ctx, bob, f); got != "/abs" {
		t.Fatalf("target set again: %q", got)
	}

	links := e.attr(e.root).Nlink
	d := e.mkdir(alice, e.root, "d", 0o755)
	_, err = e.fs.ToSymlink(e.ctx, alice, d, "elsewhere")
	wantErr(t, "directory to link", err, nil)
	if n := e.attr(e.root).Nlink; n != links {
		t.Fatalf("parent links %d, want %d", n, links)
	}
	if a := e.attr(d); a.Type != TypeSymlink || a.Nlink != 1 {
		t.Fatalf("the directory made a link: %+v", a)
	}

	full := e.create(alice, e.root, "full", 0o644)
	e.write(alice, full, 0, "x")
	_, err = e.fs.ToSymlink(e.ctx, alice, full, "t")
	wantErr(t, "file with data", err, ErrNotSupp)
	dd := e.mkdir(alice, e.root, "dd", 0o755)
	e.create(alice, dd, "in", 0o644)
	_, err = e.fs.ToSymlink(e.ctx, alice, dd, "t")
	wantErr(t, "directory with entries", err, ErrNotEmpty)
	empty := e.create(alice, e.root, "empty", 0o644)
	_, err = e.fs.ToSymlink(e.ctx, bob, empty, "t")
	wantErr(t, "another's file", err, ErrAccess)
	_, err = e.fs.ToSymlink(e.ctx, alice, empty, "")
	wantErr(t, "empty target", err, ErrInval)
	_, err = e.fs.ToSymlink(e.ctx, alice, e.root, "t")
	wantErr(t, "the root", err, ErrAccess)
}
