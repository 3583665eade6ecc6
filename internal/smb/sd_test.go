package smb

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/identity"
)

// testACE is one access control entry of a test descriptor.
type testACE struct {
	typ, flags uint8
	mask       uint32
	sid        identity.SID
}

// testSD builds a self-relative descriptor: owner and group when not
// nil, a DACL of aces when dacl (nil aces and dacl: an empty DACL).
func testSD(owner, group *identity.SID, dacl bool, aces ...testACE) []byte {
	b := make([]byte, 20)
	b[0] = 1
	control := uint16(seSelfRelative)
	if owner != nil {
		binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
		b = owner.Append(b)
	}
	if group != nil {
		binary.LittleEndian.PutUint32(b[8:], uint32(len(b)))
		b = group.Append(b)
	}
	if dacl {
		control |= seDACLPresent
		binary.LittleEndian.PutUint32(b[16:], uint32(len(b)))
		b = append(b, testACL(aces...)...)
	}
	binary.LittleEndian.PutUint16(b[2:], control)
	return b
}

func testACL(aces ...testACE) []byte {
	acl := []byte{aclRevision, 0, 0, 0, 0, 0, 0, 0}
	for _, a := range aces {
		acl = append(acl, a.typ, a.flags)
		acl = binary.LittleEndian.AppendUint16(acl, uint16(8+a.sid.Size()))
		acl = binary.LittleEndian.AppendUint32(acl, a.mask)
		acl = a.sid.Append(acl)
	}
	binary.LittleEndian.PutUint16(acl[2:], uint16(len(acl)))
	binary.LittleEndian.PutUint16(acl[4:], uint16(len(aces)))
	return acl
}

// daclOf is the DACL part of a descriptor, nil for none or a NULL one.
func daclOf(t *testing.T, sd []byte) []byte {
	t.Helper()
	p, ok := splitSD(sd)
	if !ok {
		t.Fatalf("malformed descriptor %x", sd)
	}
	return p.dacl
}

