package smb

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
)

// symlinkReply is a decoded symbolic link error response (MS-SMB2
// 2.2.2.2.1) or symbolic link reparse data (MS-FSCC 2.1.2.4).
type symlinkReply struct {
	unparsed          int
	substitute, print string
	flags             uint32
}

// decodeReparse decodes REPARSE_DATA_BUFFER of the symlink tag.
func decodeReparse(t *testing.T, b []byte) symlinkReply {
	t.Helper()
	if len(b) < 20 || binary.LittleEndian.Uint32(b) != reparseTagSymlink || int(binary.LittleEndian.Uint16(b[4:])) != len(b)-8 {
		t.Fatalf("reparse data %x", b)
	}
	return decodeSymlinkBody(t, b[8:], 0)
}

// decodeSymlinkBody decodes the offsets, lengths, flags and names common
// to both forms; b starts at SubstituteNameOffset.
func decodeSymlinkBody(t *testing.T, b []byte, unparsed int) symlinkReply {
	t.Helper()
	so, sl := binary.LittleEndian.Uint16(b), binary.LittleEndian.Uint16(b[2:])
	po, pl := binary.LittleEndian.Uint16(b[4:]), binary.LittleEndian.Uint16(b[6:])
	path := b[12:]
	if int(so)+int(sl) > len(path) || int(po)+int(pl) > len(path) {
		t.Fatalf("symlink names out of bounds: %x", b)
	}
	sub, err1 := fromUTF16le(path[so : so+sl])
	prn, err2 := fromUTF16le(path[po : po+pl])
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	return symlinkReply{unparsed: unparsed, substitute: sub, print: prn, flags: binary.LittleEndian.Uint32(b[8:])}
}

// stoppedOnSymlink opens name and decodes the symbolic link error it
// must meet (2.x: the error data is the response itself).
func stoppedOnSymlink(t *testing.T, c *raw, name string) symlinkReply {
	t.Helper()
	r := c.call(CmdCreate, openReq(name).body(), nil)
	if r.Status != StatusStoppedOnSymlink {
		t.Fatalf("%s: %v, want STATUS_STOPPED_ON_SYMLINK", name, r.Status)
	}
	if r.body[2] != 0 {
		t.Fatalf("%s: %d error contexts in a 2.1 response", name, r.body[2])
	}
	d := errorData(r)
	if len(d) < 28 || int(binary.LittleEndian.Uint32(d)) != len(d)-4 ||
		binary.LittleEndian.Uint32(d[4:]) != symlinkErrorTag || binary.LittleEndian.Uint32(d[8:]) != reparseTagSymlink ||
		int(binary.LittleEndian.Uint16(d[12:])) != len(d)-16 {
		t.Fatalf("%s: symlink error response %x", name, d)
	}
	return decodeSymlinkBody(t, d[16:], int(binary.LittleEndian.Uint16(d[14:])))
}

