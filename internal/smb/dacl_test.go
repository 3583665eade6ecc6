package smb

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/identity"
)

// tryOpen opens name for access and closes it again, returning the status.
func (c *raw) tryOpen(name string, access uint32) Status {
	c.t.Helper()
	cr := c.create(createReq{name: name, access: access, share: shareAll, disp: dispOpen})
	if cr.Status == StatusSuccess {
		c.close(cr.ID)
	}
	return cr.Status
}

// TestDACLAttributeOnlyOpens: a DACL that denies READ_CONTROL, READ_EA or
// READ_ATTRIBUTES refuses an open asking only for it, and a handle
// without the right reads neither the attributes nor the descriptor.
// READ_ATTRIBUTES alone is still granted where the directory lets the
// caller list it (MS-FSA 2.1.5.1.2.1): at the share's root.
func TestDACLAttributeOnlyOpens(t *testing.T) {
	d := newDACLEnv(t)
	bobSID := d.m.UserSID(1001)
	for i, right := range []uint32{readControl, fileReadEA, fileReadAttributes, synchronize} {
		aces := []testACE{{typ: aceDenied, mask: right, sid: bobSID}, {mask: fileGenericRead, sid: identity.SIDEveryone}}
		name := `t\f` + string(rune('0'+i))
		d.file(t, name[2:], aces...)
		if st := d.bob.tryOpen(name, right); st != StatusAccessDenied {
			t.Errorf("bob opens for %#x denied him: %v, want STATUS_ACCESS_DENIED", right, st)
		}
		if st := d.carol.tryOpen(name, right); st != StatusSuccess {
			t.Errorf("carol opens for %#x: %v", right, st)
		}
		if st := d.bob.tryOpen(name, fileGenericRead&^right); st != StatusSuccess {
			t.Errorf("bob opens for the rest of GENERIC_READ: %v", st)
		}
		// At the root, which everyone may list.
		id := d.alice.mustCreate(createReq{name: "r", access: readControl | writeDAC, share: shareAll, disp: dispOpenIf})
		if st := d.alice.setInfo(id, infoSecurity, 0, testSD(nil, nil, true, aces...), secDACL); st != StatusSuccess {
			t.Fatal(st)
		}
		d.alice.close(id)
		want := StatusAccessDenied
		if right == fileReadAttributes {
			want = StatusSuccess
		}
		if st := d.bob.tryOpen("r", right); st != want {
			t.Errorf("bob opens r at the root for %#x: %v, want %v", right, st, want)
		}
	}

	// A handle reads what it was granted, nothing else.
	d.file(t, "g", testACE{mask: fileReadData | synchronize, sid: identity.SIDEveryone})
	cr := d.bob.create(createReq{name: `t\g`, access: fileReadData, share: shareAll, disp: dispOpen})
	if cr.Status != StatusSuccess {
		t.Fatal(cr.Status)
	}
	if _, st := d.bob.queryInfo(cr.ID, infoSecurity, 0, 4096, secOwner|secDACL); st != StatusAccessDenied {
		t.Errorf("descriptor through a handle without READ_CONTROL: %v", st)
	}
	if _, st := d.bob.queryInfo(cr.ID, infoFile, classFileBasic, 40, 0); st != StatusAccessDenied {
		t.Errorf("attributes through a handle without READ_ATTRIBUTES: %v", st)
	}
	if st := d.bob.setInfo(cr.ID, infoFile, classFileBasic, make([]byte, 40), 0); st != StatusAccessDenied {
		t.Errorf("setting attributes through a handle without WRITE_ATTRIBUTES: %v", st)
	}
	d.bob.close(cr.ID)
}

