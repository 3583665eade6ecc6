package smb

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
)

func notifyBody(id FileID, flags uint16, outLen, filter uint32) []byte {
	b := make([]byte, 8, 32)
	binary.LittleEndian.PutUint16(b, 32)
	binary.LittleEndian.PutUint16(b[2:], flags)
	binary.LittleEndian.PutUint32(b[4:], outLen)
	b = id.Append(b)
	b = binary.LittleEndian.AppendUint32(b, filter)
	return binary.LittleEndian.AppendUint32(b, 0)
}

// notifyEntry is one FILE_NOTIFY_INFORMATION, encoded as Windows does.
func notifyEntry(last bool, action uint32, name string) []byte {
	n := utf16le(name)
	size := (12 + len(n) + 3) &^ 3
	b := make([]byte, 12, size)
	if !last {
		binary.LittleEndian.PutUint32(b, uint32(size))
	}
	binary.LittleEndian.PutUint32(b[4:], action)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(n)))
	b = append(b, n...)
	return append(b, make([]byte, size-len(b))...)
}

// notifyOut checks a CHANGE_NOTIFY response body and returns its buffer.
func notifyOut(t *testing.T, r resp) []byte {
	t.Helper()
	b := r.body
	if len(b) < 9 || binary.LittleEndian.Uint16(b) != 9 || binary.LittleEndian.Uint16(b[2:]) != HeaderSize+8 {
		t.Fatalf("CHANGE_NOTIFY response body %x", b)
	}
	n := binary.LittleEndian.Uint32(b[4:])
	if int(n) > len(b)-8 {
		t.Fatalf("output length %d beyond the body %x", n, b)
	}
	return b[8 : 8+n]
}

// pend sends a CHANGE_NOTIFY that must go asynchronous and returns its
// interim response.
func (c *raw) pend(id FileID, flags uint16, filter uint32) resp {
	c.t.Helper()
	c.send(c.msg(CmdChangeNotify, notifyBody(id, flags, 1000, filter), func(h *Header) { h.Credits = 2 }))
	r := c.recv()[0]
	if r.Status != StatusPending || r.Flags&FlagAsync == 0 {
		c.t.Fatalf("CHANGE_NOTIFY: %v, want an interim response", r.Status)
	}
	return r
}

func mkdirReq(name string) createReq {
	return createReq{name: name, access: fileAllAccess, share: 7, disp: dispCreate, options: optDirectory}
}

