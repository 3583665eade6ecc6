package smb

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
)

// rw is read and write access; all is every share mode.
const (
	rw       = fileGenericRead | fileGenericWrite
	shareAll = 7
)

func TestCreateDispositions(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	for _, tc := range []struct {
		disp   uint32
		exists bool
		status Status
		action uint32
	}{
		{dispOpen, false, StatusObjectNameNotFound, 0},
		{dispOpen, true, StatusSuccess, actionOpened},
		{dispCreate, false, StatusSuccess, actionCreated},
		{dispCreate, true, StatusObjectNameCollision, 0},
		{dispOpenIf, false, StatusSuccess, actionCreated},
		{dispOpenIf, true, StatusSuccess, actionOpened},
		{dispOverwrite, false, StatusObjectNameNotFound, 0},
		{dispOverwrite, true, StatusSuccess, actionOverwritten},
		{dispOverwriteIf, false, StatusSuccess, actionCreated},
		{dispOverwriteIf, true, StatusSuccess, actionOverwritten},
		{dispSupersede, false, StatusSuccess, actionCreated},
		{dispSupersede, true, StatusSuccess, actionSuperseded},
	} {
		name := "f"
		if tc.exists {
			id := c.mustCreate(createReq{name: name, access: rw, share: shareAll, disp: dispCreate})
			if st := c.write(id, 0, []byte("old contents")); st != StatusSuccess {
				t.Fatal(st)
			}
			c.close(id)
		}
		cr := c.create(createReq{name: name, access: rw | accessDelete, share: shareAll, disp: tc.disp, attrs: attrHidden})
		if cr.Status != tc.status || cr.Action != tc.action {
			t.Errorf("disposition %d, exists %v: %v action %d, want %v action %d", tc.disp, tc.exists, cr.Status, cr.Action, tc.status, tc.action)
		}
		if cr.Status == StatusSuccess {
			wantSize := uint64(12)
			if tc.action != actionOpened {
				wantSize = 0
			}
			if cr.Size != wantSize {
				t.Errorf("disposition %d, exists %v: size %d, want %d", tc.disp, tc.exists, cr.Size, wantSize)
			}
			if tc.action == actionCreated || tc.action == actionOverwritten || tc.action == actionSuperseded {
				if cr.Attrs != attrHidden|attrArchive {
					t.Errorf("disposition %d: attributes %#x, want HIDDEN|ARCHIVE", tc.disp, cr.Attrs)
				}
			}
			c.close(cr.ID)
		}
		// Clean up through the file system.
		e.fs.Remove(context.Background(), nil, e.root(), name)
	}
}

// root is the export's root handle.
func (e *env) root() fs.Handle {
	h, _, _ := e.fs.Share("export")
	return h
}

