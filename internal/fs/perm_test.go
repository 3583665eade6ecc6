package fs

import "testing"

const allAccess = AccessRead | AccessLookup | AccessModify | AccessExtend | AccessDelete | AccessExecute

func TestAccessBits(t *testing.T) {
	const (
		fileRWX = AccessRead | AccessModify | AccessExtend | AccessExecute
		dirAll  = AccessRead | AccessLookup | AccessModify | AccessExtend | AccessDelete
	)
	tests := []struct {
		name string
		dir  bool
		mode uint32
		c    *Caller
		want uint32
	}{
		// File owned by carol:2000. bob is in group 2000, eve is other.
		{"owner rw", false, 0o640, carol, AccessRead | AccessModify | AccessExtend},
		{"group r", false, 0o640, bob, AccessRead},
		{"other none", false, 0o640, eve, 0},
		{"owner class only", false, 0o077, carol, 0},
		{"group class only", false, 0o707, bob, 0},
		{"other x", false, 0o001, eve, AccessExecute},
		{"root rw no x", false, 0o000, rootC, AccessRead | AccessModify | AccessExtend},
		{"root x if any x", false, 0o010, rootC, fileRWX},
		{"owner all", false, 0o700, carol, fileRWX},
		{"dir owner all", true, 0o700, carol, dirAll},
		{"dir group r only", true, 0o740, bob, AccessRead},
		{"dir group x only", true, 0o710, bob, AccessLookup},
		{"dir group w without x", true, 0o760, bob, AccessRead},
		{"dir group wx", true, 0o730, bob, AccessLookup | AccessModify | AccessExtend | AccessDelete},
		{"dir root", true, 0o000, rootC, dirAll},
		{"dir other", true, 0o755, eve, AccessRead | AccessLookup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var h Handle
			if tt.dir {
				h = e.mkdir(rootC, e.root, "x", 0)
			} else {
				h = e.create(rootC, e.root, "x", 0)
			}
			e.chown(h, 1002, 2000)
			e.chmod(h, tt.mode)
			got, a, err := e.fs.Access(e.ctx, tt.c, h, allAccess)
			if err != nil || got != tt.want || a.Mode != tt.mode {
				t.Fatalf("Access = %#x (mode %o), %v; want %#x", got, a.Mode, err, tt.want)
			}
			got, _, _ = e.fs.Access(e.ctx, tt.c, h, AccessRead)
			if got != tt.want&AccessRead {
				t.Fatalf("Access(READ) = %#x, only asked bits may be granted", got)
			}
		})
	}
}

// TestDirPermissions checks search and write permission on directories
// for each namespace operation.
func TestDirPermissions(t *testing.T) {
	tests := []struct {
		mode           uint32
		lookup, create error
	}{
		{0o777, nil, nil},
		{0o755, nil, ErrAccess},
		{0o766, ErrAccess, ErrAccess}, // write without search is nothing
		{0o733, nil, nil},             // write and search without read
		{0o700, ErrAccess, ErrAccess},
	}
	for _, tt := range tests {
		e := newEnv(t)
		d := e.mkdir(rootC, e.root, "d", 0o777)
		e.create(rootC, d, "f", 0o666)
		e.mkdir(rootC, d, "sub", 0o777)
		e.create(rootC, d, "stay", 0o666)
		e.chmod(d, tt.mode)
		what := func(op string) string { return op + " in " + fmtMode(tt.mode) }
		_, err := e.lookup(eve, d, "f")
		wantErr(t, what("lookup"), err, tt.lookup)
		_, err = e.lookup(eve, d, ".")
		wantErr(t, what("lookup ."), err, tt.lookup)
		_, _, _, err = e.fs.Create(e.ctx, eve, d, "new", CreateHow{})
		wantErr(t, what("create"), err, tt.create)
		_, _, _, err = e.fs.Mkdir(e.ctx, eve, d, "newdir", SetAttr{})
		wantErr(t, what("mkdir"), err, tt.create)
		_, _, _, err = e.fs.Symlink(e.ctx, eve, d, "newlink", "f", SetAttr{})
		wantErr(t, what("symlink"), err, tt.create)
		_, _, err = e.fs.Rename(e.ctx, eve, d, "f", d, "g")
		wantErr(t, what("rename"), err, tt.create)
		name := "f" // or "g" if it was renamed
		if tt.create == nil {
			name = "g"
		}
		_, err = e.fs.Remove(e.ctx, eve, d, name)
		wantErr(t, what("remove"), err, tt.create)
		_, err = e.fs.Rmdir(e.ctx, eve, d, "sub")
		wantErr(t, what("rmdir"), err, tt.create)
		// Searching a directory is needed even to find that a name exists.
		_, _, _, err = e.fs.Create(e.ctx, eve, d, "stay", CreateHow{Mode: Guarded})
		if tt.lookup != nil {
			wantErr(t, what("create existing"), err, ErrAccess)
		} else {
			wantErr(t, what("create existing"), err, ErrExist)
		}
	}
}

