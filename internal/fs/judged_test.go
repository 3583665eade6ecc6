package fs

import "testing"

// TestJudgedCaller: a call marked Judged passes the checks of mode bits,
// ownership and the sticky bit, and nothing else; the same caller
// unmarked is refused as before, and Access still reports the mode.
func TestJudgedCaller(t *testing.T) {
	e := newEnv(t)
	d := e.mkdir(alice, e.root, "d", 0o1700) // sticky, alice's alone
	f := e.create(alice, d, "f", 0o600)
	e.write(alice, f, 0, "alice")
	judged := *eve
	judged.Judged = true
	j := &judged

	// Unmarked, eve reaches nothing.
	_, _, _, err := e.fs.Create(e.ctx, eve, d, "g", CreateHow{Mode: Guarded})
	wantErr(t, "create unjudged", err, ErrAccess)
	_, err = e.lookup(eve, d, "f")
	wantErr(t, "lookup unjudged", err, ErrAccess)
	_, _, _, err = e.fs.Write(e.ctx, eve, f, 0, []byte("x"), Unstable)
	wantErr(t, "write unjudged", err, ErrAccess)
	_, err = e.fs.SetAttr(e.ctx, eve, f, SetAttr{Mask: SetMode, Mode: 0o644}, nil)
	wantErr(t, "chmod unjudged", err, ErrPerm)
	wantErr(t, "set system xattr unjudged", e.fs.SetXattr(e.ctx, eve, f, XattrSystem+"x", []byte("v")), ErrPerm)

	// Judged, every one of them passes.
	g, a, _, err := e.fs.Create(e.ctx, j, d, "g", CreateHow{Mode: Guarded})
	wantErr(t, "create judged", err, nil)
	if a.UID != eve.UID {
		t.Errorf("judged create made uid %d, want eve's", a.UID)
	}
	_, err = e.lookup(j, d, "f")
	wantErr(t, "lookup judged", err, nil)
	e.write(j, f, 0, "EVE")
	if got := e.read(j, f); got != "EVEce" {
		t.Errorf("judged read %q", got)
	}
	wantErr(t, "set system xattr judged", e.fs.SetXattr(e.ctx, j, f, XattrSystem+"x", []byte("v")), nil)
	wantErr(t, "set user xattr judged", e.fs.SetXattr(e.ctx, j, f, XattrUser+"x", []byte("v")), nil)
	e.setattr(j, f, SetAttr{Mask: SetMode | SetMtime, Mode: 0o640, Mtime: t0})
	n := 0
	_, _, err = e.fs.ReadDir(e.ctx, j, d, 0, 0, false, func(*DirEntry) bool { n++; return true })
	wantErr(t, "readdir judged", err, nil)

	// Ownership: only taken, and a group only of one's own.
	_, err = e.fs.SetAttr(e.ctx, j, f, SetAttr{Mask: SetUID, UID: bob.UID}, nil)
	wantErr(t, "judged chown to another", err, ErrPerm)
	_, err = e.fs.SetAttr(e.ctx, j, f, SetAttr{Mask: SetGID, GID: 2000}, nil)
	wantErr(t, "judged chgrp to a foreign group", err, ErrPerm)
	e.setattr(j, f, SetAttr{Mask: SetUID | SetGID, UID: eve.UID, GID: eve.GID})
	if a := e.attr(f); a.UID != eve.UID || a.GID != eve.GID {
		t.Errorf("judged take ownership: %d:%d", a.UID, a.GID)
	}

	// Access reports the mode bits, mark or not.
	got, _, err := e.fs.Access(e.ctx, j, d, AccessRead|AccessModify|AccessLookup)
	if err != nil || got != 0 {
		t.Errorf("Access of a judged caller on alice's 0700 directory: %#x, %v", got, err)
	}

	// The sticky bit gives way; a read-only share does not.
	_, err = e.fs.RemoveHandle(e.ctx, eve, d, "g", g)
	wantErr(t, "remove unjudged", err, ErrAccess)
	_, err = e.fs.RemoveHandle(e.ctx, j, d, "g", g)
	wantErr(t, "remove judged", err, nil)
	e.fs.AddShare(e.ctx, ShareConfig{Name: "export", ReadOnly: true})
	_, _, _, err = e.fs.Write(e.ctx, j, f, 0, []byte("x"), Unstable)
	wantErr(t, "judged write on a read-only share", err, ErrROFS)
}
