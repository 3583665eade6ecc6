package nfs3

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// The encoders below are a test client's side of the argument types.

type clientSattr struct {
	mode, uid, gid *uint32
	size           *uint64
	atimeHow       uint32
	atime          [2]uint32
	mtimeHow       uint32
	mtime          [2]uint32
}

func encSattr(w *xdr.Writer, s clientSattr) {
	opt32 := func(p *uint32) {
		w.Bool(p != nil)
		if p != nil {
			w.Uint32(*p)
		}
	}
	opt32(s.mode)
	opt32(s.uid)
	opt32(s.gid)
	w.Bool(s.size != nil)
	if s.size != nil {
		w.Uint64(*s.size)
	}
	w.Uint32(s.atimeHow)
	if s.atimeHow == setToClientTime {
		w.Uint32(s.atime[0])
		w.Uint32(s.atime[1])
	}
	w.Uint32(s.mtimeHow)
	if s.mtimeHow == setToClientTime {
		w.Uint32(s.mtime[0])
		w.Uint32(s.mtime[1])
	}
}

func u32(v uint32) *uint32 { return &v }
func u64(v uint64) *uint64 { return &v }

var testFH = []byte("0123456789abcdefghijklmn") // 24 bytes, the length of fs handles

func TestDecodeSattr(t *testing.T) {
	w := xdr.NewWriter(nil)
	encSattr(w, clientSattr{
		mode: u32(0100755), uid: u32(1000), gid: u32(100), size: u64(1 << 40),
		atimeHow: setToClientTime, atime: [2]uint32{1700000000, 5},
		mtimeHow: setToServerTime,
	})
	r := xdr.NewReader(w.Bytes())
	var sa fs.SetAttr
	decodeSattr(r, &sa)
	if r.Err() != nil || r.Remaining() != 0 {
		t.Fatalf("err %v, %d left", r.Err(), r.Remaining())
	}
	want := fs.SetAttr{
		Mask: fs.SetMode | fs.SetUID | fs.SetGID | fs.SetSize | fs.SetAtime | fs.SetMtimeNow,
		Mode: 0755, UID: 1000, GID: 100, Size: 1 << 40,
		Atime: 1700000000*1e9 + 5,
	}
	if sa != want {
		t.Fatalf("got %+v, want %+v", sa, want)
	}

	w.Reset()
	encSattr(w, clientSattr{mtimeHow: setToClientTime, mtime: [2]uint32{0xFFFFFFFF, 999999999}})
	r = xdr.NewReader(w.Bytes())
	sa = fs.SetAttr{}
	decodeSattr(r, &sa)
	if r.Err() != nil || sa.Mask != fs.SetMtime || sa.Mtime != 0xFFFFFFFF*1e9+999999999 {
		t.Fatalf("unsigned seconds: %+v %v", sa, r.Err())
	}
}

func TestDecodeSattrBad(t *testing.T) {
	for name, enc := range map[string]func(w *xdr.Writer){
		"bool 2":   func(w *xdr.Writer) { w.Uint32(2) },
		"time_how": func(w *xdr.Writer) { encSattr(w, clientSattr{atimeHow: 3}) },
		"nsec":     func(w *xdr.Writer) { encSattr(w, clientSattr{atimeHow: 2, atime: [2]uint32{1, 1e9}}) },
		"short":    func(w *xdr.Writer) { w.Uint32(1) },
	} {
		w := xdr.NewWriter(nil)
		enc(w)
		r := xdr.NewReader(w.Bytes())
		var sa fs.SetAttr
		decodeSattr(r, &sa)
		if r.Err() == nil {
			t.Errorf("%s: decoded %+v", name, sa)
		}
	}
}