func fmtMode(m uint32) string {
	const digits = "01234567"
	return string([]byte{'0', digits[m>>6&7], digits[m>>3&7], digits[m&7]})
}

func TestExistingNameBeforeWritePermission(t *testing.T) {
	e := newEnv(t)
	d := e.mkdir(rootC, e.root, "d", 0o755)
	e.create(rootC, d, "f", 0o644)
	_, _, _, err := e.fs.Mkdir(e.ctx, eve, d, "f", SetAttr{})
	wantErr(t, "mkdir over existing in unwritable dir", err, ErrExist)
	_, _, _, err = e.fs.Create(e.ctx, eve, d, "f", CreateHow{Mode: Unchecked})
	wantErr(t, "unchecked create of existing in unwritable dir", err, nil)
}

func TestStickyDirectory(t *testing.T) {
	// /tmp-like: 01777 owned by root; a directory owned by carol too.
	tests := []struct {
		dirOwner, fileOwner *Caller
		c                   *Caller
		want                error
	}{
		{rootC, alice, alice, nil},     // the file's owner
		{rootC, alice, eve, ErrPerm},   // someone else
		{rootC, alice, rootC, nil},     // root
		{carol, alice, carol, nil},     // the directory's owner
		{carol, alice, bob, ErrPerm},   // in carol's group: no matter
		{carol, carol, eve, ErrPerm},   // owner of both is not the caller
		{rootC, eve, eve, nil},         // own file
		{carol, alice, alice, nil},     // own file, other's directory
		{carol, eve, rootC, nil},       // root again
		{rootC, rootC, alice, ErrPerm}, // root's file
	}
	for i, tt := range tests {
		for _, op := range []string{"remove", "rename from", "rename over"} {
			e := newEnv(t)
			d := e.mkdir(tt.dirOwner, e.root, "tmp", 0o777)
			e.chmod(d, 0o1777)
			e.create(tt.fileOwner, d, "f", 0o666)
			e.create(tt.c, e.root, "mine", 0o666)
			var err error
			switch op {
			case "remove":
				_, err = e.fs.Remove(e.ctx, tt.c, d, "f")
			case "rename from":
				_, _, err = e.fs.Rename(e.ctx, tt.c, d, "f", e.root, "moved")
			case "rename over":
				_, _, err = e.fs.Rename(e.ctx, tt.c, e.root, "mine", d, "f")
			}
			if err != tt.want {
				t.Errorf("case %d %s: %v, want %v", i, op, err, tt.want)
			}
		}
	}
	// Without the sticky bit anyone with write permission may remove.
	e := newEnv(t)
	d := e.mkdir(rootC, e.root, "d", 0o777)
	e.create(alice, d, "f", 0o600)
	_, err := e.fs.Remove(e.ctx, eve, d, "f")
	wantErr(t, "remove in non-sticky dir", err, nil)
}

