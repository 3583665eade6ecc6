package fs

import (
	"slices"
	"testing"
)

// TestWatchEvents checks the event every changing operation reports, and
// that nothing is reported once the watcher stopped.
func TestWatchEvents(t *testing.T) {
	e := newEnv(t)
	var got []Event
	stop := e.fs.Watch(func(ev *Event) { got = append(got, *ev) })
	take := func() []Event { g := got; got = nil; return g }

	d := e.mkdir(alice, e.root, "d", 0o755)
	f := e.create(alice, d, "f", 0o644)
	want := []Event{
		{Op: OpCreate, Share: e.root.Share, Dir: e.root.ID, Name: "d", File: d.ID, Gen: d.Gen, IsDir: true},
		{Op: OpCreate, Share: e.root.Share, Dir: d.ID, Name: "f", File: f.ID, Gen: f.Gen},
	}
	if g := take(); !slices.Equal(g, want) {
		t.Fatalf("create: %+v, want %+v", g, want)
	}

	e.clock.advance()
	e.write(alice, f, 0, "hello")
	g := take()
	if len(g) != 1 || g[0].Op != OpModify || g[0].File != f.ID || g[0].Dir != d.ID || g[0].Name != "" || g[0].Changed != ChangedMtime|ChangedSize {
		t.Fatalf("write: %+v", g)
	}

	e.setattr(alice, f, SetAttr{Mask: SetDOSAttrs, DOSAttrs: 2})
	g = take()
	if len(g) != 1 || g[0].Op != OpModify || g[0].Dir != d.ID || g[0].Changed != ChangedDOSAttrs {
		t.Fatalf("setattr: %+v", g)
	}
	e.setattr(rootC, e.root, SetAttr{Mask: SetDOSAttrs, DOSAttrs: 2})
	g = take()
	if len(g) != 1 || g[0].Op != OpModify || g[0].File != e.root.ID || g[0].Dir != 0 || !g[0].IsDir {
		t.Fatalf("setattr of the share's root: %+v", g)
	}
	e.setattr(alice, f, SetAttr{Mask: SetDOSAttrs, DOSAttrs: 2})
	if g := take(); len(g) != 0 {
		t.Fatalf("setattr changing nothing: %+v", g)
	}

	if _, _, err := e.fs.Rename(e.ctx, alice, d, "f", e.root, "g"); err != nil {
		t.Fatal(err)
	}
	g = take()
	if len(g) != 1 || g[0].Op != OpRename || g[0].Dir != d.ID || g[0].Name != "f" || g[0].ToDir != e.root.ID || g[0].ToName != "g" || g[0].File != f.ID {
		t.Fatalf("rename: %+v", g)
	}
	// A change through the handle is placed where the rename put it.
	e.clock.advance()
	e.write(alice, f, 0, "hello, again")
	if g := take(); len(g) != 1 || g[0].Dir != e.root.ID {
		t.Fatalf("write after the rename: %+v", g)
	}
	if name, err := e.fs.EntryName(e.ctx, e.root.Share, e.root.ID, f.ID); err != nil || name != "g" {
		t.Fatalf("entry name after the rename: %q %v", name, err)
	}

	if _, err := e.fs.Remove(e.ctx, alice, e.root, "g"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Rmdir(e.ctx, alice, e.root, "d"); err != nil {
		t.Fatal(err)
	}
	g = take()
	if len(g) != 2 || g[0].Op != OpRemove || g[0].Name != "g" || g[0].IsDir || g[1].Op != OpRemove || g[1].Name != "d" || !g[1].IsDir {
		t.Fatalf("remove: %+v", g)
	}

	// A failed operation reports nothing.
	if _, err := e.fs.Remove(e.ctx, alice, e.root, "nothing"); err == nil {
		t.Fatal("removed a missing name")
	}
	if g := take(); len(g) != 0 {
		t.Fatalf("failed remove: %+v", g)
	}

	stop()
	e.mkdir(alice, e.root, "after", 0o755)
	if g := take(); len(g) != 0 {
		t.Fatalf("after stop: %+v", g)
	}
}

// TestAncestorsAndEntryName checks the walk a watcher of a tree makes.
func TestAncestorsAndEntryName(t *testing.T) {
	e := newEnv(t)
	a := e.mkdir(alice, e.root, "a", 0o755)
	b := e.mkdir(alice, a, "b", 0o755)
	ids, err := e.fs.Ancestors(e.ctx, e.root.Share, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := []uint64{b.ID, a.ID, e.root.ID}; !slices.Equal(ids, want) {
		t.Fatalf("ancestors %v, want %v", ids, want)
	}
	name, err := e.fs.EntryName(e.ctx, e.root.Share, a.ID, b.ID)
	if err != nil || name != "b" {
		t.Fatalf("entry name %q %v", name, err)
	}
	if _, err := e.fs.EntryName(e.ctx, e.root.Share, e.root.ID, b.ID); err != ErrNotExist {
		t.Fatalf("entry name in the wrong directory: %v", err)
	}
}