func TestDecodeArgs(t *testing.T) {
	w := xdr.NewWriter(nil)

	// SETATTR with a guard.
	w.Opaque(testFH)
	encSattr(w, clientSattr{size: u64(0)})
	w.Bool(true)
	w.Uint32(10)
	w.Uint32(20)
	var sa setattrArgs
	sa.decode(xdr.NewReader(w.Bytes()))
	if !bytes.Equal(sa.fh, testFH) || sa.attr.Mask != fs.SetSize || !sa.guard || sa.guardCtime != 10e9+20 {
		t.Errorf("setattr: %+v", sa)
	}

	// WRITE.
	w.Reset()
	w.Opaque(testFH)
	w.Uint64(1 << 33)
	w.Uint32(5)
	w.Uint32(uint32(fs.DataSync))
	w.Opaque([]byte("hello"))
	var wa writeArgs
	r := xdr.NewReader(w.Bytes())
	wa.decode(r)
	if r.Err() != nil || wa.offset != 1<<33 || wa.count != 5 || wa.stable != fs.DataSync || string(wa.data) != "hello" {
		t.Errorf("write: %+v %v", wa, r.Err())
	}

	// CREATE, all three modes.
	for _, mode := range []fs.CreateMode{fs.Unchecked, fs.Guarded, fs.Exclusive} {
		w.Reset()
		w.Opaque(testFH)
		w.String("name")
		w.Uint32(uint32(mode))
		if mode == fs.Exclusive {
			w.FixedOpaque([]byte("verifier"))
		} else {
			encSattr(w, clientSattr{mode: u32(0640)})
		}
		var ca createArgs
		r := xdr.NewReader(w.Bytes())
		ca.decode(r)
		if r.Err() != nil || r.Remaining() != 0 || ca.where.name != "name" || ca.how.Mode != mode {
			t.Errorf("create %d: %+v %v", mode, ca, r.Err())
		}
		if mode == fs.Exclusive && string(ca.how.Verf[:]) != "verifier" {
			t.Errorf("verf %q", ca.how.Verf)
		}
		if mode != fs.Exclusive && (ca.how.Attr.Mask != fs.SetMode || ca.how.Attr.Mode != 0640) {
			t.Errorf("create attr %+v", ca.how.Attr)
		}
	}

	// MKNOD: a device, a FIFO and a regular file (no arm: BADTYPE).
	w.Reset()
	w.Opaque(testFH)
	w.String("dev")
	w.Uint32(uint32(typeChar))
	encSattr(w, clientSattr{})
	w.Uint32(8)
	w.Uint32(1)
	var ma mknodArgs
	r = xdr.NewReader(w.Bytes())
	ma.decode(r)
	if r.Err() != nil || ma.badType || ma.typ != typeChar || ma.major != 8 || ma.minor != 1 {
		t.Errorf("mknod chr: %+v", ma)
	}
	w.Reset()
	w.Opaque(testFH)
	w.String("fifo")
	w.Uint32(uint32(typeFIFO))
	encSattr(w, clientSattr{mode: u32(0600)})
	ma = mknodArgs{}
	r = xdr.NewReader(w.Bytes())
	ma.decode(r)
	if r.Err() != nil || r.Remaining() != 0 || ma.typ != typeFIFO || ma.attr.Mode != 0600 {
		t.Errorf("mknod fifo: %+v", ma)
	}
	for _, typ := range []fs.FileType{typeRegular, typeDir, typeSymlink, 0, 99} {
		w.Reset()
		w.Opaque(testFH)
		w.String("x")
		w.Uint32(uint32(typ))
		ma = mknodArgs{}
		r = xdr.NewReader(w.Bytes())
		ma.decode(r)
		if r.Err() != nil || !ma.badType {
			t.Errorf("mknod type %d: %+v", typ, ma)
		}
	}

	// READDIRPLUS.
	w.Reset()
	w.Opaque(testFH)
	w.Uint64(7)
	w.Uint64(0x0102030405060708)
	w.Uint32(100)
	w.Uint32(200)
	var ra readdirArgs
	ra.decode(xdr.NewReader(w.Bytes()), true)
	if ra.cookie != 7 || ra.verf != 0x0102030405060708 || ra.dircount != 100 || ra.maxcount != 200 {
		t.Errorf("readdirplus: %+v", ra)
	}
}

func TestDecodeBounds(t *testing.T) {
	// A handle over FHSIZE3 is not an nfs_fh3.
	w := xdr.NewWriter(nil)
	w.Opaque(make([]byte, 65))
	r := xdr.NewReader(w.Bytes())
	decodeFH(r)
	if !errors.Is(r.Err(), xdr.ErrTooLong) {
		t.Errorf("fh 65: %v", r.Err())
	}
	// A name of 1024 bytes decodes (fs answers NAMETOOLONG); 1025 does not.
	for n, ok := range map[int]bool{1024: true, 1025: false} {
		w.Reset()
		w.Opaque(testFH)
		w.String(string(bytes.Repeat([]byte{'a'}, n)))
		var a diropArgs
		r := xdr.NewReader(w.Bytes())
		a.decode(r)
		if (r.Err() == nil) != ok {
			t.Errorf("name %d: %v", n, r.Err())
		}
	}
	// stable_how 3 and createmode3 3 are not values.
	w.Reset()
	w.Opaque(testFH)
	w.Uint64(0)
	w.Uint32(0)
	w.Uint32(3)
	w.Opaque(nil)
	var wa writeArgs
	r = xdr.NewReader(w.Bytes())
	wa.decode(r)
	if r.Err() == nil {
		t.Error("stable_how 3 decoded")
	}
	w.Reset()
	w.Opaque(testFH)
	w.String("n")
	w.Uint32(3)
	var ca createArgs
	r = xdr.NewReader(w.Bytes())
	ca.decode(r)
	if r.Err() == nil {
		t.Error("createmode 3 decoded")
	}
}

func TestParseFHLength(t *testing.T) {
	for _, n := range []int{0, 23, 25, 64} {
		if _, err := parseFH(make([]byte, n)); err != fs.ErrBadHandle {
			t.Errorf("len %d: %v", n, err)
		}
	}
}