// A symbolic link made over NFS is a symbolic link to SMB clients, shown
// as Windows shows one: a CREATE that meets it stops with the link's
// target for the client to resolve, FILE_OPEN_REPARSE_POINT opens the link
// itself, whose reparse point FSCTL_GET_REPARSE_POINT reads, and listings
// and attributes carry the reparse point and its tag.
func TestSymlinksAsReparsePoints(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	ctx := context.Background()
	root := e.root()
	alice := &fs.Caller{UID: 1000, GID: 1000}
	d, _, _, err := e.fs.Mkdir(ctx, alice, root, "d", fs.SetAttr{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := e.fs.Create(ctx, alice, d, "target", fs.CreateHow{Mode: fs.Guarded}); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"rel": "d/target", "abs": "/etc/passwd", "todir": "d", "up": "../outside"} {
		if _, _, _, err := e.fs.Symlink(ctx, alice, root, name, target, fs.SetAttr{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		want symlinkReply
	}{
		{"rel", symlinkReply{0, `d\target`, `d\target`, symlinkFlagRelative}},
		{"abs", symlinkReply{0, `\etc\passwd`, `\etc\passwd`, 0}},
		{"up", symlinkReply{0, `..\outside`, `..\outside`, symlinkFlagRelative}},
		{`todir\target`, symlinkReply{len(`\target`) * 2, `d`, `d`, symlinkFlagRelative}},
		{`abs\x\y`, symlinkReply{len(`\x\y`) * 2, `\etc\passwd`, `\etc\passwd`, 0}},
	} {
		if got := stoppedOnSymlink(t, c, tc.name); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}

	// The link itself.
	link := c.create(createReq{name: "rel", access: fileReadAttributes, share: shareAll, disp: dispOpen, options: optOpenReparsePoint})
	if link.Status != StatusSuccess || link.Attrs&attrReparsePoint == 0 {
		t.Fatalf("the link itself: %v, attributes %#x", link.Status, link.Attrs)
	}
	out, st := c.ioctl(link.ID, fsctlGetReparsePoint, nil, 1024)
	if st != StatusSuccess {
		t.Fatalf("FSCTL_GET_REPARSE_POINT: %v", st)
	}
	if got := decodeReparse(t, out); got != (symlinkReply{0, `d\target`, `d\target`, symlinkFlagRelative}) {
		t.Errorf("reparse point: %+v", got)
	}
	if out, st := c.ioctl(link.ID, fsctlGetReparsePoint, nil, 16); st != StatusBufferOverflow || len(out) != 16 {
		t.Errorf("FSCTL_GET_REPARSE_POINT into 16 bytes: %v, %d bytes", st, len(out))
	}
	if _, st := c.ioctl(link.ID, fsctlGetReparsePoint, nil, 4); st != StatusBufferTooSmall {
		t.Errorf("FSCTL_GET_REPARSE_POINT into 4 bytes: %v", st)
	}
	b, st := c.queryInfo(link.ID, infoFile, classFileAttributeTag, 8, 0)
	if st != StatusSuccess || binary.LittleEndian.Uint32(b)&attrReparsePoint == 0 || binary.LittleEndian.Uint32(b[4:]) != reparseTagSymlink {
		t.Errorf("FileAttributeTagInformation: %v %x", st, b)
	}
	c.close(link.ID)

	f := c.mustCreate(createReq{name: `d\target`, access: rw, share: shareAll, disp: dispOpen})
	if _, st := c.ioctl(f, fsctlGetReparsePoint, nil, 1024); st != StatusNotAReparsePoint {
		t.Errorf("FSCTL_GET_REPARSE_POINT of a file: %v", st)
	}
	c.close(f)

	dir := c.mustCreate(createReq{name: "", access: fileGenericRead, share: shareAll, disp: dispOpen, options: optDirectory})
	for _, class := range []byte{classFileIDBothDirectory, classFileFullDirectory, classFileIDExtdDirectory} {
		es, st := c.queryDir(dir, class, queryRestartScans, "rel", 4096)
		if st != StatusSuccess || len(es) != 1 || es[0].attrs&attrReparsePoint == 0 {
			t.Fatalf("class %#x: listing of the link: %v %+v", class, st, es)
		}
		off := 64 // EaSize holds the tag
		if class == classFileIDExtdDirectory {
			off = 68 // ReparsePointTag
		}
		if tag := binary.LittleEndian.Uint32(es[0].raw[off:]); tag != reparseTagSymlink {
			t.Errorf("class %#x: reparse tag %#x", class, tag)
		}
	}
}

// reparseBuffer is REPARSE_DATA_BUFFER of the symlink tag.
func reparseBuffer(substitute, print string, flags uint32) []byte {
	s, p := utf16le(substitute), utf16le(print)
	b := make([]byte, 20, 20+len(s)+len(p))
	binary.LittleEndian.PutUint32(b, reparseTagSymlink)
	binary.LittleEndian.PutUint16(b[4:], uint16(12+len(s)+len(p)))
	binary.LittleEndian.PutUint16(b[10:], uint16(len(s)))
	binary.LittleEndian.PutUint16(b[12:], uint16(len(s)))
	binary.LittleEndian.PutUint16(b[14:], uint16(len(p)))
	binary.LittleEndian.PutUint32(b[16:], flags)
	return append(append(b, s...), p...)
}

// A symbolic link an SMB client makes (a new file or directory, then
// FSCTL_SET_REPARSE_POINT with the symlink tag, as mklink does) is a
// symbolic link to NFS clients, with the target the client gave.
func TestSetReparsePointMakesSymlink(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	ctx := context.Background()
	alice := &fs.Caller{UID: 1000, GID: 1000}
	readLink := func(name string) string {
		t.Helper()
		_, h, a, err := e.fs.LookupFold(ctx, alice, e.root(), name)
		if err != nil || a.Type != fs.TypeSymlink {
			t.Fatalf("%s over NFS: %v, type %v", name, err, a.Type)
		}
		target, _, err := e.fs.ReadLink(ctx, alice, h)
		if err != nil {
			t.Fatal(err)
		}
		return target
	}
	for _, tc := range []struct {
		name, substitute, print string
		flags                   uint32
		dir                     bool
		target                  string
	}{
		{"rel", `d\target`, `d\target`, symlinkFlagRelative, false, "d/target"},
		{"abs", `\srv\data`, `\srv\data`, 0, false, "/srv/data"},
		{"win", `\??\C:\Users\x`, `C:\Users\x`, 0, false, "C:/Users/x"},
		{"dirlink", `..\up`, `..\up`, symlinkFlagRelative, true, "../up"},
	} {
		q := createReq{name: tc.name, access: rw, share: shareAll, disp: dispCreate, options: optOpenReparsePoint}
		if tc.dir {
			q.access, q.options = fileGenericRead|fileWriteAttributes, q.options|optDirectory
		}
		id := c.mustCreate(q)
		if _, st := c.ioctl(id, fsctlSetReparsePoint, reparseBuffer(tc.substitute, tc.print, tc.flags), 0); st != StatusSuccess {
			t.Fatalf("%s: FSCTL_SET_REPARSE_POINT: %v", tc.name, st)
		}
		out, st := c.ioctl(id, fsctlGetReparsePoint, nil, 1024)
		if st != StatusSuccess {
			t.Fatalf("%s: FSCTL_GET_REPARSE_POINT after the set: %v", tc.name, st)
		}
		decodeReparse(t, out)
		c.close(id)
		if got := readLink(tc.name); got != tc.target {
			t.Errorf("%s: NFS target %q, want %q", tc.name, got, tc.target)
		}
		if got := stoppedOnSymlink(t, c, tc.name); got.flags != tc.flags {
			t.Errorf("%s: shown back as %+v", tc.name, got)
		}
	}
	if a, err := e.fs.GetAttr(ctx, e.root()); err != nil || a.Nlink != 2 {
		t.Errorf("the root's links after a directory became a link: %d %v", a.Nlink, err)
	}

	// What cannot become a link: a file with data, a directory with
	// entries; an open without write access may not; another tag, or a
	// buffer that lies about its length, is refused.
	id := c.mustCreate(createReq{name: "full", access: rw, share: shareAll, disp: dispCreate})
	c.write(id, 0, []byte("data"))
	if _, st := c.ioctl(id, fsctlSetReparsePoint, reparseBuffer("x", "x", symlinkFlagRelative), 0); st != StatusNotSupported {
		t.Errorf("a file with data: %v", st)
	}
	bad := reparseBuffer("x", "x", symlinkFlagRelative)
	binary.LittleEndian.PutUint16(bad[4:], 99)
	if _, st := c.ioctl(id, fsctlSetReparsePoint, bad, 0); st != StatusIOReparseDataInvalid {
		t.Errorf("a bad buffer: %v", st)
	}
	other := reparseBuffer("x", "x", 0)
	binary.LittleEndian.PutUint32(other, 0x80000017)
	if _, st := c.ioctl(id, fsctlSetReparsePoint, other, 0); st != StatusIOReparseTagNotHandled {
		t.Errorf("another tag: %v", st)
	}
	c.close(id)
	ro := c.mustCreate(createReq{name: "full", access: fileGenericRead, share: shareAll, disp: dispOpen})
	if _, st := c.ioctl(ro, fsctlSetReparsePoint, reparseBuffer("x", "x", symlinkFlagRelative), 0); st != StatusAccessDenied {
		t.Errorf("without write access: %v", st)
	}
	c.close(ro)
	dd := c.mustCreate(createReq{name: "dd", access: fileGenericRead | fileWriteAttributes, share: shareAll, disp: dispCreate, options: optDirectory})
	c.close(c.mustCreate(createReq{name: `dd\f`, access: rw, share: shareAll, disp: dispCreate}))
	if _, st := c.ioctl(dd, fsctlSetReparsePoint, reparseBuffer("x", "x", symlinkFlagRelative), 0); st != StatusDirectoryNotEmpty {
		t.Errorf("a directory with entries: %v", st)
	}
}

// From 3.1.1 the symbolic link error response travels in an error
// context (MS-SMB2 2.2.2.1) of ErrorId 0, 8-byte aligned.
func TestSymlinkErrorContext311(t *testing.T) {
	w := newResponse()
	symlinkError(w, Dialect311, &linkStop{target: "/abs", rest: []string{"x"}})
	b := w.Bytes()
	if w.Status != StatusStoppedOnSymlink || binary.LittleEndian.Uint16(b) != 9 || b[2] != 1 {
		t.Fatalf("error body %x", b)
	}
	n := binary.LittleEndian.Uint32(b[4:])
	ctx := b[8:]
	if int(n) != len(ctx) || n%8 != 0 {
		t.Fatalf("ByteCount %d for %d bytes", n, len(ctx))
	}
	l := binary.LittleEndian.Uint32(ctx)
	if binary.LittleEndian.Uint32(ctx[4:]) != 0 || int(l) > len(ctx)-8 {
		t.Fatalf("error context %x", ctx)
	}
	d := ctx[8 : 8+l]
	if binary.LittleEndian.Uint32(d[4:]) != symlinkErrorTag || int(binary.LittleEndian.Uint32(d)) != len(d)-4 {
		t.Fatalf("symlink error response %x", d)
	}
	if got := decodeSymlinkBody(t, d[16:], int(binary.LittleEndian.Uint16(d[14:]))); got != (symlinkReply{4, `\abs`, `\abs`, 0}) {
		t.Fatalf("%+v", got)
	}
}
