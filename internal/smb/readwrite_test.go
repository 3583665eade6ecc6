package smb

import (
	"encoding/binary"
	"math"
	"testing"
)

// readMin is a READ with a MinimumCount.
func (c *raw) readMin(id FileID, off uint64, n, min uint32) ([]byte, Status) {
	c.t.Helper()
	b := readBody(id, off, n)
	binary.LittleEndian.PutUint32(b[32:], min)
	r := c.call(CmdRead, b, nil)
	if r.Status != StatusSuccess {
		return nil, r.Status
	}
	doff, dlen := r.body[2], binary.LittleEndian.Uint32(r.body[4:])
	return r.msg[doff : uint32(doff)+dlen], r.Status
}

func TestReadEndOfFile(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate})
	const size = 100
	if st := c.write(id, 0, make([]byte, size)); st != StatusSuccess {
		t.Fatal(st)
	}
	for _, tc := range []struct {
		off      uint64
		n, min   uint32
		want     Status
		wantRead int
	}{
		{0, 10, 1, StatusSuccess, 10},
		{size, 10, 0, StatusEndOfFile, 0},
		{size, 0, 0, StatusSuccess, 0},
		{size, 0, 1, StatusEndOfFile, 0}, // MinimumCount binds an empty read too
		{size - 1, 2, 0, StatusSuccess, 1},
		{size - 1, 1, 2, StatusEndOfFile, 0},
		{0, 1, 0x10000, StatusEndOfFile, 0},
		{0, 5, 10, StatusEndOfFile, 0},
		{math.MaxInt64 - 1, 1, 0, StatusEndOfFile, 0},
		{math.MaxInt64, 0, 0, StatusSuccess, 0},
		// Offsets are signed: past 2^63-1, or reaching past it, is invalid.
		{math.MaxInt64, 1, 0, StatusInvalidParameter, 0},
		{math.MaxInt64 + 1, 0, 0, StatusInvalidParameter, 0},
		{math.MaxUint64, 0, 0, StatusInvalidParameter, 0},
	} {
		data, st := c.readMin(id, tc.off, tc.n, tc.min)
		if st != tc.want || len(data) != tc.wantRead {
			t.Errorf("READ %d at %#x, minimum %d: %v, %d bytes; want %v, %d bytes", tc.n, tc.off, tc.min, st, len(data), tc.want, tc.wantRead)
		}
	}
}

func TestReadMovesPosition(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate})
	if st := c.write(id, 0, make([]byte, 100)); st != StatusSuccess {
		t.Fatal(st)
	}
	pos := func() uint64 {
		t.Helper()
		b, st := c.queryInfo(id, infoFile, classFilePosition, 8, 0)
		if st != StatusSuccess {
			t.Fatal(st)
		}
		return binary.LittleEndian.Uint64(b)
	}
	if p := pos(); p != 0 {
		t.Errorf("position after a write: %d, want 0", p)
	}
	if _, st := c.read(id, 20, 10); st != StatusSuccess {
		t.Fatal(st)
	}
	if p := pos(); p != 30 {
		t.Errorf("position after reading 10 bytes at 20: %d, want 30", p)
	}
	if _, st := c.read(id, 95, 10); st != StatusSuccess {
		t.Fatal(st)
	}
	if p := pos(); p != 100 {
		t.Errorf("position after a short read to the end: %d, want 100", p)
	}
	if _, st := c.read(id, 200, 10); st != StatusEndOfFile {
		t.Fatal(st)
	}
	if p := pos(); p != 100 {
		t.Errorf("a failed read moved the position to %d", p)
	}
}

func TestWriteOffsets(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate})
	one := []byte{1}
	for _, tc := range []struct {
		off  uint64
		data []byte
		want Status
	}{
		{math.MaxUint64, one, StatusInvalidParameter}, // not "the end of the file"
		{math.MaxUint64 - 1, one, StatusInvalidParameter},
		{1 << 63, one, StatusInvalidParameter},
		{1 << 63, nil, StatusInvalidParameter},
		{math.MaxInt64, nil, StatusSuccess},
		{math.MaxInt64, one, StatusInvalidParameter},
		{maxWriteEnd, one, StatusInvalidParameter},
		{maxWriteEnd, nil, StatusSuccess},
		{maxWriteEnd - 1, one, StatusSuccess},
	} {
		r := c.call(CmdWrite, writeBody(id, tc.off, tc.data, 0), nil)
		if r.Status != tc.want {
			t.Errorf("WRITE %d bytes at %#x: %v, want %v", len(tc.data), tc.off, r.Status, tc.want)
		}
	}
	if _, a := e.lookupAttr(t, "f"); a.Size != maxWriteEnd {
		t.Errorf("size %#x, want %#x", a.Size, uint64(maxWriteEnd))
	}
}

// A READ's buffer is reused from earlier responses without being cleared:
// bytes never written still read as zero, not as another file's data.
func TestReadOfHoleAfterReusedBuffer(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	const n = 64 << 10 // one credit's worth; its response takes a pooled buffer
	full := c.mustCreate(createReq{name: "full", access: rw, share: shareAll, disp: dispCreate})
	secret := make([]byte, n)
	for i := range secret {
		secret[i] = 0xa5
	}
	if st := c.write(full, 0, secret); st != StatusSuccess {
		t.Fatal(st)
	}
	sparse := c.mustCreate(createReq{name: "sparse", access: rw, share: shareAll, disp: dispCreate})
	if st := c.write(sparse, n-1, []byte{1}); st != StatusSuccess {
		t.Fatal(st)
	}
	for range 3 {
		if r := c.call(CmdRead, readBody(full, 0, n), nil); r.Status != StatusSuccess {
			t.Fatal(r.Status)
		}
		r := c.call(CmdRead, readBody(sparse, 0, n), nil)
		if r.Status != StatusSuccess {
			t.Fatal(r.Status)
		}
		doff, dlen := r.body[2], binary.LittleEndian.Uint32(r.body[4:])
		data := r.msg[doff : uint32(doff)+dlen]
		if len(data) != n || data[n-1] != 1 {
			t.Fatalf("read %d bytes ending in %d", len(data), data[len(data)-1])
		}
		for i, b := range data[:n-1] {
			if b != 0 {
				t.Fatalf("byte %d of the hole reads %#x", i, b)
			}
		}
	}
}