// TestDACLReachesOwner: an entry for Everyone applies to the owner too,
// over SMB (the directory lists and takes new files) and in the mode
// bits NFS sees.
func TestDACLReachesOwner(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	dir := c.mustCreate(createReq{name: "d", access: readControl | writeDAC, share: shareAll, disp: dispCreate, options: optDirectory})
	if st := c.setInfo(dir, infoSecurity, 0, testSD(nil, nil, true, testACE{mask: fileAllAccess, sid: identity.SIDEveryone}), secDACL); st != StatusSuccess {
		t.Fatal(st)
	}
	c.close(dir)
	if _, a := e.lookupAttr(t, "d"); a.Mode&0o777 != 0o777 {
		t.Errorf("mode of a directory Everyone may do anything with: %o, want 0777", a.Mode)
	}
	f := c.create(createReq{name: `d\f`, access: rw, share: shareAll, disp: dispCreate})
	if f.Status != StatusSuccess {
		t.Fatalf("the owner creates in a directory Everyone may write: %v", f.Status)
	}
	if st := c.write(f.ID, 0, []byte("hello")); st != StatusSuccess {
		t.Errorf("write: %v", st)
	}
	c.close(f.ID)
	dir = c.mustCreate(createReq{name: "d", access: fileListDir | synchronize, share: shareAll, disp: dispOpen, options: optDirectory})
	if ents, st := c.queryDir(dir, classFileNames, 0, "*", 4096); st != StatusSuccess || len(ents) != 3 {
		t.Errorf("the owner lists the directory: %v, %d entries", st, len(ents))
	}
	c.close(dir)

	// A file: Everyone reads; so do its owner and group over NFS.
	id := c.mustCreate(createReq{name: "f", access: rw | readControl | writeDAC, share: shareAll, disp: dispCreate})
	if st := c.setInfo(id, infoSecurity, 0, testSD(nil, nil, true, testACE{mask: fileGenericRead, sid: identity.SIDEveryone}), secDACL); st != StatusSuccess {
		t.Fatal(st)
	}
	c.close(id)
	if _, a := e.lookupAttr(t, "f"); a.Mode&0o777 != 0o644 {
		t.Errorf("mode of a file Everyone may read: %o, want 0644 (the owner's w is READONLY's)", a.Mode)
	}
	if st := c.tryOpen("f", fileGenericRead); st != StatusSuccess {
		t.Errorf("the owner reads: %v", st)
	}
}

