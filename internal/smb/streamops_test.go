package smb

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// TestStreamDelete: a stream goes when its last open closes after
// FILE_DELETE_ON_CLOSE or a disposition set through it; its file stays.
func TestStreamDelete(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	f := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate})
	c.write(f, 0, []byte("data"))
	s := c.mustCreate(createReq{name: "f:x", access: rw | accessDelete, share: shareAll, disp: dispCreate, options: optDeleteOnClose})
	c.write(s, 0, []byte("stream"))
	second := c.mustCreate(createReq{name: "f:x", access: fileReadData, share: shareAll, disp: dispOpen})
	c.close(s)
	if b, st := c.read(second, 0, 100); st != StatusSuccess || string(b) != "stream" {
		t.Errorf("the stream's other open after the first closed: %q %v", b, st)
	}
	if cr := c.create(createReq{name: "f:x", access: fileReadData, share: shareAll, disp: dispOpen}); cr.Status != StatusDeletePending {
		t.Errorf("open of a stream being deleted: %v", cr.Status)
	}
	c.close(second)
	if cr := c.create(createReq{name: "f:x", access: fileReadData, share: shareAll, disp: dispOpen}); cr.Status != StatusObjectNameNotFound {
		t.Errorf("the stream after delete on close: %v", cr.Status)
	}
	if b, _ := c.read(f, 0, 100); string(b) != "data" {
		t.Errorf("the file after its stream went: %q", b)
	}

	s = c.mustCreate(createReq{name: "f:y", access: rw | accessDelete, share: shareAll, disp: dispCreate})
	if st := c.setInfo(s, infoFile, classFileDisposition, []byte{1}, 0); st != StatusSuccess {
		t.Fatalf("disposition of a stream: %v", st)
	}
	c.close(s)
	if cr := c.create(openReq("f:y")); cr.Status != StatusObjectNameNotFound {
		t.Errorf("the stream after its disposition: %v", cr.Status)
	}
	if cr := c.create(openReq("f")); cr.Status != StatusSuccess {
		t.Errorf("the file after its streams went: %v", cr.Status)
	}
}

// TestStreamRename: a stream is renamed within its file, onto another
// stream only if asked to replace it, or onto the file's data.
func TestStreamRename(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	c.close(c.mustCreate(createReq{name: "f:c", access: rw, share: shareAll, disp: dispCreate}))
	a := c.mustCreate(createReq{name: "f:a", access: rw | accessDelete, share: shareAll, disp: dispCreate})
	c.write(a, 0, []byte("AAA"))
	if st := c.setInfo(a, infoFile, classFileRename, renameInfo(":b", false), 0); st != StatusSuccess {
		t.Fatalf("rename :a to :b: %v", st)
	}
	if cr := c.create(openReq("f:a")); cr.Status != StatusObjectNameNotFound {
		t.Errorf("the old name: %v", cr.Status)
	}
	if b, st := c.read(a, 0, 10); st != StatusSuccess || string(b) != "AAA" {
		t.Errorf("read through the renamed open: %q %v", b, st)
	}
	b := c.mustCreate(openReq("f:b:$DATA"))
	if got, _ := c.read(b, 0, 10); string(got) != "AAA" {
		t.Errorf("the new name reads %q", got)
	}
	// The renamed open is the stream's: another open of it shares its
	// reservation, so the stream cannot be renamed while it has two.
	if st := c.setInfo(a, infoFile, classFileRename, renameInfo(":d", false), 0); st != StatusSharingViolation {
		t.Errorf("rename of a stream open twice: %v", st)
	}
	c.close(b)
	if st := c.setInfo(a, infoFile, classFileRename, renameInfo(":C:$DATA", false), 0); st != StatusObjectNameCollision {
		t.Errorf("rename onto an existing stream without replace: %v", st)
	}
	if st := c.setInfo(a, infoFile, classFileRename, renameInfo(":C:$DATA", true), 0); st != StatusSuccess {
		t.Errorf("rename onto an existing stream with replace: %v", st)
	}
	if cr := c.create(openReq("f:b")); cr.Status != StatusObjectNameNotFound {
		t.Errorf("the name before the replace: %v", cr.Status)
	}
	for _, tc := range []struct {
		name string
		want Status
	}{{"g", StatusInvalidParameter}, {`g:x`, StatusSharingViolation}, {":bad/name", StatusObjectNameInvalid}} {
		if st := c.setInfo(a, infoFile, classFileRename, renameInfo(tc.name, true), 0); st != tc.want {
			t.Errorf("rename of a stream to %q: %v, want %v", tc.name, st, tc.want)
		}
	}
	// Onto the file's data: only if it is empty or replace is asked.
	f := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispOpen})
	c.write(f, 0, []byte("data"))
	if st := c.setInfo(a, infoFile, classFileRename, renameInfo("::$DATA", false), 0); st != StatusObjectNameCollision {
		t.Errorf("rename onto the file's data without replace: %v", st)
	}
	if st := c.setInfo(a, infoFile, classFileRename, renameInfo("::$DATA", true), 0); st != StatusSuccess {
		t.Fatalf("rename onto the file's data: %v", st)
	}
	if got, _ := c.read(f, 0, 10); string(got) != "AAA" {
		t.Errorf("the file's data after a stream was renamed onto it: %q", got)
	}
	if cr := c.create(openReq("f:c")); cr.Status != StatusObjectNameNotFound {
		t.Errorf("the stream renamed onto the data: %v", cr.Status)
	}
}

