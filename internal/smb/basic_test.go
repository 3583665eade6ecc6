package smb

import (
	"encoding/binary"
	"testing"
)

// TestChangeTimeSet: a change time set with FileBasicInformation is kept,
// and later attribute changes through the same open leave it alone.
func TestChangeTimeSet(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "f", access: rw | fileWriteAttributes | fileReadAttributes | accessDelete, share: shareAll, disp: dispCreate})
	basic := make([]byte, 40)
	for i := range 4 {
		binary.LittleEndian.PutUint64(basic[8*i:], 134400000000000000+uint64(i)*10000000)
	}
	binary.LittleEndian.PutUint32(basic[32:], attrReadonly)
	if st := c.setInfo(id, infoFile, classFileBasic, basic, 0); st != StatusSuccess {
		t.Fatal(st)
	}
	clear(basic)
	binary.LittleEndian.PutUint32(basic[32:], attrNormal)
	if st := c.setInfo(id, infoFile, classFileBasic, basic, 0); st != StatusSuccess {
		t.Fatal(st)
	}
	all, _ := c.queryInfo(id, infoFile, classFileAll, 1024, 0)
	for i := range 4 {
		if got, want := binary.LittleEndian.Uint64(all[8*i:]), 134400000000000000+uint64(i)*10000000; got != want {
			t.Errorf("time %d = %d, want %d", i, got, want)
		}
	}
	if binary.LittleEndian.Uint32(all[32:])&attrReadonly != 0 {
		t.Errorf("attributes %#x", binary.LittleEndian.Uint32(all[32:]))
	}
	// A link marked for deletion is not counted.
	if st := c.setInfo(id, infoFile, classFileDisposition, []byte{1}, 0); st != StatusSuccess {
		t.Fatal(st)
	}
	std, _ := c.queryInfo(id, infoFile, classFileStandard, 24, 0)
	if n := binary.LittleEndian.Uint32(std[16:]); n != 0 || std[20] != 1 {
		t.Errorf("links %d, delete pending %d; want 0 and 1", n, std[20])
	}
	// Create options Windows does not support.
	for _, opt := range []uint32{optCreateTreeConnection, 0x01000000} {
		want := StatusNotSupported
		if opt > 0x00ffffff {
			want = StatusInvalidParameter
		}
		if cr := c.create(createReq{name: "g", access: rw, share: shareAll, disp: dispOpenIf, options: opt}); cr.Status != want {
			t.Errorf("option %#x: %v, want %v", opt, cr.Status, want)
		}
	}
}

// TestAllocationSize: an allocation size given at creation or set is
// reported while the file is open, in whole clusters, and forgotten with
// its last close.
func TestAllocationSize(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	alloc := binary.LittleEndian.AppendUint64(nil, 1<<20)
	cr := c.create(createReq{name: "f", access: rw, share: shareAll, disp: dispOverwriteIf, contexts: ctxChain("AlSi", alloc)})
	if cr.Status != StatusSuccess || cr.Alloc != 1<<20 {
		t.Fatalf("create with AlSi: %v, alloc %d", cr.Status, cr.Alloc)
	}
	if st := c.setInfo(cr.ID, infoFile, classFileAllocation, binary.LittleEndian.AppendUint64(nil, 100), 0); st != StatusSuccess {
		t.Fatal(st)
	}
	std, _ := c.queryInfo(cr.ID, infoFile, classFileStandard, 24, 0)
	if n, size := binary.LittleEndian.Uint64(std), binary.LittleEndian.Uint64(std[8:]); n != fsAllocUnit || size != 0 {
		t.Fatalf("allocation %d size %d, want %d and 0", n, size, fsAllocUnit)
	}
	c.close(cr.ID)
	// An open that does not create ignores AlSi; the last close forgot it.
	cr = c.create(createReq{name: "f", access: rw, share: shareAll, disp: dispOpen, contexts: ctxChain("AlSi", alloc)})
	if cr.Status != StatusSuccess || cr.Alloc != 0 {
		t.Fatalf("open with AlSi: %v, alloc %d", cr.Status, cr.Alloc)
	}
	c.close(cr.ID)
	// Context tags shorter than four bytes are invalid.
	if cr := c.create(createReq{name: "f", access: rw, share: shareAll, disp: dispOpen, contexts: ctxChain("xyz", []byte{})}); cr.Status != StatusInvalidParameter {
		t.Fatalf("three-byte tag: %v", cr.Status)
	}
}

// TestDirectoryReadonly: a directory keeps READONLY as set, and its mode
// does not change.
func TestDirectoryReadonly(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	d := c.mustCreate(createReq{name: "d", access: fileGenericRead | fileWriteAttributes, share: shareAll, disp: dispCreate, options: optDirectory})
	basic := make([]byte, 40)
	binary.LittleEndian.PutUint32(basic[32:], attrReadonly|attrHidden)
	if st := c.setInfo(d, infoFile, classFileBasic, basic, 0); st != StatusSuccess {
		t.Fatal(st)
	}
	tag, _ := c.queryInfo(d, infoFile, classFileAttributeTag, 8, 0)
	if got := binary.LittleEndian.Uint32(tag); got != attrDirectory|attrReadonly|attrHidden {
		t.Fatalf("attributes %#x", got)
	}
	if a := rootLookup(t, e, "d"); a.Mode != 0o755 {
		t.Fatalf("mode %o", a.Mode)
	}
}