// TestDACLDirectoryCreate: who may add an entry to a directory with a
// DACL is what the DACL says, whatever the mode bits it leaves: the owner
// given ADD_FILE (and nothing to traverse with) creates in it; a group
// member the mode would let write but the DACL denies does not.
func TestDACLDirectoryCreate(t *testing.T) {
	d := newDACLEnv(t)
	bobSID := d.m.UserSID(1001)
	mk := func(name string, aces ...testACE) {
		t.Helper()
		id := d.alice.mustCreate(createReq{name: name, access: readControl | writeDAC, share: shareAll, disp: dispCreate, options: optDirectory})
		if st := d.alice.setInfo(id, infoSecurity, 0, testSD(nil, nil, true, aces...), secDACL); st != StatusSuccess {
			t.Fatal(st)
		}
		d.alice.close(id)
	}
	mk("w", testACE{mask: fileAddFile | readControl, sid: d.aliceSID})
	if cr := d.alice.create(createReq{name: `w\f`, access: rw, share: shareAll, disp: dispCreate}); cr.Status != StatusSuccess {
		t.Errorf("the owner with ADD_FILE creates a file: %v", cr.Status)
	} else {
		d.alice.close(cr.ID)
	}
	// The creator's handle deletes on close what it made there.
	if cr := d.alice.create(createReq{name: `w\x`, access: rw | accessDelete, share: shareAll, disp: dispCreate, options: optDeleteOnClose}); cr.Status != StatusSuccess {
		t.Errorf("the owner with ADD_FILE creates to delete on close: %v", cr.Status)
	} else {
		d.alice.close(cr.ID)
	}
	if st := d.alice.tryOpen(`w\x`, fileReadAttributes); st != StatusObjectNameNotFound {
		t.Errorf("file deleted on close: %v", st)
	}
	if cr := d.alice.create(createReq{name: `w\s`, access: rw, share: shareAll, disp: dispCreate, options: optDirectory}); cr.Status != StatusAccessDenied {
		t.Errorf("the owner without ADD_SUBDIRECTORY makes a directory: %v", cr.Status)
	}
	// Through the group, and a subdirectory.
	mk("g", testACE{mask: fileAddSub | fileAddFile, sid: d.groupSID})
	if cr := d.alice.create(createReq{name: `g\s`, access: fileGenericRead, share: shareAll, disp: dispCreate, options: optDirectory}); cr.Status != StatusSuccess {
		t.Errorf("a group member with ADD_SUBDIRECTORY makes a directory: %v", cr.Status)
	} else {
		d.alice.close(cr.ID)
	}
	// Denied though the mode bits would allow it.
	mk("n", testACE{typ: aceDenied, mask: fileAddFile, sid: bobSID}, testACE{mask: fileAllAccess, sid: identity.SIDEveryone})
	if _, a := d.lookupAttr(t, "n"); a.Mode&0o070 != 0o070 {
		t.Fatalf("mode of n %o: the group should have rwx", a.Mode)
	}
	if cr := d.bob.create(createReq{name: `n\f`, access: rw, share: shareAll, disp: dispCreate}); cr.Status != StatusAccessDenied {
		t.Errorf("bob, denied ADD_FILE, creates: %v", cr.Status)
	}
	if cr := d.carol.create(createReq{name: `n\f`, access: rw, share: shareAll, disp: dispCreate}); cr.Status != StatusSuccess {
		t.Errorf("carol creates: %v", cr.Status)
	} else {
		d.carol.close(cr.ID)
	}
	// Nor through a stream's name, a rename or a hard link.
	if cr := d.bob.create(createReq{name: `n\g:s`, access: rw, share: shareAll, disp: dispCreate}); cr.Status != StatusAccessDenied {
		t.Errorf("bob, denied ADD_FILE, creates a file through its stream: %v", cr.Status)
	}
	for _, who := range []struct {
		name string
		c    *raw
		want Status
	}{{"bob", d.bob, StatusAccessDenied}, {"carol", d.carol, StatusSuccess}} {
		id := who.c.mustCreate(createReq{name: who.name, access: rw | accessDelete, share: shareAll, disp: dispCreate})
		if st := who.c.setInfo(id, infoFile, classFileLink, renameInfo(`n\`+who.name+"-link", false), 0); st != who.want {
			t.Errorf("%s links into n: %v, want %v", who.name, st, who.want)
		}
		if st := who.c.setInfo(id, infoFile, classFileRename, renameInfo(`n\`+who.name, false), 0); st != who.want {
			t.Errorf("%s renames into n: %v, want %v", who.name, st, who.want)
		}
		who.c.close(id)
	}
}

// TestDACLNamedUser: a user the DACL names, which the mode bits cannot
// say, reads, writes and lists what it grants, and nothing the file
// system's own check of the mode would refuse stops it.
func TestDACLNamedUser(t *testing.T) {
	d := newDACLEnv(t)
	carolSID := d.m.UserSID(1002)
	d.file(t, "f", testACE{mask: fileGenericRead | fileGenericWrite, sid: carolSID}, testACE{mask: fileAllAccess, sid: d.aliceSID})
	if _, a := d.lookupAttr(t, "t", "f"); a.Mode&0o077 != 0 {
		t.Fatalf("mode %o: the DACL grants no class but the owner", a.Mode)
	}
	cr := d.carol.create(createReq{name: `t\f`, access: rw, share: shareAll, disp: dispOpen})
	if cr.Status != StatusSuccess {
		t.Fatalf("carol opens: %v", cr.Status)
	}
	if st := d.carol.write(cr.ID, 0, []byte("carol")); st != StatusSuccess {
		t.Errorf("carol writes: %v", st)
	}
	if got, st := d.carol.read(cr.ID, 0, 5); st != StatusSuccess || string(got) != "carol" {
		t.Errorf("carol reads %q: %v", got, st)
	}
	eoF := make([]byte, 8)
	binary.LittleEndian.PutUint64(eoF, 2)
	if st := d.carol.setInfo(cr.ID, infoFile, classFileEndOfFile, eoF, 0); st != StatusSuccess {
		t.Errorf("carol truncates: %v", st)
	}
	d.carol.close(cr.ID)
	if st := d.bob.tryOpen(`t\f`, fileReadData); st != StatusAccessDenied {
		t.Errorf("bob, not named, reads: %v", st)
	}
	// A directory carol may list and add to.
	id := d.alice.mustCreate(createReq{name: `t\d`, access: readControl | writeDAC, share: shareAll, disp: dispCreate, options: optDirectory})
	sd := testSD(nil, nil, true, testACE{mask: fileListDir | fileAddFile | fileTraverse | synchronize | fileReadAttributes, sid: carolSID},
		testACE{mask: fileAllAccess, sid: d.aliceSID})
	if st := d.alice.setInfo(id, infoSecurity, 0, sd, secDACL); st != StatusSuccess {
		t.Fatal(st)
	}
	d.alice.close(id)
	if cr := d.carol.create(createReq{name: `t\d\c`, access: rw, share: shareAll, disp: dispCreate}); cr.Status != StatusSuccess {
		t.Errorf("carol creates in the directory: %v", cr.Status)
	} else {
		d.carol.close(cr.ID)
	}
	dir := d.carol.create(createReq{name: `t\d`, access: fileListDir | synchronize, share: shareAll, disp: dispOpen, options: optDirectory})
	if dir.Status != StatusSuccess {
		t.Fatalf("carol opens the directory: %v", dir.Status)
	}
	if ents, st := d.carol.queryDir(dir.ID, classFileNames, 0, "*", 4096); st != StatusSuccess || len(ents) != 3 {
		t.Errorf("carol lists: %v, %d entries", st, len(ents))
	}
	d.carol.close(dir.ID)
}

// TestDACLGenericMappedWhenStored: generic rights in a DACL a client sets
// are stored as the file rights they stand for, except in entries that
// only pass on (inherit-only), as Windows stores them.
func TestDACLGenericMappedWhenStored(t *testing.T) {
	d := newDACLEnv(t)
	id := d.alice.mustCreate(createReq{name: "d", access: readControl | writeDAC, share: shareAll, disp: dispCreate, options: optDirectory})
	given := []testACE{
		{mask: genericRead | genericExecute, sid: identity.SIDEveryone},
		{flags: aceObjectInherit | aceContainerInherit, mask: genericAll, sid: d.aliceSID},
		{flags: aceObjectInherit | aceInheritOnly, mask: genericWrite, sid: identity.SIDCreatorOwner},
	}
	if st := d.alice.setInfo(id, infoSecurity, 0, testSD(nil, nil, true, given...), secDACL); st != StatusSuccess {
		t.Fatal(st)
	}
	got, _ := d.alice.queryInfo(id, infoSecurity, 0, 4096, secDACL)
	want := testACL(
		testACE{mask: fileGenericRead | fileGenericExecute, sid: identity.SIDEveryone},
		testACE{flags: aceObjectInherit | aceContainerInherit, mask: fileAllAccess, sid: d.aliceSID},
		testACE{flags: aceObjectInherit | aceInheritOnly, mask: genericWrite, sid: identity.SIDCreatorOwner},
	)
	if !bytes.Equal(daclOf(t, got), want) {
		t.Errorf("stored DACL\n got %x\nwant %x", daclOf(t, got), want)
	}
	d.alice.close(id)
}

// TestDACLCreatorOwnerInherited: CREATOR OWNER entries become the
// creator's own on inheritance, their generic rights mapped; a directory
// also keeps the original, inherit-only, to pass on (MS-DTYP 2.5.3.4).
func TestDACLCreatorOwnerInherited(t *testing.T) {
	d := newDACLEnv(t)
	bobSID := d.m.UserSID(1001)
	id := d.alice.mustCreate(createReq{name: "d", access: readControl | writeDAC, share: shareAll, disp: dispCreate, options: optDirectory})
	sd := testSD(nil, nil, true,
		testACE{flags: aceObjectInherit | aceContainerInherit, mask: fileAllAccess, sid: d.aliceSID},
		testACE{flags: aceObjectInherit | aceContainerInherit | aceInheritOnly, mask: genericAll, sid: identity.SIDCreatorOwner},
		testACE{flags: aceObjectInherit | aceContainerInherit | aceInheritOnly, mask: genericRead | genericExecute, sid: identity.SIDAuthenticatedUsers},
		testACE{mask: fileAddFile | fileAddSub, sid: identity.SIDEveryone},
	)
	// Auto-inherited, so the entries inherited are marked INHERITED.
	binary.LittleEndian.PutUint16(sd[2:], binary.LittleEndian.Uint16(sd[2:])|seDACLAutoInh)
	if st := d.alice.setInfo(id, infoSecurity, 0, sd, secDACL); st != StatusSuccess {
		t.Fatal(st)
	}
	d.alice.close(id)
	all := uint32(secOwner | secGroup | secDACL)

	f := d.bob.mustCreate(createReq{name: `d\b`, access: rw | readControl, share: shareAll, disp: dispCreate})
	got, _ := d.bob.queryInfo(f, infoSecurity, 0, 4096, all)
	wantDACL := testACL(
		testACE{flags: aceInherited, mask: fileAllAccess, sid: d.aliceSID},
		testACE{flags: aceInherited, mask: fileAllAccess, sid: bobSID},
		testACE{flags: aceInherited, mask: fileGenericRead | fileGenericExecute, sid: identity.SIDAuthenticatedUsers},
	)
	if !bytes.Equal(daclOf(t, got), wantDACL) {
		t.Errorf("bob's file's DACL\n got %x\nwant %x", daclOf(t, got), wantDACL)
	}
	d.bob.close(f)
	cr := d.bob.create(createReq{name: `d\b`, access: maximumAllowed, share: shareAll, disp: dispOpen})
	if cr.Status != StatusSuccess {
		t.Fatal(cr.Status)
	}
	if acc, _ := d.bob.queryInfo(cr.ID, infoFile, classFileAccess, 4, 0); binary.LittleEndian.Uint32(acc) != fileAllAccess {
		t.Errorf("bob's access to his file: %x, want %#x", acc, fileAllAccess)
	}
	d.bob.close(cr.ID)
	if st := d.carol.tryOpen(`d\b`, fileWriteData); st != StatusAccessDenied {
		t.Errorf("carol writes bob's file: %v", st)
	}

	s := d.bob.mustCreate(createReq{name: `d\s`, access: fileGenericRead, share: shareAll, disp: dispCreate, options: optDirectory})
	got, _ = d.bob.queryInfo(s, infoSecurity, 0, 4096, all)
	wantDACL = testACL(
		testACE{flags: aceObjectInherit | aceContainerInherit | aceInherited, mask: fileAllAccess, sid: d.aliceSID},
		testACE{flags: aceInherited, mask: fileAllAccess, sid: bobSID},
		testACE{flags: aceObjectInherit | aceContainerInherit | aceInheritOnly | aceInherited, mask: genericAll, sid: identity.SIDCreatorOwner},
		testACE{flags: aceInherited, mask: fileGenericRead | fileGenericExecute, sid: identity.SIDAuthenticatedUsers},
		testACE{flags: aceObjectInherit | aceContainerInherit | aceInheritOnly | aceInherited, mask: genericRead | genericExecute, sid: identity.SIDAuthenticatedUsers},
	)
	if !bytes.Equal(daclOf(t, got), wantDACL) {
		t.Errorf("bob's directory's DACL\n got %x\nwant %x", daclOf(t, got), wantDACL)
	}
	d.bob.close(s)
}

// TestDACLModeMapping: the mode bits a DACL leaves for NFS are, for each
// class, what the DACL grants a caller of that class alone: the owner's
// SID, the group's, and for both and the others Everyone and
// Authenticated Users; read, write and execute being READ_DATA,
// WRITE_DATA and EXECUTE.
func TestDACLModeMapping(t *testing.T) {
	m := identity.NewMapper(identity.SID{Authority: 5, N: 4, Sub: [15]uint32{21, 1, 2, 3}})
	owner, group := m.UserSID(1000), m.GroupSID(1000)
	everyone, au := identity.SIDEveryone, identity.SIDAuthenticatedUsers
	r, w, x := uint32(fileReadData), uint32(fileWriteData), uint32(fileExecute)
	for _, tc := range []struct {
		aces []testACE
		mode uint32
	}{
		{[]testACE{{mask: r, sid: everyone}}, 0o444},
		{[]testACE{{mask: r | w | x, sid: owner}, {mask: r, sid: group}}, 0o740},
		{[]testACE{{mask: genericRead | genericExecute, sid: au}}, 0o550},
		{[]testACE{{typ: aceDenied, mask: w, sid: group}, {mask: r | w, sid: everyone}}, 0o646},
		{[]testACE{{mask: r, sid: everyone}, {typ: aceDenied, mask: r, sid: owner}}, 0o444},
		{[]testACE{{typ: aceDenied, mask: r, sid: owner}, {mask: r | x, sid: everyone}}, 0o155},
		{[]testACE{{flags: aceInheritOnly | aceObjectInherit, mask: r, sid: everyone}}, 0},
		{[]testACE{{mask: r, sid: sidOwnerRights}}, 0o400},
		{[]testACE{{mask: r | w, sid: m.UserSID(1001)}}, 0},
	} {
		c, ok := parseSD(testSD(nil, nil, true, tc.aces...), secDACL)
		if !ok {
			t.Fatal("parseSD")
		}
		if got := c.mode(owner, group); got != tc.mode {
			t.Errorf("%+v: mode %o, want %o", tc.aces, got, tc.mode)
		}
	}
	// A file's owner write bit stays READONLY's.
	c, _ := parseSD(testSD(nil, nil, true, testACE{mask: r, sid: everyone}), secDACL)
	sa := c.setAttr(&fs.Attr{Type: fs.TypeRegular, Mode: 0o600, UID: 1000, GID: 1000}, m)
	if sa.Mode != 0o644 {
		t.Errorf("file mode %o, want 0644", sa.Mode)
	}
}

// TestDACLAfterNFSChmod: a chmod over NFS replaces the DACL by the
// descriptor of the new mode, for the checks of SMB too; a change SMB
// makes to the mode (READONLY) keeps it.
func TestDACLAfterNFSChmod(t *testing.T) {
	d := newDACLEnv(t)
	bobSID := d.m.UserSID(1001)
	d.file(t, "f", testACE{typ: aceDenied, mask: fileReadData, sid: bobSID}, testACE{mask: fileAllAccess, sid: identity.SIDEveryone})
	if st := d.bob.tryOpen(`t\f`, fileReadData); st != StatusAccessDenied {
		t.Fatalf("bob reads what the DACL denies him: %v", st)
	}
	id := d.alice.mustCreate(createReq{name: `t\f`, access: fileWriteAttributes, share: shareAll, disp: dispOpen})
	basic := make([]byte, 40)
	binary.LittleEndian.PutUint32(basic[32:], attrReadonly)
	if st := d.alice.setInfo(id, infoFile, classFileBasic, basic, 0); st != StatusSuccess {
		t.Fatal(st)
	}
	d.alice.close(id)
	if st := d.bob.tryOpen(`t\f`, fileReadData); st != StatusAccessDenied {
		t.Errorf("bob reads after READONLY was set: %v, want the DACL kept", st)
	}
	h, _ := d.lookupAttr(t, "t", "f")
	if _, err := d.fs.SetAttr(context.Background(), &fs.Caller{UID: 1000, GID: 1000}, h, fs.SetAttr{Mask: fs.SetMode, Mode: 0o644}, nil); err != nil {
		t.Fatal(err)
	}
	if st := d.bob.tryOpen(`t\f`, fileReadData); st != StatusSuccess {
		t.Errorf("bob reads after chmod 0644 over NFS: %v", st)
	}
	if st := d.carol.tryOpen(`t\f`, fileWriteData); st != StatusAccessDenied {
		t.Errorf("carol writes a 0644 file: %v", st)
	}
}