func TestChangeNotify(t *testing.T) {
	e := newEnv(t, Options{})
	c1, c2 := e.connect("export"), e.connect("export")
	const names = notifyFileName | notifyDirName
	// The watcher reads the directory and shares everything, as Explorer
	// does: an open with DELETE access would block renames inside it.
	w := c1.mustCreate(createReq{name: "w", access: genericRead, share: 7, disp: dispCreate, options: optDirectory})

	// A change made by another client completes the waiting request.
	c1.pend(w, 0, names)
	c2.close(c2.mustCreate(createReq{name: `w\a.txt`, access: fileAllAccess, share: 7, disp: dispCreate}))
	r := c1.recv()[0]
	if r.Status != StatusSuccess || r.Flags&FlagAsync == 0 {
		t.Fatalf("final response: %v", r.Status)
	}
	if got, want := notifyOut(t, r), notifyEntry(true, actionAdded, "a.txt"); !bytes.Equal(got, want) {
		t.Fatalf("changes %x, want %x", got, want)
	}

	// Changes between requests are kept for the next one, which completes
	// at once; a rename's names come as a pair.
	f := c2.mustCreate(createReq{name: `w\a.txt`, access: fileAllAccess, share: 7, disp: dispOpen})
	if st := c2.setInfo(f, 1, 10, renameInfo(`w\b.txt`, false), 0); st != StatusSuccess {
		t.Fatalf("rename: %v", st)
	}
	c2.close(f)
	r = c1.call(CmdChangeNotify, notifyBody(w, 0, 1000, names), nil)
	want := append(notifyEntry(false, actionOldName, "a.txt"), notifyEntry(true, actionNewName, "b.txt")...)
	if got := notifyOut(t, r); r.Status != StatusSuccess || !bytes.Equal(got, want) {
		t.Fatalf("buffered changes: %v %x, want %x", r.Status, got, want)
	}

	// A change through the file system, as NFS makes it, completes it too.
	root, _, _ := e.fs.Share("export")
	alice := &fs.Caller{UID: 1000, GID: 1000}
	wh, _, _, err := e.fs.Lookup(context.Background(), alice, root, "w")
	if err != nil {
		t.Fatal(err)
	}
	c1.pend(w, 0, names)
	if _, _, _, err := e.fs.Mkdir(context.Background(), alice, wh, "nfsdir", fs.SetAttr{}); err != nil {
		t.Fatal(err)
	}
	r = c1.recv()[0]
	if got := notifyOut(t, r); r.Status != StatusSuccess || !bytes.Equal(got, notifyEntry(true, actionAdded, "nfsdir")) {
		t.Fatalf("change by NFS: %v %x", r.Status, got)
	}

	// CANCEL completes it with STATUS_CANCELLED.
	interim := c1.pend(w, 0, names)
	c1.send(c1.msg(CmdCancel, echoBody, func(h *Header) {
		h.MessageID, h.Flags, h.AsyncID = interim.MessageID, h.Flags|FlagAsync, interim.AsyncID
	}))
	if r = c1.recv()[0]; r.Status != StatusCancelled {
		t.Fatalf("cancelled: %v", r.Status)
	}

	// Closing the handle completes it with STATUS_NOTIFY_CLEANUP.
	c1.pend(w, 0, names)
	c1.send(c1.msg(CmdClose, closeBody(w), nil))
	got := map[Command]Status{}
	for range 2 {
		r := c1.recv()[0]
		got[r.Command] = r.Status
		if r.Command == CmdChangeNotify && len(notifyOut(t, r)) != 0 {
			t.Fatalf("cleanup with changes")
		}
	}
	if got[CmdChangeNotify] != StatusNotifyCleanup || got[CmdClose] != StatusSuccess {
		t.Fatalf("close with a waiting request: %v", got)
	}
}

func TestChangeNotifyTree(t *testing.T) {
	e := newEnv(t, Options{})
	c1, c2 := e.connect("export"), e.connect("export")
	c2.close(c2.mustCreate(mkdirReq("a")))
	c2.close(c2.mustCreate(mkdirReq(`a\b`)))
	top := c1.mustCreate(createReq{name: "a", access: fileListDirectory, share: 7, disp: dispOpen, options: optDirectory})
	c1.pend(top, notifyWatchTree, notifyDirName)
	c2.close(c2.mustCreate(mkdirReq(`a\b\c`)))
	r := c1.recv()[0]
	if got := notifyOut(t, r); r.Status != StatusSuccess || !bytes.Equal(got, notifyEntry(true, actionAdded, `b\c`)) {
		t.Fatalf("change below: %v %x", r.Status, got)
	}
	// An attribute change of a file is named by where it was opened.
	c1.close(top)
	top = c1.mustCreate(createReq{name: "a", access: fileListDirectory, share: 7, disp: dispOpen, options: optDirectory})
	c1.pend(top, notifyWatchTree, notifyAttributes)
	f := c2.mustCreate(createReq{name: `a\b\f`, access: fileAllAccess, share: 7, disp: dispCreate})
	basic := make([]byte, 40)
	binary.LittleEndian.PutUint32(basic[32:], attrHidden)
	if st := c2.setInfo(f, 1, 4, basic, 0); st != StatusSuccess {
		t.Fatalf("set attributes: %v", st)
	}
	r = c1.recv()[0]
	if got := notifyOut(t, r); r.Status != StatusSuccess || !bytes.Equal(got, notifyEntry(true, actionModified, `b\f`)) {
		t.Fatalf("attribute change: %v %x", r.Status, got)
	}
	c2.close(f)
}