func TestStoredSecurityDescriptor(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	m, err := e.ids.Mapper(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	all := uint32(secOwner | secGroup | secDACL)
	id := c.mustCreate(createReq{name: "f", access: rw | readControl | writeDAC, share: shareAll, disp: dispCreate})
	made, _ := c.queryInfo(id, infoSecurity, 0, 4096, all)
	c.close(id)

	// A descriptor with an entry the mode cannot say is kept exactly.
	p, _ := splitSD(made)
	extra := testACL(testACE{mask: 0x001f0000, sid: identity.SIDAuthenticatedUsers})
	acl := append(bytes.Clone(p.dacl), extra[8:]...)
	binary.LittleEndian.PutUint16(acl[2:], uint16(len(acl)))
	binary.LittleEndian.PutUint16(acl[4:], binary.LittleEndian.Uint16(acl[4:])+1)
	p.dacl = acl
	given := p.bytes(all)
	id = c.mustCreate(createReq{name: "g", access: maximumAllowed, share: shareAll, disp: dispCreate, contexts: ctxChain("SecD", given)})
	got, st := c.queryInfo(id, infoSecurity, 0, 4096, all)
	if st != StatusSuccess || !bytes.Equal(got, given) {
		t.Fatalf("stored descriptor:\n got %x, %v\nwant %x", got, st, given)
	}
	// Only the parts asked for come back.
	dacl, _ := c.queryInfo(id, infoSecurity, 0, 4096, secDACL)
	if want := testSD(nil, nil, true); !bytes.Equal(dacl[:4], want[:4]) || binary.LittleEndian.Uint32(dacl[4:]) != 0 ||
		!bytes.Equal(daclOf(t, dacl), acl) {
		t.Fatalf("DACL only: %x", dacl)
	}
	// An owner no uid maps to is kept too, and the mode stays writable by
	// its owner (READONLY is not the DACL's); Everyone's read reaches
	// every class.
	world := identity.SIDEveryone
	users := identity.SIDUsers
	given2 := testSD(&world, &users, true, testACE{mask: fileGenericRead | 0x001f0000, sid: world})
	if st := c.setInfo(id, infoSecurity, 0, given2, all); st != StatusSuccess {
		t.Fatal(st)
	}
	if got, _ := c.queryInfo(id, infoSecurity, 0, 4096, all); !bytes.Equal(got, given2) {
		t.Fatalf("descriptor with Everyone as owner:\n got %x\nwant %x", got, given2)
	}
	if _, a := e.lookupAttr(t, "g"); a.Mode != 0o644 || a.UID != 1000 {
		t.Errorf("mode %o uid %d after the DACL, want 0644 and uid 1000", a.Mode, a.UID)
	}
	attrs, _ := c.queryInfo(id, infoFile, classFileAttributeTag, 8, 0)
	if binary.LittleEndian.Uint32(attrs)&attrReadonly != 0 {
		t.Errorf("the DACL made the file READONLY")
	}

	// Setting READONLY over SMB keeps the stored descriptor; a chmod over
	// NFS drops it for the one the new mode makes.
	basic := make([]byte, 40)
	binary.LittleEndian.PutUint32(basic[32:], attrReadonly)
	if st := c.setInfo(id, infoFile, classFileBasic, basic, 0); st != StatusSuccess {
		t.Fatal(st)
	}
	if got, _ := c.queryInfo(id, infoSecurity, 0, 4096, all); !bytes.Equal(got, given2) {
		t.Fatalf("descriptor after READONLY:\n got %x", got)
	}
	h, _ := e.lookupAttr(t, "g")
	if _, err := e.fs.SetAttr(context.Background(), &fs.Caller{UID: 1000, GID: 1000}, h, fs.SetAttr{Mask: fs.SetMode, Mode: 0o640}, nil); err != nil {
		t.Fatal(err)
	}
	got, _ = c.queryInfo(id, infoSecurity, 0, 4096, all)
	a := fs.Attr{Type: fs.TypeRegular, Mode: 0o640, UID: 1000, GID: 1000}
	if want := buildSD(&a, all, m); !bytes.Equal(got, want) {
		t.Fatalf("descriptor after chmod over NFS:\n got %x\nwant %x", got, want)
	}
	c.close(id)
}

func TestNullAndEmptyDACL(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	all := uint32(secOwner | secGroup | secDACL)
	id := c.mustCreate(createReq{name: "f", access: readControl | writeDAC | writeOwner, share: shareAll, disp: dispCreate,
		contexts: ctxChain("SecD", testSD(nil, nil, false))})
	// A descriptor naming no part changes nothing: the file has its mode's.
	if got, _ := c.queryInfo(id, infoSecurity, 0, 4096, all); daclOf(t, got) == nil {
		t.Fatal("no DACL after an empty descriptor at create")
	}
	open := func(access uint32) Status {
		cr := c.create(createReq{name: "f", access: access, share: shareAll, disp: dispOpen})
		if cr.Status == StatusSuccess {
			c.close(cr.ID)
		}
		return cr.Status
	}

	// NULL DACL: present, no ACL, everything allowed.
	null := testSD(nil, nil, true)
	binary.LittleEndian.PutUint32(null[16:], 0)
	null = null[:20]
	if st := c.setInfo(id, infoSecurity, 0, null, secDACL); st != StatusSuccess {
		t.Fatal(st)
	}
	got, _ := c.queryInfo(id, infoSecurity, 0, 4096, all)
	if binary.LittleEndian.Uint16(got[2:])&seDACLPresent == 0 || daclOf(t, got) != nil {
		t.Fatalf("NULL DACL read back as %x", got)
	}
	for _, access := range []uint32{readControl, fileWriteData, fileReadData, genericWrite, genericRead} {
		if st := open(access); st != StatusSuccess {
			t.Errorf("open %#x under a NULL DACL: %v", access, st)
		}
	}

	// An empty DACL: only the owner's implicit rights remain.
	if st := c.setInfo(id, infoSecurity, 0, testSD(nil, nil, true), secDACL); st != StatusSuccess {
		t.Fatal(st)
	}
	got, _ = c.queryInfo(id, infoSecurity, 0, 4096, all)
	if d := daclOf(t, got); len(d) != 8 || binary.LittleEndian.Uint16(d[4:]) != 0 {
		t.Fatalf("empty DACL read back as %x", got)
	}
	if st := open(readControl); st != StatusSuccess {
		t.Errorf("owner's READ_CONTROL under an empty DACL: %v", st)
	}
	for _, access := range []uint32{fileWriteData, fileReadData, genericWrite, genericRead} {
		if st := open(access); st != StatusAccessDenied {
			t.Errorf("open %#x under an empty DACL: %v", access, st)
		}
	}
	// Setting the DACL without DACL_PRESENT is a NULL DACL.
	if st := c.setInfo(id, infoSecurity, 0, testSD(nil, nil, false), secDACL); st != StatusSuccess {
		t.Fatal(st)
	}
	got, _ = c.queryInfo(id, infoSecurity, 0, 4096, all)
	if binary.LittleEndian.Uint16(got[2:])&seDACLPresent == 0 || daclOf(t, got) != nil {
		t.Fatalf("DACL set absent read back as %x", got)
	}
	c.close(id)
}

// TestDeleteChildFromStoredDACL: a directory whose stored DACL does not
// grant FILE_DELETE_CHILD lets no one delete an entry that does not grant
// DELETE itself, even though POSIX would.
func TestDeleteChildFromStoredDACL(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	m, err := e.ids.Mapper(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	owner := m.UserSID(1000)
	d := c.mustCreate(createReq{name: "d", access: readControl | writeDAC | writeOwner, share: shareAll, disp: dispCreate, options: optDirectory})
	noDelete := uint32(0x1e01bf)
	if st := c.setInfo(d, infoSecurity, 0, testSD(&owner, nil, true, testACE{mask: noDelete, sid: owner}), secOwner|secDACL); st != StatusSuccess {
		t.Fatal(st)
	}
	c.close(d)
	c.close(c.mustCreate(createReq{name: `d\f`, access: rw, share: shareAll, disp: dispCreate}))
	if cr := c.create(createReq{name: `d\f`, access: rw | accessDelete, share: shareAll, disp: dispOpenIf, options: optDeleteOnClose}); cr.Status != StatusAccessDenied {
		t.Fatalf("delete-on-close open without DELETE_CHILD: %v", cr.Status)
	}
	// The creator of a new file gets what it asks for.
	cr := c.create(createReq{name: `d\g`, access: rw | accessDelete, share: shareAll, disp: dispCreate, options: optDeleteOnClose})
	if cr.Status != StatusSuccess {
		t.Fatalf("delete-on-close create: %v", cr.Status)
	}
	c.close(cr.ID)
	if cr := c.create(createReq{name: `d\g`, access: fileReadAttributes, share: shareAll, disp: dispOpen}); cr.Status != StatusObjectNameNotFound {
		t.Fatalf("file after delete on close: %v", cr.Status)
	}
}

func TestCreateAttributeRules(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	if cr := c.create(createReq{name: "ro", access: rw | accessDelete, share: shareAll, disp: dispCreate, attrs: attrReadonly, options: optDeleteOnClose}); cr.Status != StatusCannotDelete {
		t.Fatalf("read-only delete-on-close create: %v", cr.Status)
	}
	if cr := c.create(createReq{name: "ro", access: rw, share: shareAll, disp: dispOpen}); cr.Status != StatusObjectNameNotFound {
		t.Fatalf("refused create left a file: %v", cr.Status)
	}
	if cr := c.create(createReq{name: "tmp", access: rw, share: shareAll, disp: dispCreate, attrs: attrTemporary, options: optDirectory}); cr.Status != StatusInvalidParameter {
		t.Fatalf("temporary directory: %v", cr.Status)
	}
	d := c.mustCreate(createReq{name: "dir", access: rw | fileWriteAttributes, share: shareAll, disp: dispCreate, options: optDirectory})
	basic := make([]byte, 40)
	binary.LittleEndian.PutUint32(basic[32:], attrTemporary)
	if st := c.setInfo(d, infoFile, classFileBasic, basic, 0); st != StatusInvalidParameter {
		t.Fatalf("TEMPORARY on a directory: %v", st)
	}
}

func TestInheritedSecurityDescriptor(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	m, err := e.ids.Mapper(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	owner, group := m.UserSID(1000), m.GroupSID(1000)
	d := c.mustCreate(createReq{name: "d", access: readControl | writeDAC | writeOwner, share: shareAll, disp: dispCreate, options: optDirectory})
	parent := testSD(&owner, nil, true,
		testACE{flags: aceObjectInherit | aceContainerInherit, mask: fileAllAccess, sid: owner},
		testACE{flags: aceObjectInherit, mask: fileGenericRead, sid: identity.SIDEveryone},
		testACE{flags: aceObjectInherit | aceContainerInherit | aceInheritOnly, mask: fileAllAccess, sid: identity.SIDCreatorOwner},
		testACE{mask: fileGenericRead, sid: identity.SIDAuthenticatedUsers}, // not inheritable
	)
	if st := c.setInfo(d, infoSecurity, 0, parent, secOwner|secDACL); st != StatusSuccess {
		t.Fatal(st)
	}
	c.close(d)
	all := uint32(secOwner | secGroup | secDACL)

	// The directory's DACL is not AUTO_INHERITED: the inherited entries
	// are not marked INHERITED (TestDACLCreatorOwnerInherited has them
	// marked).
	f := c.mustCreate(createReq{name: `d\f`, access: rw | readControl, share: shareAll, disp: dispCreate})
	got, _ := c.queryInfo(f, infoSecurity, 0, 4096, all)
	want := testSD(&owner, &group, true,
		testACE{mask: fileAllAccess, sid: owner},
		testACE{mask: fileGenericRead, sid: identity.SIDEveryone},
		testACE{mask: fileAllAccess, sid: owner},
	)
	if !bytes.Equal(got, want) {
		t.Fatalf("file's inherited descriptor:\n got %x\nwant %x", got, want)
	}
	if a := rootLookup(t, e, "d", "f"); a.Mode != 0o744 {
		t.Errorf("file's mode %o, want 0744 (Everyone's read reaches the group)", a.Mode)
	}
	c.close(f)

	sub := c.mustCreate(createReq{name: `d\s`, access: fileGenericRead, share: shareAll, disp: dispCreate, options: optDirectory})
	got, _ = c.queryInfo(sub, infoSecurity, 0, 4096, all)
	want = testSD(&owner, &group, true,
		testACE{flags: aceObjectInherit | aceContainerInherit, mask: fileAllAccess, sid: owner},
		testACE{flags: aceObjectInherit | aceInheritOnly, mask: fileGenericRead, sid: identity.SIDEveryone},
		testACE{mask: fileAllAccess, sid: owner},
		testACE{flags: aceObjectInherit | aceContainerInherit | aceInheritOnly, mask: fileAllAccess, sid: identity.SIDCreatorOwner},
	)
	if !bytes.Equal(got, want) {
		t.Fatalf("directory's inherited descriptor:\n got %x\nwant %x", got, want)
	}
	c.close(sub)

	// Nothing inheritable: the mode's descriptor.
	plain := c.mustCreate(createReq{name: "p", access: readControl | writeDAC, share: shareAll, disp: dispCreate, options: optDirectory})
	if st := c.setInfo(plain, infoSecurity, 0, testSD(nil, nil, true, testACE{mask: fileAllAccess, sid: owner}), secDACL); st != StatusSuccess {
		t.Fatal(st)
	}
	g := c.mustCreate(createReq{name: `p\g`, access: rw | readControl, share: shareAll, disp: dispCreate})
	got, _ = c.queryInfo(g, infoSecurity, 0, 4096, all)
	a := rootLookup(t, e, "p", "g")
	if want := buildSD(&a, all, m); !bytes.Equal(got, want) {
		t.Fatalf("descriptor with nothing to inherit:\n got %x\nwant %x", got, want)
	}
}

// rootLookup is the attributes of a path's file, looked up as root.
func rootLookup(t *testing.T, e *env, path ...string) fs.Attr {
	t.Helper()
	h, a := e.root(), fs.Attr{}
	var err error
	for _, p := range path {
		if h, a, _, err = e.fs.Lookup(context.Background(), &fs.Caller{}, h, p); err != nil {
			t.Fatalf("lookup %v: %v", path, err)
		}
	}
	return a
}

// TestReadonlyKeepsDACL: READONLY is an attribute; toggling it leaves the
// descriptor made from the mode as it was.
func TestReadonlyKeepsDACL(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "f", access: rw | readControl | fileWriteAttributes, share: shareAll, disp: dispCreate})
	before, _ := c.queryInfo(id, infoSecurity, 0, 4096, secOwner|secGroup|secDACL)
	basic := make([]byte, 40)
	binary.LittleEndian.PutUint32(basic[32:], attrReadonly)
	if st := c.setInfo(id, infoFile, classFileBasic, basic, 0); st != StatusSuccess {
		t.Fatal(st)
	}
	if a := rootLookup(t, e, "f"); a.Mode != 0o444 {
		t.Fatalf("mode after READONLY %o", a.Mode)
	}
	after, _ := c.queryInfo(id, infoSecurity, 0, 4096, secOwner|secGroup|secDACL)
	if !bytes.Equal(before, after) {
		t.Fatalf("READONLY changed the descriptor:\n%x\n%x", before, after)
	}
}