func TestSetgidDirectory(t *testing.T) {
	e := newEnv(t)
	d := e.mkdir(rootC, e.root, "proj", 0o777)
	e.chown(d, 0, 2000)
	e.chmod(d, 0o2777)

	_, a, _, err := e.fs.Create(e.ctx, alice, d, "f", CreateHow{Attr: SetAttr{Mask: SetMode, Mode: 0o2755}})
	if err != nil || a.GID != 2000 || a.UID != 1000 || a.Mode != 0o755 {
		t.Fatalf("file in setgid dir: %+v %v (setgid must drop: alice is not in 2000)", a, err)
	}
	_, a, _, _ = e.fs.Create(e.ctx, bob, d, "g", CreateHow{Attr: SetAttr{Mask: SetMode, Mode: 0o2755}})
	if a.GID != 2000 || a.Mode != 0o2755 {
		t.Fatalf("member's file in setgid dir: gid %d mode %o", a.GID, a.Mode)
	}
	sub, a, _, err := e.fs.Mkdir(e.ctx, alice, d, "sub", SetAttr{Mask: SetMode, Mode: 0o755})
	if err != nil || a.GID != 2000 || a.Mode != 0o2755 {
		t.Fatalf("subdir of setgid dir: %+v %v", a, err)
	}
	_, a, _, _ = e.fs.Mkdir(e.ctx, alice, sub, "subsub", SetAttr{Mask: SetMode, Mode: 0o700})
	if a.GID != 2000 || a.Mode != 0o2700 {
		t.Fatalf("setgid inherited twice: gid %d mode %o", a.GID, a.Mode)
	}
	_, a, _, _ = e.fs.Create(e.ctx, alice, e.root, "plain", CreateHow{})
	if a.GID != 1000 || a.Mode != 0o644 {
		t.Fatalf("file in plain dir: gid %d mode %o", a.GID, a.Mode)
	}
}

func TestChmodChown(t *testing.T) {
	tests := []struct {
		name string
		c    *Caller
		sa   SetAttr
		want error
		mode uint32 // resulting mode when allowed
		uid  uint32
		gid  uint32
	}{
		{"owner chmod", alice, SetAttr{Mask: SetMode, Mode: 0o600}, nil, 0o600, 1000, 1000},
		{"other chmod", eve, SetAttr{Mask: SetMode, Mode: 0o777}, ErrPerm, 0, 0, 0},
		{"group member chmod", bob, SetAttr{Mask: SetMode, Mode: 0o777}, ErrPerm, 0, 0, 0},
		{"root chmod", rootC, SetAttr{Mask: SetMode, Mode: 0o7777}, nil, 0o7777, 1000, 1000},
		{"owner sets setgid of own group", alice, SetAttr{Mask: SetMode, Mode: 0o2755}, nil, 0o2755, 1000, 1000},
		{"chmod masks type bits", alice, SetAttr{Mask: SetMode, Mode: 0o100644}, nil, 0o644, 1000, 1000},
		{"owner chown to self", alice, SetAttr{Mask: SetUID, UID: 1000}, nil, 0o644, 1000, 1000},
		{"owner chown away", alice, SetAttr{Mask: SetUID, UID: 1001}, ErrPerm, 0, 0, 0},
		{"root chown", rootC, SetAttr{Mask: SetUID | SetGID, UID: 7, GID: 8}, nil, 0o644, 7, 8},
		{"owner chgrp to member group", &Caller{UID: 1000, GID: 1000, Groups: []uint32{2000}}, SetAttr{Mask: SetGID, GID: 2000}, nil, 0o644, 1000, 2000},
		{"owner chgrp to other group", alice, SetAttr{Mask: SetGID, GID: 2000}, ErrPerm, 0, 0, 0},
		{"non-owner chgrp to own group", bob, SetAttr{Mask: SetGID, GID: 2000}, ErrPerm, 0, 0, 0},
		{"owner chgrp to same", alice, SetAttr{Mask: SetGID, GID: 1000}, nil, 0o644, 1000, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			f := e.create(alice, e.root, "f", 0o644)
			before := e.attr(f)
			e.clock.advance()
			wcc, err := e.fs.SetAttr(e.ctx, tt.c, f, tt.sa, nil)
			wantErr(t, "setattr", err, tt.want)
			a := e.attr(f)
			if !wcc.HavePre || wcc.Pre.Ctime != before.Ctime {
				t.Fatalf("wcc %+v", wcc)
			}
			if err != nil {
				if a != before {
					t.Fatalf("refused setattr changed %+v -> %+v", before, a)
				}
				return
			}
			if a.Mode != tt.mode || a.UID != tt.uid || a.GID != tt.gid || a.Ctime != e.clock.now() || wcc.Post != a {
				t.Fatalf("after: %+v (wcc post %+v)", a, wcc.Post)
			}
		})
	}
}

