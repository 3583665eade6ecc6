package fs

import (
	"slices"
	"testing"
)

// TestFileParent: every inode records the directory it was made, linked
// or last renamed into, so that a change through a handle can be placed
// in the tree. A file whose recorded directory loses its link while other
// links stay has no known directory.
func TestFileParent(t *testing.T) {
	e := newEnv(t)
	d := e.mkdir(alice, e.root, "d", 0o755)
	x := e.mkdir(alice, e.root, "x", 0o755)
	f := e.create(alice, d, "f", 0o644)
	parent := func(h Handle) uint64 {
		t.Helper()
		ino, err := e.inode(h.ID)
		if err != nil {
			t.Fatal(err)
		}
		return ino.Parent
	}
	if p := parent(f); p != d.ID {
		t.Fatalf("created in d: parent %d, want %d", p, d.ID)
	}
	if _, _, err := e.fs.Rename(e.ctx, alice, d, "f", x, "f2"); err != nil {
		t.Fatal(err)
	}
	if p := parent(f); p != x.ID {
		t.Fatalf("renamed into x: parent %d, want %d", p, x.ID)
	}
	if _, _, err := e.fs.Link(e.ctx, alice, f, d, "link"); err != nil {
		t.Fatal(err)
	}
	if p := parent(f); p != x.ID {
		t.Fatalf("linked into d: parent %d, want %d (the first link)", p, x.ID)
	}
	if _, err := e.fs.Remove(e.ctx, alice, d, "link"); err != nil {
		t.Fatal(err)
	}
	if p := parent(f); p != x.ID {
		t.Fatalf("other link removed: parent %d, want %d", p, x.ID)
	}
	if _, _, err := e.fs.Link(e.ctx, alice, f, d, "link"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Remove(e.ctx, alice, x, "f2"); err != nil {
		t.Fatal(err)
	}
	if p := parent(f); p != 0 {
		t.Fatalf("the recorded link removed: parent %d, want 0 (unknown)", p)
	}
	if _, _, err := e.fs.Link(e.ctx, alice, f, x, "again"); err != nil {
		t.Fatal(err)
	}
	if p := parent(f); p != x.ID {
		t.Fatalf("linked while unknown: parent %d, want %d", p, x.ID)
	}
	s, _, _, err := e.fs.Symlink(e.ctx, alice, d, "s", "target", SetAttr{})
	if err != nil {
		t.Fatal(err)
	}
	if p := parent(s); p != d.ID {
		t.Fatalf("symlink: parent %d, want %d", p, d.ID)
	}
}

// TestBelow: which of a list of files lie below a directory, by their
// recorded directories.
func TestBelow(t *testing.T) {
	e := newEnv(t)
	d := e.mkdir(alice, e.root, "d", 0o755)
	sub := e.mkdir(alice, d, "sub", 0o755)
	f := e.create(alice, sub, "f", 0o644)
	g := e.create(alice, d, "g", 0o644)
	other := e.mkdir(alice, e.root, "other", 0o755)
	h := e.create(alice, other, "h", 0o644)
	gone := e.create(alice, d, "gone", 0o644)
	if _, err := e.fs.Remove(e.ctx, alice, d, "gone"); err != nil {
		t.Fatal(err)
	}
	ids := []uint64{f.ID, g.ID, h.ID, sub.ID, d.ID, other.ID, e.root.ID, gone.ID}
	got, err := e.fs.Below(e.ctx, e.root.Share, d.ID, ids)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{f.ID, g.ID, sub.ID}; !slices.Equal(got, want) {
		t.Fatalf("below d: %v, want %v", got, want)
	}
	got, err = e.fs.Below(e.ctx, e.root.Share, e.root.ID, ids)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{f.ID, g.ID, h.ID, sub.ID, d.ID, other.ID}; !slices.Equal(got, want) {
		t.Fatalf("below the root: %v, want %v", got, want)
	}
	// A move of the directory moves what is below it.
	if _, _, err := e.fs.Rename(e.ctx, alice, d, "sub", other, "sub"); err != nil {
		t.Fatal(err)
	}
	got, err = e.fs.Below(e.ctx, e.root.Share, other.ID, ids)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{f.ID, h.ID, sub.ID}; !slices.Equal(got, want) {
		t.Fatalf("below other after the move: %v, want %v", got, want)
	}
}
