package smb

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// eaList encodes FILE_FULL_EA_INFORMATION entries from name, value pairs.
func eaList(pairs ...string) []byte {
	var b []byte
	last := -1
	for i := 0; i < len(pairs); i += 2 {
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		if last >= 0 {
			binary.LittleEndian.PutUint32(b[last:], uint32(len(b)-last))
		}
		last = len(b)
		name, value := pairs[i], pairs[i+1]
		b = append(b, 0, 0, 0, 0, 0, byte(len(name)))
		b = binary.LittleEndian.AppendUint16(b, uint16(len(value)))
		b = append(append(append(b, name...), 0), value...)
	}
	return b
}

func TestExtendedAttributes(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "f", access: rw | fileReadEA | fileWriteEA, share: shareAll, disp: dispCreate,
		contexts: ctxChain("ExtA", eaList("EaOne", "VALUE1", "second", "ValueTwo"))})

	// Names come back in upper case, in name order, the last entry
	// without padding.
	want := eaList("EAONE", "VALUE1", "SECOND", "ValueTwo")
	got, st := c.queryInfo(id, infoFile, classFileFullEa, 1024, 0)
	if st != StatusSuccess || !bytes.Equal(got, want) {
		t.Fatalf("EAs = %x, %v\nwant   %x", got, st, want)
	}
	size, _ := c.queryInfo(id, infoFile, classFileEa, 4, 0)
	if n := binary.LittleEndian.Uint32(size); n != 20+24 {
		t.Fatalf("EaSize = %d, want 44", n)
	}
	all, _ := c.queryInfo(id, infoFile, classFileAll, 1024, 0)
	if n := binary.LittleEndian.Uint32(all[72:]); n != 44 {
		t.Fatalf("FileAllInformation EaSize = %d, want 44", n)
	}

	// A zero-length value removes; names match without regard to case.
	if st := c.setInfo(id, infoFile, classFileFullEa, eaList("eaone", "", "third", "3"), 0); st != StatusSuccess {
		t.Fatalf("set EAs: %v", st)
	}
	got, _ = c.queryInfo(id, infoFile, classFileFullEa, 1024, 0)
	if want := eaList("SECOND", "ValueTwo", "THIRD", "3"); !bytes.Equal(got, want) {
		t.Fatalf("EAs after set = %x\nwant %x", got, want)
	}
	// Asking for EAs by name: those, in that order, a missing one empty.
	ask := []byte{12, 0, 0, 0, 5}
	ask = append(ask, "third\x00\x00"...)
	ask = append(ask, 0, 0, 0, 0, 4)
	ask = append(ask, "NONE\x00"...)
	body := append(queryInfoBody(id, infoFile, classFileFullEa, 1024, 0)[:40], ask...)
	binary.LittleEndian.PutUint16(body[8:], HeaderSize+40)
	binary.LittleEndian.PutUint32(body[12:], uint32(len(ask)))
	resp := c.call(CmdQueryInfo, body, nil)
	off, n := binary.LittleEndian.Uint16(resp.body[2:]), binary.LittleEndian.Uint32(resp.body[4:])
	if want := eaList("THIRD", "3", "NONE", ""); resp.Status != StatusSuccess || !bytes.Equal(resp.msg[off:uint32(off)+n], want) {
		t.Fatalf("EAs by name = %x, %v\nwant %x", resp.msg[off:uint32(off)+n], resp.Status, want)
	}
	// A buffer too small for the list cuts it.
	if _, st := c.queryInfo(id, infoFile, classFileFullEa, 10, 0); st != StatusBufferOverflow {
		t.Fatalf("small buffer: %v", st)
	}
	for what, tc := range map[string]struct {
		buf  []byte
		want Status
	}{
		"bad name":  {eaList("a*b", "x"), StatusInvalidEAName},
		"truncated": {eaList("abc", "xyz")[:10], StatusEAListInconsistent},
		"bad flag":  {append([]byte{0, 0, 0, 0, 1}, eaList("a", "b")[5:]...), StatusInvalidEAFlag},
	} {
		if st := c.setInfo(id, infoFile, classFileFullEa, tc.buf, 0); st != tc.want {
			t.Errorf("%s: %v, want %v", what, st, tc.want)
		}
	}
	c.close(id)

	// Without FILE_WRITE_EA or FILE_READ_EA the open may not.
	id = c.mustCreate(createReq{name: "f", access: fileReadAttributes, share: shareAll, disp: dispOpen})
	if st := c.setInfo(id, infoFile, classFileFullEa, eaList("x", "y"), 0); st != StatusAccessDenied {
		t.Errorf("set without WRITE_EA: %v", st)
	}
	if _, st := c.queryInfo(id, infoFile, classFileFullEa, 1024, 0); st != StatusAccessDenied {
		t.Errorf("query without READ_EA: %v", st)
	}
	// EaSize needs no access.
	if _, st := c.queryInfo(id, infoFile, classFileEa, 4, 0); st != StatusSuccess {
		t.Errorf("EaSize: %v", st)
	}
	c.close(id)

	// A file without EAs.
	id = c.mustCreate(createReq{name: "g", access: rw | fileReadEA, share: shareAll, disp: dispCreate})
	if _, st := c.queryInfo(id, infoFile, classFileFullEa, 1024, 0); st != StatusNoEASOnFile {
		t.Errorf("no EAs: %v", st)
	}
	c.close(id)
}