func TestChmodClearsSetgidOfNonMember(t *testing.T) {
	e := newEnv(t)
	f := e.create(alice, e.root, "f", 0o644)
	e.chown(f, 1000, 2000) // alice's file, group she is not in
	e.setattr(alice, f, SetAttr{Mask: SetMode, Mode: 0o2755})
	if m := e.attr(f).Mode; m != 0o755 {
		t.Fatalf("mode %o: setgid must be cleared for a non-member", m)
	}
	e.setattr(rootC, f, SetAttr{Mask: SetMode, Mode: 0o2755})
	if m := e.attr(f).Mode; m != 0o2755 {
		t.Fatalf("root sets setgid: %o", m)
	}
}

func TestChownClearsSetuid(t *testing.T) {
	e := newEnv(t)
	f := e.create(rootC, e.root, "f", 0)
	e.chmod(f, 0o6755)
	e.setattr(rootC, f, SetAttr{Mask: SetUID, UID: 5})
	if m := e.attr(f).Mode; m != 0o755 {
		t.Fatalf("chown left mode %o", m)
	}
	d := e.mkdir(rootC, e.root, "d", 0)
	e.chmod(d, 0o2755)
	e.setattr(rootC, d, SetAttr{Mask: SetGID, GID: 5})
	if m := e.attr(d).Mode; m != 0o2755 {
		t.Fatalf("chgrp of a dir changed mode to %o", m)
	}
}

func TestWriteClearsSetuid(t *testing.T) {
	tests := []struct {
		mode uint32
		c    *Caller
		want uint32
	}{
		{0o6777, alice, 0o777},
		{0o6777, rootC, 0o6777},
		{0o2767, alice, 0o2767}, // setgid without group x marks locking: kept
		{0o4766, alice, 0o766},
	}
	for _, tt := range tests {
		for _, how := range []string{"write", "truncate"} {
			e := newEnv(t)
			f := e.create(alice, e.root, "f", 0)
			e.chmod(f, tt.mode)
			if how == "write" {
				e.write(tt.c, f, 0, "x")
			} else {
				e.setattr(tt.c, f, SetAttr{Mask: SetSize, Size: 10})
			}
			if m := e.attr(f).Mode; m != tt.want {
				t.Errorf("%s by %d of %o: mode %o, want %o", how, tt.c.UID, tt.mode, m, tt.want)
			}
		}
	}
}

func TestSetTimesPermissions(t *testing.T) {
	const explicit = 1_600_000_000_000_000_000
	tests := []struct {
		name string
		mode uint32
		c    *Caller
		mask SetMask
		want error
	}{
		{"owner explicit", 0o644, alice, SetAtime | SetMtime, nil},
		{"writer explicit", 0o666, eve, SetMtime, ErrPerm},
		{"root explicit", 0o600, rootC, SetMtime | SetBtime, nil},
		{"writer now", 0o666, eve, SetAtimeNow | SetMtimeNow, nil},
		{"reader now", 0o644, eve, SetMtimeNow, ErrAccess},
		{"owner now without write", 0o444, alice, SetAtimeNow, nil},
		{"non-owner btime", 0o666, eve, SetBtime, ErrPerm},
		{"writer dos attrs", 0o666, eve, SetDOSAttrs, nil},
		{"reader dos attrs", 0o644, eve, SetDOSAttrs, ErrAccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			f := e.create(alice, e.root, "f", tt.mode)
			now := e.clock.advance()
			sa := SetAttr{Mask: tt.mask, Atime: explicit, Mtime: explicit + 1, Btime: explicit + 2, DOSAttrs: 0x20}
			_, err := e.fs.SetAttr(e.ctx, tt.c, f, sa, nil)
			wantErr(t, "setattr", err, tt.want)
			if err != nil {
				return
			}
			a := e.attr(f)
			check := func(field string, got int64, set, setNow SetMask, val int64) {
				switch {
				case tt.mask&set != 0 && got != val:
					t.Errorf("%s = %d, want %d", field, got, val)
				case tt.mask&setNow != 0 && got != now:
					t.Errorf("%s = %d, want now %d", field, got, now)
				case tt.mask&(set|setNow) == 0 && got != t0:
					t.Errorf("%s changed to %d", field, got)
				}
			}
			check("atime", a.Atime, SetAtime, SetAtimeNow, explicit)
			check("mtime", a.Mtime, SetMtime, SetMtimeNow, explicit+1)
			check("btime", a.Btime, SetBtime, 0, explicit+2)
			if a.Ctime != now {
				t.Errorf("ctime %d, want %d", a.Ctime, now)
			}
			if tt.mask&SetDOSAttrs != 0 && a.DOSAttrs != 0x20 {
				t.Errorf("dos attrs %#x", a.DOSAttrs)
			}
		})
	}
}