// TestStreamDeniesFileDelete: an open of a stream without
// FILE_SHARE_DELETE keeps its file from being opened for deletion; with
// it, the file can be.
func TestStreamDeniesFileDelete(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	c.close(c.mustCreate(createReq{name: "g", access: rw, share: shareAll, disp: dispCreate}))
	s := c.mustCreate(createReq{name: "g:s", access: rw, share: 3, disp: dispCreate})
	if cr := c.create(createReq{name: "g", access: accessDelete, share: shareAll, disp: dispOpen}); cr.Status != StatusSharingViolation {
		t.Errorf("open for delete beside a stream that denies it: %v", cr.Status)
	}
	if cr := c.create(createReq{name: "g", access: fileReadData, share: shareAll, disp: dispOpen}); cr.Status != StatusSuccess {
		t.Errorf("open for reading beside it: %v", cr.Status)
	} else {
		c.close(cr.ID)
	}
	c.close(s)
	s = c.mustCreate(createReq{name: "g:s", access: rw, share: shareAll, disp: dispOpen})
	c.write(s, 0, []byte("kept"))
	d := c.create(createReq{name: "g", access: accessDelete, share: shareAll, disp: dispOpen, options: optDeleteOnClose})
	if d.Status != StatusSuccess {
		t.Fatalf("open for delete beside a stream that shares delete: %v", d.Status)
	}
	c.close(d.ID)
	// The file goes once the stream's open closes; until then it and its
	// streams are being deleted, and the open stream still reads.
	if b, st := c.read(s, 0, 10); st != StatusSuccess || string(b) != "kept" {
		t.Errorf("read of the open stream of a deleted file: %q %v", b, st)
	}
	for _, name := range []string{"g", "g:s"} {
		if cr := c.create(createReq{name: name, access: fileReadData, share: shareAll, disp: dispOpenIf}); cr.Status != StatusDeletePending {
			t.Errorf("open %q while its delete waits for the stream: %v", name, cr.Status)
		}
	}
	c.close(s)
	if cr := c.create(openReq("g")); cr.Status != StatusObjectNameNotFound {
		t.Errorf("the file after its stream's open closed: %v", cr.Status)
	}
}

// TestDataStreamOfDirectory: "dir::$DATA" names a data stream, which no
// directory is: NOT_A_DIRECTORY with FILE_DIRECTORY_FILE and
// FILE_IS_A_DIRECTORY without, before share modes are looked at.
func TestDataStreamOfDirectory(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	c.mustCreate(createReq{name: "d", access: fileGenericRead, share: 0, disp: dispCreate, options: optDirectory})
	if cr := c.create(createReq{name: "d::$DATA", access: fileWriteData, share: 0, disp: dispOpen, options: optDirectory}); cr.Status != StatusNotADirectory {
		t.Errorf("d::$DATA as a directory: %v", cr.Status)
	}
	if cr := c.create(createReq{name: "d::$DATA", access: fileWriteData, share: 0, disp: dispOpen}); cr.Status != StatusFileIsADirectory {
		t.Errorf("d::$DATA: %v", cr.Status)
	}
}

// TestCopychunkStreams: server-side copy from a file into a stream, from
// a stream into a file and between streams.
func TestCopychunkStreams(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	src := c.mustCreate(createReq{name: "src", access: rw, share: shareAll, disp: dispCreate})
	c.write(src, 0, []byte("0123456789"))
	chunk := func(key []byte, from, to, n uint64) []byte {
		b := append(bytes.Clone(key[:24]), 1, 0, 0, 0, 0, 0, 0, 0)
		b = binary.LittleEndian.AppendUint64(b, from)
		b = binary.LittleEndian.AppendUint64(b, to)
		return binary.LittleEndian.AppendUint64(b, n)
	}
	copyInto := func(from, to FileID, off, dst, n uint64) Status {
		key, st := c.ioctl(from, fsctlSrvRequestResumeKey, nil, 32)
		if st != StatusSuccess {
			t.Fatal(st)
		}
		_, st = c.ioctl(to, fsctlSrvCopychunkWrite, chunk(key, off, dst, n), 12)
		return st
	}
	s1 := c.mustCreate(createReq{name: "dst:one", access: rw, share: shareAll, disp: dispCreate})
	if st := copyInto(src, s1, 2, 1, 5); st != StatusSuccess {
		t.Fatalf("file to stream: %v", st)
	}
	if b, _ := c.read(s1, 0, 100); string(b) != "\x0023456" {
		t.Errorf("the stream after a copy into it: %q", b)
	}
	s2 := c.mustCreate(createReq{name: "dst:two", access: rw, share: shareAll, disp: dispCreate})
	if st := copyInto(s1, s2, 1, 0, 5); st != StatusSuccess {
		t.Fatalf("stream to stream: %v", st)
	}
	dst := c.mustCreate(createReq{name: "dst", access: rw, share: shareAll, disp: dispOpen})
	if st := copyInto(s2, dst, 0, 3, 5); st != StatusSuccess {
		t.Fatalf("stream to file: %v", st)
	}
	if b, _ := c.read(dst, 0, 100); string(b) != "\x00\x00\x0023456" {
		t.Errorf("the file after a copy from a stream: %q", b)
	}
	if st := copyInto(s2, dst, 3, 0, 5); st != StatusEndOfFile {
		t.Errorf("a chunk beyond the source stream's end: %v", st)
	}
	if b, _ := c.read(src, 0, 100); string(b) != "0123456789" {
		t.Errorf("the source file changed: %q", b)
	}
}
