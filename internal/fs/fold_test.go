package fs

import "testing"

func TestLookupFold(t *testing.T) {
	e := newEnv(t)
	readme := e.create(alice, e.root, "ReadMe.TXT", 0o644)
	lower := e.create(alice, e.root, "both", 0o644)
	upper := e.create(alice, e.root, "BOTH", 0o644)
	e.create(alice, e.root, "123", 0o644)
	sub := e.mkdir(alice, e.root, "Straße", 0o755)

	for _, c := range []struct {
		name, want string
		h          Handle
		err        error
	}{
		{"ReadMe.TXT", "ReadMe.TXT", readme, nil},
		{"readme.txt", "ReadMe.TXT", readme, nil},
		{"README.TXT", "ReadMe.TXT", readme, nil},
		{"both", "both", lower, nil},
		{"BOTH", "BOTH", upper, nil},
		{"Both", "both", lower, nil}, // the earlier in directory order
		{"STRASSE", "", Handle{}, ErrNotExist},
		{"straße", "Straße", sub, nil},
		{"STRAßE", "Straße", sub, nil},
		{"124", "", Handle{}, ErrNotExist},
		{"nothing", "", Handle{}, ErrNotExist},
		{"a/b", "", Handle{}, ErrInval},
		{".", ".", e.root, nil},
		{"..", "..", e.root, nil},
	} {
		got, h, a, err := e.fs.LookupFold(e.ctx, alice, e.root, c.name)
		wantErr(t, "LookupFold "+c.name, err, c.err)
		if err != nil {
			continue
		}
		if got != c.want || h != c.h || a.FileID != c.h.ID {
			t.Errorf("LookupFold %q = %q %v (file %d), want %q %v", c.name, got, h, a.FileID, c.want, c.h)
		}
	}

	// Search permission is what it takes, as for Lookup.
	e.chmod(e.root, 0o766)
	_, _, _, err := e.fs.LookupFold(e.ctx, bob, e.root, "readme.txt")
	wantErr(t, "LookupFold without search permission", err, ErrAccess)
	e.chmod(e.root, 0o711)
	name, _, _, err := e.fs.LookupFold(e.ctx, bob, e.root, "readme.txt")
	wantErr(t, "LookupFold with search permission only", err, nil)
	if name != "ReadMe.TXT" {
		t.Errorf("LookupFold with search permission only: %q", name)
	}
	// A non-directory is not searched.
	_, _, _, err = e.fs.LookupFold(e.ctx, alice, readme, "x")
	wantErr(t, "LookupFold in a file", err, ErrNotDir)
}

func TestRemoveHandle(t *testing.T) {
	e := newEnv(t)
	f := e.create(alice, e.root, "f", 0o644)
	d := e.mkdir(alice, e.root, "d", 0o755)
	e.create(alice, d, "inner", 0o644)

	// The name now names another file: nothing is removed.
	if _, _, err := e.fs.Rename(e.ctx, alice, e.root, "f", e.root, "g"); err != nil {
		t.Fatal(err)
	}
	other := e.create(alice, e.root, "f", 0o644)
	_, err := e.fs.RemoveHandle(e.ctx, alice, e.root, "f", f)
	wantErr(t, "RemoveHandle of a replaced name", err, ErrNotExist)
	if h, err := e.lookup(alice, e.root, "f"); err != nil || h != other {
		t.Fatalf("the other file is gone: %v %v", h, err)
	}
	_, err = e.fs.RemoveHandle(e.ctx, alice, e.root, "g", f)
	wantErr(t, "RemoveHandle of a file", err, nil)
	if _, err := e.fs.GetAttr(e.ctx, f); err != ErrStale {
		t.Fatalf("removed file: %v", err)
	}
	_, err = e.fs.RemoveHandle(e.ctx, alice, e.root, "g", f)
	wantErr(t, "RemoveHandle of a missing name", err, ErrNotExist)

	// A directory goes as Rmdir would: only when empty.
	_, err = e.fs.RemoveHandle(e.ctx, alice, e.root, "d", d)
	wantErr(t, "RemoveHandle of a full directory", err, ErrNotEmpty)
	if _, err := e.fs.Remove(e.ctx, alice, d, "inner"); err != nil {
		t.Fatal(err)
	}
	e.chown(e.root, 1000, 1000)
	e.chmod(e.root, 0o755)
	_, err = e.fs.RemoveHandle(e.ctx, bob, e.root, "d", d)
	wantErr(t, "RemoveHandle without write permission", err, ErrAccess)
	before := e.attr(e.root).Nlink
	_, err = e.fs.RemoveHandle(e.ctx, alice, e.root, "d", d)
	wantErr(t, "RemoveHandle of an empty directory", err, nil)
	if n := e.attr(e.root).Nlink; n != before-1 {
		t.Fatalf("root nlink %d after removing a directory, want %d", n, before-1)
	}
}

func TestRenameNoReplace(t *testing.T) {
	e := newEnv(t)
	a := e.create(alice, e.root, "a", 0o644)
	b := e.create(alice, e.root, "b", 0o644)
	_, _, err := e.fs.RenameNoReplace(e.ctx, alice, e.root, "a", e.root, "b")
	wantErr(t, "RenameNoReplace over a file", err, ErrExist)
	if h, _ := e.lookup(alice, e.root, "b"); h != b {
		t.Fatal("the target was replaced")
	}
	// Existence is reported before permission, as renameat2 does.
	_, _, err = e.fs.RenameNoReplace(e.ctx, bob, e.root, "a", e.root, "b")
	wantErr(t, "RenameNoReplace by another user over a file", err, ErrExist)
	_, _, err = e.fs.RenameNoReplace(e.ctx, alice, e.root, "a", e.root, "c")
	wantErr(t, "RenameNoReplace to a new name", err, nil)
	if h, _ := e.lookup(alice, e.root, "c"); h != a {
		t.Fatal("not renamed")
	}
	// A case-only rename is a rename to a new name.
	_, _, err = e.fs.RenameNoReplace(e.ctx, alice, e.root, "c", e.root, "C")
	wantErr(t, "RenameNoReplace changing case", err, nil)
	if _, err := e.lookup(alice, e.root, "c"); err != ErrNotExist {
		t.Fatalf("old spelling: %v", err)
	}
	// Links to one file: nothing happens.
	if _, _, err := e.fs.Link(e.ctx, alice, b, e.root, "b2"); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.fs.RenameNoReplace(e.ctx, alice, e.root, "b", e.root, "b2")
	wantErr(t, "RenameNoReplace onto a link of the same file", err, nil)
}

func TestDirEmpty(t *testing.T) {
	e := newEnv(t)
	d := e.mkdir(alice, e.root, "d", 0o700)
	f := e.create(alice, d, "f", 0o644)
	if empty, err := e.fs.DirEmpty(e.ctx, d); err != nil || empty {
		t.Fatalf("DirEmpty of a full directory: %v %v", empty, err)
	}
	if _, err := e.fs.Remove(e.ctx, alice, d, "f"); err != nil {
		t.Fatal(err)
	}
	if empty, err := e.fs.DirEmpty(e.ctx, d); err != nil || !empty {
		t.Fatalf("DirEmpty of an empty directory: %v %v", empty, err)
	}
	g := e.create(alice, e.root, "g", 0o644)
	if _, err := e.fs.DirEmpty(e.ctx, g); err != ErrNotDir {
		t.Fatalf("DirEmpty of a file: %v", err)
	}
	if _, err := e.fs.DirEmpty(e.ctx, f); err != ErrStale {
		t.Fatalf("DirEmpty of a removed file: %v", err)
	}
}