func TestOwnerOverride(t *testing.T) {
	// The owner may read, write and truncate a file whose mode denies it
	// (the client checked at open), as knfsd allows; others may not.
	e := newEnv(t)
	f := e.create(alice, e.root, "ro", 0o444)
	e.write(alice, f, 0, "data")
	e.setattr(alice, f, SetAttr{Mask: SetSize, Size: 2})
	e.chmod(f, 0o000)
	if s := e.read(alice, f); s != "da" {
		t.Fatalf("owner read %q", s)
	}
	e.chmod(f, 0o444)
	_, _, _, err := e.fs.Write(e.ctx, eve, f, 0, []byte("x"), Unstable)
	wantErr(t, "other writes 0444", err, ErrAccess)
	_, err = e.fs.SetAttr(e.ctx, eve, f, SetAttr{Mask: SetSize, Size: 0}, nil)
	wantErr(t, "other truncates 0444", err, ErrAccess)
	// ACCESS tells the truth about the mode, so opens are refused.
	got, _, _ := e.fs.Access(e.ctx, alice, f, AccessModify)
	if got != 0 {
		t.Fatalf("Access(MODIFY) of own 0444 file = %#x", got)
	}
	// Execute-only: a program may be read to be run.
	e.chmod(f, 0o711)
	_, _, _, err = e.fs.Read(e.ctx, eve, f, 0, make([]byte, 4))
	wantErr(t, "read of execute-only file", err, nil)
	e.chmod(f, 0o700)
	_, _, _, err = e.fs.Read(e.ctx, eve, f, 0, make([]byte, 4))
	wantErr(t, "read of 0700 by other", err, ErrAccess)
	_, _, _, err = e.fs.Read(e.ctx, rootC, f, 0, make([]byte, 4))
	wantErr(t, "root reads 0700", err, nil)
}

func TestMkdirOwnershipIgnoredForUsers(t *testing.T) {
	e := newEnv(t)
	_, a, _, err := e.fs.Mkdir(e.ctx, alice, e.root, "d", SetAttr{Mask: SetUID | SetGID | SetMode, UID: 0, GID: 0, Mode: 0o750})
	if err != nil || a.UID != 1000 || a.GID != 1000 || a.Mode != 0o750 {
		t.Fatalf("user mkdir with ownership: %+v %v", a, err)
	}
	_, a, _, err = e.fs.Mkdir(e.ctx, rootC, e.root, "r", SetAttr{Mask: SetUID | SetGID, UID: 5, GID: 6})
	if err != nil || a.UID != 5 || a.GID != 6 || a.Mode != 0o755 {
		t.Fatalf("root mkdir with ownership: %+v %v", a, err)
	}
}

// TestSetCtime: an explicit change time is for the owner and root, is
// kept as given, and the next change moves it again.
func TestSetCtime(t *testing.T) {
	e := newEnv(t)
	h := e.create(carol, e.root, "f", 0o666)
	if _, err := e.fs.SetAttr(e.ctx, bob, h, SetAttr{Mask: SetCtime, Ctime: 5}, nil); err != ErrPerm {
		t.Fatalf("ctime by a non-owner: %v, want ErrPerm", err)
	}
	e.setattr(carol, h, SetAttr{Mask: SetCtime | SetMtime, Ctime: 5, Mtime: 7})
	if a := e.attr(h); a.Ctime != 5 || a.Mtime != 7 {
		t.Fatalf("ctime %d mtime %d, want 5 and 7", a.Ctime, a.Mtime)
	}
	now := e.clock.advance()
	e.setattr(carol, h, SetAttr{Mask: SetMode, Mode: 0o600})
	if a := e.attr(h); a.Ctime != now {
		t.Fatalf("ctime after chmod %d, want %d", a.Ctime, now)
	}
}
