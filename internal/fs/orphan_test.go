package fs

import (
	"errors"
	"log/slog"
	"testing"
)

// A held file outlives its last name: the name is free at once, the
// handle reads, writes and sets attributes, and the last release deletes
// the file and its content.
func TestHeldFileOutlivesRemove(t *testing.T) {
	e := newEnv(t)
	h := e.create(alice, e.root, "f", 0o644)
	e.write(alice, h, 0, "hello")
	e.fs.Hold(h)
	e.fs.Hold(h)
	files := e.fileCount()
	_, err := e.fs.Remove(e.ctx, alice, e.root, "f")
	wantErr(t, "remove", err, nil)
	if _, err := e.lookup(alice, e.root, "f"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("lookup of the removed name: %v", err)
	}
	e.write(alice, h, 5, " world")
	if got := e.read(alice, h); got != "hello world" {
		t.Fatalf("read of the held file: %q", got)
	}
	if a := e.attr(h); a.Nlink != 0 || a.Size != 11 {
		t.Fatalf("attributes of the held file: nlink %d size %d", a.Nlink, a.Size)
	}
	_, _, err = e.fs.Link(e.ctx, alice, h, e.root, "again")
	wantErr(t, "link of a file with no name", err, ErrNotExist)
	n := e.create(alice, e.root, "f", 0o644)
	if n == h {
		t.Fatal("the name went to the held file again")
	}

	e.fs.Release(e.ctx, h)
	if _, err := e.fs.GetAttr(e.ctx, h); err != nil {
		t.Fatalf("after the first of two releases: %v", err)
	}
	e.fs.Release(e.ctx, h)
	if _, err := e.fs.GetAttr(e.ctx, h); !errors.Is(err, ErrStale) {
		t.Fatalf("after the last release: %v, want ErrStale", err)
	}
	if e.content.Size(h.ID) != 0 {
		t.Fatal("the content of the deleted file is left")
	}
	if got := e.fileCount(); got != files { // the new file replaces the old one
		t.Fatalf("file count %d, want %d", got, files)
	}

	// A rename over a held file keeps it too; a release of a file that
	// still has a name deletes nothing.
	a := e.create(alice, e.root, "a", 0o644)
	b := e.create(alice, e.root, "b", 0o644)
	e.write(alice, b, 0, "bee")
	e.fs.Hold(a)
	e.fs.Hold(b)
	_, _, err = e.fs.Rename(e.ctx, alice, e.root, "a", e.root, "b")
	wantErr(t, "rename over", err, nil)
	if got := e.read(alice, b); got != "bee" {
		t.Fatalf("the replaced file reads %q", got)
	}
	e.fs.Release(e.ctx, a)
	if _, err := e.fs.GetAttr(e.ctx, a); err != nil {
		t.Fatalf("a released file that has a name: %v", err)
	}
	e.fs.Release(e.ctx, b)
	if _, err := e.fs.GetAttr(e.ctx, b); !errors.Is(err, ErrStale) {
		t.Fatalf("the replaced file after its release: %v", err)
	}
}

// A crash ends every open: the file system deletes at start the files a
// previous run kept with no name.
func TestOrphansDeletedAtStart(t *testing.T) {
	e := newEnv(t)
	h := e.create(alice, e.root, "f", 0o644)
	e.write(alice, h, 0, "data")
	files := e.fileCount()
	e.fs.Hold(h)
	if _, err := e.fs.Remove(e.ctx, alice, e.root, "f"); err != nil {
		t.Fatal(err)
	}
	f, err := New(e.meta, e.content, Options{Now: e.clock.now, Logger: slog.New(slog.NewTextHandler(e.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.GetAttr(e.ctx, h); !errors.Is(err, ErrStale) {
		t.Fatalf("the orphan after a restart: %v, want ErrStale", err)
	}
	if e.content.Size(h.ID) != 0 {
		t.Fatal("the orphan's content is left")
	}
	if got := e.fileCount(); got != files-1 {
		t.Fatalf("file count %d, want %d", got, files-1)
	}
}