func TestChangeNotifyErrors(t *testing.T) {
	e := newEnv(t, Options{})
	c1, c2 := e.connect("export"), e.connect("export")
	f := c1.mustCreate(createReq{name: "f", access: fileAllAccess, share: 7, disp: dispCreate})
	if r := c1.call(CmdChangeNotify, notifyBody(f, 0, 1000, notifyFileName), nil); r.Status != StatusInvalidParameter {
		t.Fatalf("on a file: %v", r.Status)
	}
	c1.close(c1.mustCreate(mkdirReq("d")))
	d := c1.mustCreate(createReq{name: "d", access: fileReadAttributes, share: 7, disp: dispOpen, options: optDirectory})
	if r := c1.call(CmdChangeNotify, notifyBody(d, 0, 1000, notifyFileName), nil); r.Status != StatusAccessDenied {
		t.Fatalf("without FILE_LIST_DIRECTORY: %v", r.Status)
	}
	if r := c1.call(CmdChangeNotify, notifyBody(FileID{1, 2}, 0, 1000, notifyFileName), nil); r.Status != StatusFileClosed {
		t.Fatalf("unknown handle: %v", r.Status)
	}

	// More changes than the request's buffer holds: STATUS_NOTIFY_ENUM_DIR.
	d = c1.mustCreate(createReq{name: "d", access: fileListDirectory, share: 7, disp: dispOpen, options: optDirectory})
	c1.pend(d, 0, notifyFileName)
	c2.close(c2.mustCreate(createReq{name: `d\x`, access: fileAllAccess, share: 7, disp: dispCreate}))
	c1.recv()
	for _, n := range []string{`d\longer-name-1`, `d\longer-name-2`} {
		c2.close(c2.mustCreate(createReq{name: n, access: fileAllAccess, share: 7, disp: dispCreate}))
	}
	r := c1.call(CmdChangeNotify, notifyBody(d, 0, 40, notifyFileName), nil)
	if r.Status != StatusNotifyEnumDir || len(notifyOut(t, r)) != 0 {
		t.Fatalf("overflow: %v", r.Status)
	}

	// A directory marked for deletion completes it with
	// STATUS_DELETE_PENDING.
	c1.close(c1.mustCreate(mkdirReq("e")))
	d = c1.mustCreate(createReq{name: "e", access: fileListDirectory, share: 7, disp: dispOpen, options: optDirectory})
	c1.pend(d, 0, notifyFileName)
	del := c2.mustCreate(createReq{name: "e", access: fileAllAccess | accessDelete, share: 7, disp: dispOpen, options: optDirectory})
	if st := c2.setInfo(del, 1, 13, []byte{1}, 0); st != StatusSuccess {
		t.Fatalf("delete pending: %v", st)
	}
	if r := c1.recv()[0]; r.Status != StatusDeletePending {
		t.Fatalf("directory deleted: %v", r.Status)
	}
}

// Logoff completes a waiting request with STATUS_NOTIFY_CLEANUP before
// the LOGOFF response.
func TestChangeNotifyLogoff(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	d := c.mustCreate(mkdirReq("d"))
	c.pend(d, 0, notifyFileName)
	c.send(c.msg(CmdLogoff, echoBody, nil))
	if r := c.recv()[0]; r.Command != CmdChangeNotify || r.Status != StatusNotifyCleanup {
		t.Fatalf("first response: %v %v", r.Command, r.Status)
	}
	if r := c.recv()[0]; r.Command != CmdLogoff || r.Status != StatusSuccess {
		t.Fatalf("logoff: %v", r.Status)
	}
}

// Only the last request of a compound may wait: one in the middle fails
// with STATUS_INTERNAL_ERROR and the rest is served.
func TestChangeNotifyInCompound(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	d := c.mustCreate(mkdirReq("d"))
	c.send(compound(c.msg(CmdChangeNotify, notifyBody(d, 0, 1000, notifyFileName), nil), c.msg(CmdEcho, echoBody, nil)))
	rs := c.recv()
	if len(rs) != 2 || rs[0].Status != StatusInternalError || rs[1].Status != StatusSuccess {
		t.Fatalf("compound: %+v", rs)
	}
	// Last in a related compound after CREATE, it waits on the new open.
	c.send(compound(c.msg(CmdCreate, createReq{name: "d", access: fileListDirectory, share: 7, disp: dispOpen, options: optDirectory}.body(), nil),
		c.msg(CmdChangeNotify, notifyBody(relatedFileID, 0, 1000, notifyFileName), related)))
	rs = c.recv()
	if len(rs) != 2 || rs[0].Status != StatusSuccess || rs[1].Status != StatusPending {
		t.Fatalf("CREATE and CHANGE_NOTIFY: %+v", rs)
	}
}

