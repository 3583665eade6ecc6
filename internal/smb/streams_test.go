package smb

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestNamedStreams(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	// A stream of a file that does not exist makes the file.
	s := c.mustCreate(createReq{name: "f:sTrEaM", access: rw | fileReadEA, share: shareAll, disp: dispOpenIf})
	if st := c.write(s, 0, []byte("hello")); st != StatusSuccess {
		t.Fatal(st)
	}
	if st := c.write(s, 10, []byte("!")); st != StatusSuccess {
		t.Fatal(st)
	}
	if got, st := c.read(s, 0, 100); st != StatusSuccess || !bytes.Equal(got, []byte("hello\x00\x00\x00\x00\x00!")) {
		t.Fatalf("stream read = %q, %v", got, st)
	}
	if got, st := c.read(s, 100, 10); st != StatusEndOfFile || len(got) != 0 {
		t.Fatalf("read past the end = %q, %v", got, st)
	}
	if got, _ := c.read(s, 3, 4); string(got) != "lo\x00\x00" {
		t.Fatalf("read inside = %q", got)
	}
	std, _ := c.queryInfo(s, infoFile, classFileStandard, 24, 0)
	if binary.LittleEndian.Uint64(std[8:]) != 11 {
		t.Fatalf("stream size %d", binary.LittleEndian.Uint64(std[8:]))
	}
	name, _ := c.queryInfo(s, infoFile, classFileName, 1024, 0)
	if want := utf16le(`\f:sTrEaM`); !bytes.Equal(name[4:], want) {
		t.Errorf("stream's name %q", name[4:])
	}
	// The normalized name is for SMB 3.1.1.
	if _, st := c.queryInfo(s, infoFile, classFileNormalizedName, 1024, 0); st != StatusNotSupported {
		t.Errorf("normalized name under 2.1: %v", st)
	}
	// Streams are not EAs; deleting a stream needs DELETE access.
	if _, st := c.queryInfo(s, infoFile, classFileFullEa, 1024, 0); st != StatusNoEASOnFile {
		t.Errorf("EAs of a file with a stream: %v", st)
	}
	if st := c.setInfo(s, infoFile, classFileDisposition, []byte{1}, 0); st != StatusAccessDenied {
		t.Errorf("disposition of a stream: %v", st)
	}
	// End of file of a stream.
	if st := c.setInfo(s, infoFile, classFileEndOfFile, binary.LittleEndian.AppendUint64(nil, 5), 0); st != StatusSuccess {
		t.Fatal(st)
	}
	c.close(s)

	// Found without regard to case; the file's data is apart.
	f := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispOpen})
	if got, _ := c.read(f, 0, 100); len(got) != 0 {
		t.Fatalf("file data %q", got)
	}
	c.write(f, 0, []byte("data"))
	s = c.mustCreate(createReq{name: "F:STREAM:$DATA", access: fileReadData | fileReadAttributes, share: shareAll, disp: dispOpen})
	if got, _ := c.read(s, 0, 100); string(got) != "hello" {
		t.Fatalf("stream after truncation %q", got)
	}
	name, _ = c.queryInfo(s, infoFile, classFileName, 1024, 0)
	if want := utf16le(`\f:sTrEaM`); !bytes.Equal(name[4:], want) {
		t.Errorf("stream's name as first spelled: %q", name[4:])
	}
	c.close(s)

	// The file lists its streams.
	streams, _ := c.queryInfo(f, infoFile, classFileStream, 4096, 0)
	want := make([]byte, 40)
	binary.LittleEndian.PutUint32(want, 40)
	binary.LittleEndian.PutUint32(want[4:], 14)
	binary.LittleEndian.PutUint64(want[8:], 4)
	binary.LittleEndian.PutUint64(want[16:], 4096)
	copy(want[24:], utf16le("::$DATA"))
	second := make([]byte, 24)
	binary.LittleEndian.PutUint32(second[4:], uint32(len(utf16le(":sTrEaM:$DATA"))))
	binary.LittleEndian.PutUint64(second[8:], 5)
	binary.LittleEndian.PutUint64(second[16:], 4096)
	want = append(append(want, second...), utf16le(":sTrEaM:$DATA")...)
	if !bytes.Equal(streams, want) {
		t.Fatalf("streams:\n got %x\nwant %x", streams, want)
	}
	c.close(f)

	for name, want := range map[string]Status{
		"f:other":        StatusObjectNameNotFound,
		"f:a\\b":         StatusObjectNameInvalid,
		"missing:stream": StatusObjectNameNotFound,
	} {
		if cr := c.create(createReq{name: name, access: rw, share: shareAll, disp: dispOpen}); cr.Status != want {
			t.Errorf("open %q: %v, want %v", name, cr.Status, want)
		}
	}
	if cr := c.create(createReq{name: "f:sTrEaM", access: rw, share: shareAll, disp: dispCreate}); cr.Status != StatusObjectNameCollision {
		t.Errorf("create an existing stream: %v", cr.Status)
	}
}
