package conformance

import (
	"bytes"
	"testing"
	"time"
)

// TestWriteWcc checks the weak cache consistency data of a WRITE: the
// attributes before are the file's as a GETATTR saw them just before, and
// the attributes after are exactly what a GETATTR sees just after.
func TestWriteWcc(t *testing.T) {
	ts := startServer(t)
	c, root := session(t, ts)
	fh := c.create(root, "wcc", 0o644)
	c.write(fh, 0, bytes.Repeat([]byte("a"), 4096), fileSync)

	for _, stable := range []uint32{unstable, dataSync, fileSync} {
		before := c.getattr(fh)
		time.Sleep(2 * time.Millisecond) // so that a changed mtime can be told apart
		w := c.write(fh, before.Size, bytes.Repeat([]byte("b"), 1000), stable)
		after := c.getattr(fh)
		if w.Committed < stable || w.Committed > fileSync {
			t.Errorf("WRITE stable %d: committed %d, want at least what was asked", stable, w.Committed)
		}
		want := wccAttr{before.Size, before.Mtime, before.Ctime}
		if !w.Wcc.Before.Present || w.Wcc.Before.Attr != want {
			t.Errorf("WRITE stable %d: wcc before %+v, want %+v", stable, w.Wcc.Before, want)
		}
		if !w.Wcc.After.Present || w.Wcc.After.Attr != after {
			t.Errorf("WRITE stable %d: wcc after %+v, GETATTR after %+v", stable, w.Wcc.After.Attr, after)
		}
		if after.Size != before.Size+1000 {
			t.Errorf("WRITE stable %d: size %d -> %d, want +1000", stable, before.Size, after.Size)
		}
		if after.Mtime == before.Mtime || after.Ctime == before.Ctime {
			t.Errorf("WRITE stable %d: mtime %v -> %v, ctime %v -> %v; both must change", stable, before.Mtime, after.Mtime, before.Ctime, after.Ctime)
		}
	}
	// The directory's wcc on CREATE, likewise.
	before := c.getattr(root)
	r := ok[diropOK](c, procCreate, createArgs{Where: diropargs3{root, "wcc2"}, Mode: guarded, Attr: setMode(0o644)})
	checkWcc(t, "CREATE", r.DirWcc, before, c.getattr(root))
}

// TestExclusiveCreate checks that an EXCLUSIVE CREATE is idempotent: a
// retry with the same verifier succeeds with the same file, another
// verifier is refused.
func TestExclusiveCreate(t *testing.T) {
	ts := startServer(t)
	c, root := session(t, ts)
	verf := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	args := createExclArgs{Where: diropargs3{root, "excl"}, Mode: exclusive, Verf: verf}

	first := ok[diropOK](c, procCreate, args)
	fh := handleOf(c, "EXCLUSIVE CREATE", first)
	if a := first.Attr.Attr; a.Type != typeReg || a.Size != 0 {
		t.Errorf("EXCLUSIVE CREATE attributes: %+v", a)
	}
	retry := ok[diropOK](c, procCreate, args)
	if !bytes.Equal(handleOf(c, "EXCLUSIVE CREATE retry", retry), fh) || retry.Attr.Attr.FileID != first.Attr.Attr.FileID {
		t.Errorf("EXCLUSIVE CREATE retried with the same verifier: another file")
	}
	other := args
	other.Verf[0] ^= 0xff
	expect(c, procCreate, other, errExist)

	// The client then sets the real attributes; after that the name is an
	// ordinary file and a GUARDED create of it fails.
	ok[wccData](c, procSetattr, setattrArgs{FH: fh, Attr: setMode(0o640)})
	if m := c.getattr(fh).Mode & 0o7777; m != 0o640 {
		t.Errorf("mode after SETATTR following EXCLUSIVE CREATE: %o", m)
	}
	expect(c, procCreate, createArgs{Where: diropargs3{root, "excl"}, Mode: guarded}, errExist)
	// An existing ordinary file is not taken by EXCLUSIVE.
	c.create(root, "plain", 0o644)
	expect(c, procCreate, createExclArgs{Where: diropargs3{root, "plain"}, Mode: exclusive, Verf: verf}, errExist)
}

// TestWriteVerifier checks that every WRITE and COMMIT of one server run
// returns the same verifier, that a restart changes it, and that handles
// and committed data survive the restart.
func TestWriteVerifier(t *testing.T) {
	ts := startServer(t)
	c, root := session(t, ts)
	a := c.create(root, "a", 0o644)
	b := c.create(root, "b", 0o644)
	v1 := c.write(a, 0, []byte("one"), unstable).Verf
	for _, v := range [][8]byte{
		c.write(b, 0, []byte("two"), fileSync).Verf,
		c.write(a, 3, []byte("three"), dataSync).Verf,
		ok[commitOK](c, procCommit, commitArgs{FH: a}).Verf,
		ok[commitOK](c, procCommit, commitArgs{FH: b, Offset: 0, Count: 3}).Verf,
	} {
		if v != v1 {
			t.Errorf("verifier %x, first was %x: must not change while the server runs", v, v1)
		}
	}

	ts.restart(t)
	c = dial(t, ts.addr())
	v2 := ok[commitOK](c, procCommit, commitArgs{FH: a}).Verf
	if v2 == v1 {
		t.Errorf("verifier after a restart %x, before %x: must change so that clients resend uncommitted writes", v2, v1)
	}
	if w := c.write(b, 3, []byte("!"), unstable).Verf; w != v2 {
		t.Errorf("WRITE verifier %x, COMMIT verifier %x after the restart", w, v2)
	}
	if got := c.read(a, 0, 100); string(got.Data) != "onethree" {
		t.Errorf("after restart: file a holds %q, want \"onethree\"", got.Data)
	}
	if got := c.read(b, 0, 100); string(got.Data) != "two!" {
		t.Errorf("after restart: file b holds %q, want \"two!\"", got.Data)
	}
	if fh, _ := c.lookup(c.mount("/export"), "a"); !bytes.Equal(fh, a) {
		t.Errorf("handle of a after restart %x, before %x: handles must be stable", fh, a)
	}
	_ = root
}