// A watched directory removed through the file system (by NFS) ends the
// waiting request with STATUS_DELETE_PENDING.
func TestChangeNotifyDirRemovedByNFS(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	c.close(c.mustCreate(mkdirReq("d")))
	d := c.mustCreate(createReq{name: "d", access: fileListDirectory, share: 7, disp: dispOpen, options: optDirectory})
	c.pend(d, 0, notifyFileName)
	root, _, _ := e.fs.Share("export")
	if _, err := e.fs.Rmdir(context.Background(), &fs.Caller{UID: 1000, GID: 1000}, root, "d"); err != nil {
		t.Fatal(err)
	}
	if r := c.recv()[0]; r.Status != StatusDeletePending {
		t.Fatalf("directory removed: %v", r.Status)
	}
}

// TestChangeNotifyNFSModify: a change through the file system (an NFS
// WRITE or SETATTR) to a file no SMB client has open is reported as
// Windows reports another opener's change: FILE_ACTION_MODIFIED with the
// file's name, to watches whose filter has the bits it changed (last
// write and size for a write, attributes for a mode), in the watched
// directory and in a tree; after an NFS rename, under its new name.
func TestChangeNotifyNFSModify(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	ctx := context.Background()
	alice := &fs.Caller{UID: 1000, GID: 1000}
	root, _, _ := e.fs.Share("export")
	a, _, _, err := e.fs.Mkdir(ctx, alice, root, "a", fs.SetAttr{})
	if err != nil {
		t.Fatal(err)
	}
	b, _, _, err := e.fs.Mkdir(ctx, alice, a, "b", fs.SetAttr{})
	if err != nil {
		t.Fatal(err)
	}
	f, _, _, err := e.fs.Create(ctx, alice, b, "f", fs.CreateHow{Mode: fs.Guarded})
	if err != nil {
		t.Fatal(err)
	}
	w := c.mustCreate(createReq{name: `a\b`, access: fileListDirectory, share: 7, disp: dispOpen, options: optDirectory})
	tree := c.mustCreate(createReq{name: "a", access: fileListDirectory, share: 7, disp: dispOpen, options: optDirectory})

	c.pend(w, 0, notifyLastWrite|notifySize)
	if _, _, _, err := e.fs.Write(ctx, alice, f, 0, []byte("data"), fs.Unstable); err != nil {
		t.Fatal(err)
	}
	r := c.recv()[0]
	if got := notifyOut(t, r); r.Status != StatusSuccess || !bytes.Equal(got, notifyEntry(true, actionModified, "f")) {
		t.Fatalf("NFS write: %v %x", r.Status, got)
	}

	c.pend(tree, notifyWatchTree, notifyAttributes)
	if _, err := e.fs.SetAttr(ctx, alice, f, fs.SetAttr{Mask: fs.SetMode, Mode: 0o600}, nil); err != nil {
		t.Fatal(err)
	}
	r = c.recv()[0]
	if got := notifyOut(t, r); r.Status != StatusSuccess || !bytes.Equal(got, notifyEntry(true, actionModified, `b\f`)) {
		t.Fatalf("NFS chmod below a tree watch: %v %x", r.Status, got)
	}

	if _, _, err := e.fs.Rename(ctx, alice, b, "f", b, "g"); err != nil {
		t.Fatal(err)
	}
	c.pend(w, 0, notifyLastWrite|notifySize) // the watch's filter has no names: the rename is not reported
	if _, _, _, err := e.fs.Write(ctx, alice, f, 4, []byte("more"), fs.Unstable); err != nil {
		t.Fatal(err)
	}
	r = c.recv()[0]
	if got := notifyOut(t, r); r.Status != StatusSuccess || !bytes.Equal(got, notifyEntry(true, actionModified, "g")) {
		t.Fatalf("NFS write after an NFS rename: %v %x", r.Status, got)
	}
}