func TestCreateValidation(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	c.close(c.mustCreate(createReq{name: "file", access: rw, share: shareAll, disp: dispCreate}))
	c.close(c.mustCreate(createReq{name: "dir", access: fileGenericRead, share: shareAll, disp: dispCreate, options: optDirectory}))
	for _, tc := range []struct {
		what string
		q    createReq
		want Status
	}{
		{"directory and non-directory", createReq{name: "x", access: rw, disp: dispOpenIf, options: optDirectory | optNonDirectory}, StatusInvalidParameter},
		{"bad disposition", createReq{name: "x", access: rw, disp: 6}, StatusInvalidParameter},
		{"directory overwrite", createReq{name: "x", access: rw, disp: dispOverwriteIf, options: optDirectory}, StatusInvalidParameter},
		{"delete on close without DELETE", createReq{name: "x", access: rw, disp: dispOpenIf, options: optDeleteOnClose}, StatusInvalidParameter},
		{"no access", createReq{name: "x", disp: dispOpenIf}, StatusAccessDenied},
		{"reserved access bit", createReq{name: "x", access: 0x00000200, disp: dispOpenIf}, StatusAccessDenied},
		{"bad attribute", createReq{name: "x", access: rw, disp: dispOpenIf, attrs: 0x00100000}, StatusInvalidParameter},
		{"open by file id", createReq{name: "x", access: rw, disp: dispOpen, options: optOpenByFileID}, StatusNotSupported},
		{"leading backslash", createReq{name: `\file`, access: rw, disp: dispOpen}, StatusInvalidParameter},
		{"wildcard", createReq{name: "a*b", access: rw, disp: dispOpenIf}, StatusObjectNameInvalid},
		{"colon in a directory", createReq{name: `a:b\c`, access: rw, disp: dispOpenIf}, StatusObjectNameInvalid},
		{"missing named stream", createReq{name: "file:stream", access: rw, disp: dispOpen}, StatusObjectNameNotFound},
		{"stream of another type", createReq{name: "file:s:$INDEX_ALLOCATION", access: rw, disp: dispOpenIf}, StatusObjectNameInvalid},
		{"empty component", createReq{name: `dir\\file`, access: rw, disp: dispOpenIf}, StatusObjectNameInvalid},
		{"dot component", createReq{name: `dir\.\file`, access: rw, disp: dispOpen}, StatusObjectNameInvalid},
		{"above the root", createReq{name: `dir\..\..\file`, access: rw, disp: dispOpen}, StatusObjectPathSyntaxBad},
		{"missing directory", createReq{name: `nodir\file`, access: rw, disp: dispOpenIf}, StatusObjectPathNotFound},
		{"file as directory", createReq{name: `file\x`, access: rw, disp: dispOpenIf}, StatusObjectPathNotFound},
		{"directory wanted", createReq{name: "file", access: fileGenericRead, disp: dispOpen, options: optDirectory}, StatusNotADirectory},
		{"file wanted", createReq{name: "dir", access: fileGenericRead, disp: dispOpen, options: optNonDirectory}, StatusFileIsADirectory},
		{"directory overwritten", createReq{name: "dir", access: rw, disp: dispOverwrite}, StatusInvalidParameter},
		{"create existing directory", createReq{name: "dir", access: fileGenericRead, disp: dispCreate, options: optDirectory}, StatusObjectNameCollision},
		{"system security", createReq{name: "file", access: accessSystemSecurity, disp: dispOpen}, StatusPrivilegeNotHeld},
		{"delete the root", createReq{name: "", access: accessDelete, disp: dispOpen}, StatusAccessDenied},
		{"timewarp", createReq{name: "file", access: rw, disp: dispOpen, contexts: ctxChain("TWrp", make([]byte, 8))}, StatusObjectNameNotFound},
		{"durable reconnect", createReq{name: "file", access: rw, disp: dispOpen, contexts: ctxChain("DHnC", make([]byte, 16))}, StatusObjectNameNotFound},
		{"extended attributes", createReq{name: "file", access: rw, disp: dispOpen, contexts: ctxChain("ExtA", make([]byte, 12))}, StatusInvalidEAName},
		{"bad MxAc", createReq{name: "file", access: rw, disp: dispOpen, contexts: ctxChain("MxAc", make([]byte, 3))}, StatusInvalidParameter},
	} {
		if cr := c.create(tc.q); cr.Status != tc.want {
			t.Errorf("%s: %v, want %v", tc.what, cr.Status, tc.want)
			if cr.Status == StatusSuccess {
				c.close(cr.ID)
			}
		}
	}
	// The default stream names the file; a trailing backslash is allowed;
	// names are found without regard to case.
	for _, name := range []string{"file::$DATA", `dir\`, "FILE", "Dir", `dir\..\file`} {
		cr := c.create(createReq{name: name, access: fileGenericRead, share: shareAll, disp: dispOpen})
		if cr.Status != StatusSuccess {
			t.Errorf("%q: %v", name, cr.Status)
			continue
		}
		c.close(cr.ID)
	}
}

func TestCreateContexts(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	ctxs := ctxChain("MxAc", []byte{}, "QFid", []byte{}, "RqLs", make([]byte, 32), "DH2Q", make([]byte, 32))
	cr := c.create(createReq{name: "f", access: fileGenericRead, share: shareAll, disp: dispCreate, contexts: ctxs})
	if cr.Status != StatusSuccess {
		t.Fatal(cr.Status)
	}
	if len(cr.contexts) != 2 {
		t.Fatalf("response contexts %v, want MxAc and QFid only (no lease, no durable handle)", cr.contexts)
	}
	mx := cr.contexts["MxAc"]
	if len(mx) != 8 || binary.LittleEndian.Uint32(mx) != 0 {
		t.Fatalf("MxAc %x", mx)
	}
	// alice owns the new 0644 file in the 0777 root: everything.
	if got, want := binary.LittleEndian.Uint32(mx[4:]), uint32(fileAllAccess); got != want {
		t.Errorf("maximal access of the owner: %#x, want %#x", got, want)
	}
	_, a, _, err := e.fs.Lookup(context.Background(), nil, e.root(), "f")
	if err != nil {
		t.Fatal(err)
	}
	qf := cr.contexts["QFid"]
	if len(qf) != 32 || binary.LittleEndian.Uint64(qf) != a.FileID || binary.LittleEndian.Uint64(qf[8:]) != a.FSID {
		t.Errorf("QFid %x, want file %d on volume %d", qf, a.FileID, a.FSID)
	}
	c.close(cr.ID)

	// bob, in alice's group, on alice's 0644 file: read, no write, no
	// owner rights; the root is 0777, so he may delete.
	b := e.connectAs("bob", bobPass, "export")
	cr = b.create(createReq{name: "f", access: fileReadAttributes, share: shareAll, disp: dispOpen, contexts: ctxChain("MxAc", []byte{})})
	if cr.Status != StatusSuccess {
		t.Fatal(cr.Status)
	}
	want := uint32(readControl | synchronize | fileReadAttributes | fileReadEA | fileReadData | fileExecute | accessDelete)
	if got := binary.LittleEndian.Uint32(cr.contexts["MxAc"][4:]); got != want {
		t.Errorf("maximal access of the group: %#x, want %#x", got, want)
	}
	b.close(cr.ID)
	for _, tc := range []struct {
		access uint32
		want   Status
	}{
		{fileGenericRead, StatusSuccess},
		{fileGenericWrite, StatusAccessDenied},
		{writeDAC, StatusAccessDenied},
		{maximumAllowed, StatusSuccess},
		{genericAll, StatusAccessDenied},
		{genericRead | genericExecute, StatusSuccess},
	} {
		cr := b.create(createReq{name: "f", access: tc.access, share: shareAll, disp: dispOpen})
		if cr.Status != tc.want {
			t.Errorf("bob opens alice's file for %#x: %v, want %v", tc.access, cr.Status, tc.want)
		}
		if cr.Status == StatusSuccess {
			b.close(cr.ID)
		}
	}
	// A malformed chain.
	bad := ctxChain("MxAc", []byte{})
	binary.LittleEndian.PutUint16(bad[6:], 200)
	if cr := c.create(createReq{name: "f", access: fileGenericRead, disp: dispOpen, contexts: bad}); cr.Status != StatusInvalidParameter {
		t.Errorf("context name beyond the chain: %v", cr.Status)
	}
}

// connectAs is connect for another user.
func (e *env) connectAs(user, pass, share string) *raw {
	e.t.Helper()
	c := e.raw()
	c.negotiate21()
	if st := c.logon(user, pass); st != StatusSuccess {
		e.t.Fatalf("logon %s: %v", user, st)
	}
	r := c.call(CmdTreeConnect, treeConnectBody(`\\127.0.0.1\`+share), nil)
	if r.Status != StatusSuccess {
		e.t.Fatalf("TREE_CONNECT %s: %v", share, r.Status)
	}
	c.tree = r.TreeID
	return c
}

func TestCreateSharing(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	d := e.connect("export")
	first := c.mustCreate(createReq{name: "f", access: fileGenericRead, share: 1 /* read */, disp: dispCreate})
	for _, tc := range []struct {
		access, share uint32
		want          Status
	}{
		{fileGenericRead, shareAll, StatusSuccess},
		{fileGenericWrite, shareAll, StatusSharingViolation}, // the first denies write
		{fileGenericRead, 2, StatusSharingViolation},         // this one would deny the first's read
		{fileReadAttributes, 0, StatusSuccess},               // no data access: no conflict
		{accessDelete, shareAll, StatusSharingViolation},     // the first denies delete
	} {
		cr := d.create(createReq{name: "f", access: tc.access, share: tc.share, disp: dispOpen})
		if cr.Status != tc.want {
			t.Errorf("access %#x share %d against read/deny-write: %v, want %v", tc.access, tc.share, cr.Status, tc.want)
		}
		if cr.Status == StatusSuccess {
			d.close(cr.ID)
		}
	}
	// Overwriting is writing, whatever access the opener asks for.
	if cr := d.create(createReq{name: "f", access: fileReadData, share: shareAll, disp: dispOverwrite}); cr.Status != StatusSharingViolation {
		t.Errorf("overwrite of a file another open denies write: %v", cr.Status)
	}
	// The reservation is the lock manager's, so NFS sees it too.
	key := lockKey(t, e, "f")
	if _, denied := e.srv.locks().ShareDenies(key, 2); !denied {
		t.Error("the lock manager does not know the open denies write")
	}
	c.close(first)
	if _, denied := e.srv.locks().ShareDenies(key, 2); denied {
		t.Error("the reservation outlived the open")
	}
	if cr := d.create(createReq{name: "f", access: fileGenericWrite, share: shareAll, disp: dispOpen}); cr.Status != StatusSuccess {
		t.Errorf("after the close: %v", cr.Status)
	}
}

func TestDeleteOnClose(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	ctx := context.Background()
	exists := func(name string) bool {
		_, _, _, err := e.fs.Lookup(ctx, nil, e.root(), name)
		return err == nil
	}

	// Deleted with the last close, not before; new opens meanwhile are
	// told a delete is pending.
	keep := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate})
	del := c.mustCreate(createReq{name: "f", access: accessDelete, share: shareAll, disp: dispOpen, options: optDeleteOnClose})
	c.close(del)
	if !exists("f") {
		t.Fatal("deleted while still open")
	}
	if cr := c.create(openReq("f")); cr.Status != StatusDeletePending {
		t.Errorf("open while a delete is pending: %v", cr.Status)
	}
	q, st := c.queryInfo(keep, infoFile, classFileStandard, 24, 0)
	if st != StatusSuccess || q[20] != 1 {
		t.Errorf("FileStandardInformation.DeletePending: %x %v", q, st)
	}
	c.close(keep)
	if exists("f") {
		t.Fatal("not deleted by the last close")
	}

	// Disposition set and cleared.
	id := c.mustCreate(createReq{name: "g", access: rw | accessDelete, share: shareAll, disp: dispCreate})
	if st := c.setInfo(id, infoFile, classFileDisposition, []byte{1}, 0); st != StatusSuccess {
		t.Fatal(st)
	}
	if st := c.setInfo(id, infoFile, classFileDisposition, []byte{0}, 0); st != StatusSuccess {
		t.Fatal(st)
	}
	c.close(id)
	if !exists("g") {
		t.Fatal("deleted though the disposition was cleared")
	}
	// Without DELETE access, read-only, a full directory.
	id = c.mustCreate(openReq("g"))
	if st := c.setInfo(id, infoFile, classFileDisposition, []byte{1}, 0); st != StatusAccessDenied {
		t.Errorf("disposition without DELETE: %v", st)
	}
	c.close(id)
	c.close(c.mustCreate(createReq{name: "ro", access: rw, share: shareAll, disp: dispCreate, attrs: attrReadonly}))
	if cr := c.create(createReq{name: "ro", access: accessDelete, disp: dispOpen, options: optDeleteOnClose}); cr.Status != StatusCannotDelete {
		t.Errorf("delete on close of a read-only file: %v", cr.Status)
	}
	dir := c.mustCreate(createReq{name: "d", access: fileGenericRead | accessDelete, share: shareAll, disp: dispCreate, options: optDirectory})
	c.close(c.mustCreate(createReq{name: `d\x`, access: rw, share: shareAll, disp: dispCreate}))
	if st := c.setInfo(dir, infoFile, classFileDisposition, []byte{1}, 0); st != StatusDirectoryNotEmpty {
		t.Errorf("disposition of a full directory: %v", st)
	}
	// Delete on close of a full directory opens, and the close keeps it
	// (dirdelete_test.go).
	if cr := c.create(createReq{name: "d", access: accessDelete, share: shareAll, disp: dispOpen, options: optDeleteOnClose | optDirectory}); cr.Status != StatusSuccess {
		t.Errorf("delete on close of a full directory: %v", cr.Status)
	} else if st := c.close(cr.ID); st != StatusSuccess || !exists("d") {
		t.Errorf("close of a full directory's delete-on-close open: %v, exists %v", st, exists("d"))
	}
	x := c.mustCreate(createReq{name: `d\x`, access: accessDelete, share: shareAll, disp: dispOpen, options: optDeleteOnClose})
	c.close(x)
	if st := c.setInfo(dir, infoFile, classFileDisposition, []byte{1}, 0); st != StatusSuccess {
		t.Errorf("disposition of an emptied directory: %v", st)
	}
	c.close(dir)
	if exists("d") {
		t.Error("directory not deleted")
	}

	// A tree disconnect closes the opens, and deletes.
	c.mustCreate(createReq{name: "h", access: rw | accessDelete, share: shareAll, disp: dispCreate, options: optDeleteOnClose})
	if r := c.call(CmdTreeDisconnect, echoBody, nil); r.Status != StatusSuccess {
		t.Fatal(r.Status)
	}
	if exists("h") {
		t.Error("tree disconnect did not close the delete-on-close open")
	}
}

func TestCreateCompound(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	// CREATE, WRITE, QUERY_INFO and CLOSE of a new file in one frame, as
	// Windows and Linux clients send them.
	c.send(compound(
		c.msg(CmdCreate, createReq{name: "new", access: rw, share: shareAll, disp: dispCreate}.body(), nil),
		c.msg(CmdWrite, writeBody(relatedFileID, 0, []byte("compound"), 0), related),
		c.msg(CmdQueryInfo, queryInfoBody(relatedFileID, infoFile, classFileStandard, 24, 0), related),
		c.msg(CmdClose, closeBodyFlags(relatedFileID, closePostQueryAttrib), related),
	))
	rs := c.recv()
	if len(rs) != 4 {
		t.Fatalf("%d responses", len(rs))
	}
	for i, r := range rs {
		if r.Status != StatusSuccess {
			t.Fatalf("response %d (%v): %v", i, r.Command, r.Status)
		}
	}
	std := rs[2].msg[binary.LittleEndian.Uint16(rs[2].body[2:]):]
	if binary.LittleEndian.Uint64(std[8:]) != 8 {
		t.Errorf("size after the related write: %x", std[:24])
	}
	if binary.LittleEndian.Uint16(rs[3].body[2:]) != closePostQueryAttrib || binary.LittleEndian.Uint64(rs[3].body[48:]) != 8 {
		t.Errorf("CLOSE with attributes: %x", rs[3].body)
	}
	// A failed CREATE fails what follows it.
	c.send(compound(
		c.msg(CmdCreate, openReq("missing").body(), nil),
		c.msg(CmdQueryInfo, queryInfoBody(relatedFileID, infoFile, classFileBasic, 40, 0), related),
		c.msg(CmdClose, closeBody(relatedFileID), related),
	))
	rs = c.recv()
	for i, r := range rs {
		if r.Status != StatusObjectNameNotFound {
			t.Errorf("response %d after a failed CREATE: %v", i, r.Status)
		}
	}
	// Unknown FileIds.
	if st := c.close(FileID{1, 2}); st != StatusFileClosed {
		t.Errorf("CLOSE of an unknown FileId: %v", st)
	}
	if _, st := c.read(FileID{1, 2}, 0, 1); st != StatusFileClosed {
		t.Errorf("READ of an unknown FileId: %v", st)
	}
}

func closeBodyFlags(id FileID, flags uint16) []byte {
	b := closeBody(id)
	binary.LittleEndian.PutUint16(b[2:], flags)
	return b
}