// TestQueryInfoSizes checks STATUS_INFO_LENGTH_MISMATCH below a class's
// structure size and STATUS_BUFFER_OVERFLOW between it and the whole
// answer.
func TestQueryInfoSizes(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "bufsize.txt", access: rw, share: shareAll, disp: dispCreate})
	root := c.mustCreate(createReq{name: "", access: fileReadAttributes, share: shareAll, disp: dispOpen})
	for _, tc := range []struct {
		typ, class byte
		fixed      int
	}{
		{infoFilesystem, classFsVolume, 24},
		{infoFilesystem, classFsAttribute, 16},
		{infoFilesystem, classFsSize, 24},
		{infoFile, classFileAll, 104},
		{infoFile, classFileStream, 32},
		{infoFile, classFileAlternateName, 8},
		{infoFile, classFileName, 8},
	} {
		h := id
		if tc.typ == infoFilesystem {
			h = root
		}
		full, st := c.queryInfo(h, tc.typ, tc.class, 65535, 0)
		if st != StatusSuccess {
			t.Fatalf("%d/%d: %v", tc.typ, tc.class, st)
		}
		for n := 0; n <= len(full); n++ {
			want := StatusSuccess
			switch {
			case n < tc.fixed:
				want = StatusInfoLengthMismatch
			case n < len(full):
				want = StatusBufferOverflow
			}
			if _, st := c.queryInfo(h, tc.typ, tc.class, uint32(n), 0); st != want {
				t.Errorf("%d/%d with %d of %d bytes: %v, want %v", tc.typ, tc.class, n, len(full), st, want)
			}
		}
	}
}

// TestQueryInfoAccess checks that only the classes of times and
// attributes need FILE_READ_ATTRIBUTES.
func TestQueryInfoAccess(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	c.close(c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate}))
	id := c.mustCreate(createReq{name: "f", access: synchronize, share: shareAll, disp: dispOpen})
	for _, class := range []byte{classFileStandard, classFileInternal, classFileEa, classFileAccess, classFileName,
		classFilePosition, classFileMode, classFileAlignment, classFileAlternateName, classFileStream, classFileCompression} {
		if _, st := c.queryInfo(id, infoFile, class, 1024, 0); st != StatusSuccess {
			t.Errorf("class %d: %v", class, st)
		}
	}
	for _, class := range []byte{classFileBasic, classFileAll, classFileNetworkOpen, classFileAttributeTag} {
		if _, st := c.queryInfo(id, infoFile, class, 1024, 0); st != StatusAccessDenied {
			t.Errorf("class %d without READ_ATTRIBUTES: %v", class, st)
		}
	}
}
