package nfs3

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

var testAttr = fs.Attr{
	Type: typeRegular, Mode: 0100644, Nlink: 2, UID: 1000, GID: 100,
	Size: 0x0102030405060708, Used: 4096, Major: 8, Minor: 1,
	FSID: 0x1122334455667788, FileID: 42,
	Atime: 1700000000*1e9 + 1, Mtime: 1700000001*1e9 + 2, Ctime: -1, // ctime just before the epoch
}

const testAttrHex = "00000001" + "000001a4" + "00000002" + "000003e8" + "00000064" +
	"0102030405060708" + "0000000000001000" + "00000008" + "00000001" +
	"1122334455667788" + "000000000000002a" +
	"6553f100" + "00000001" + "6553f101" + "00000002" + "ffffffff" + "3b9ac9ff"

func TestFattr3(t *testing.T) {
	w := xdr.NewWriter(nil)
	writeFattr3(w, &testAttr)
	if got := hex.EncodeToString(w.Bytes()); got != testAttrHex {
		t.Fatalf("fattr3\n got %s\nwant %s", got, testAttrHex)
	}
}

func TestPostOpAttrAndWcc(t *testing.T) {
	w := xdr.NewWriter(nil)
	writePostOpAttr(w, &fs.Attr{})
	if hex.EncodeToString(w.Bytes()) != "00000000" {
		t.Errorf("absent post_op_attr: %x", w.Bytes())
	}
	w.Reset()
	writePostOpAttr(w, &testAttr)
	if hex.EncodeToString(w.Bytes()) != "00000001"+testAttrHex {
		t.Errorf("post_op_attr: %x", w.Bytes())
	}

	w.Reset()
	writeWcc(w, &fs.Wcc{})
	if hex.EncodeToString(w.Bytes()) != "0000000000000000" {
		t.Errorf("empty wcc: %x", w.Bytes())
	}
	w.Reset()
	writeWcc(w, &fs.Wcc{HavePre: true, Pre: fs.WccAttr{Size: 5, Mtime: 3e9 + 4, Ctime: 5e9 + 6}, HavePost: true, Post: testAttr})
	want := "00000001" + "0000000000000005" + "00000003" + "00000004" + "00000005" + "00000006" + "00000001" + testAttrHex
	if got := hex.EncodeToString(w.Bytes()); got != want {
		t.Errorf("wcc\n got %s\nwant %s", got, want)
	}
}

func TestFinishDeferred(t *testing.T) {
	// The writer already holds an RPC header; offsets are relative to it.
	prefix := []byte("RPCHDR..")
	for _, withAttr := range []bool{true, false} {
		w := xdr.NewWriter(nil)
		w.FixedOpaque(prefix)
		start := reserveDeferred(w)
		w.Uint32(0xAABBCCDD)
		w.Uint32(0x11223344)
		a := fs.Attr{}
		if withAttr {
			a = testAttr
		}
		finishDeferred(w, start, &a)
		want := hex.EncodeToString(prefix) + "00000000"
		if withAttr {
			want += "00000001" + testAttrHex
		} else {
			want += "00000000"
		}
		want += "aabbccdd11223344"
		if got := hex.EncodeToString(w.Bytes()); got != want {
			t.Errorf("attr %v\n got %s\nwant %s", withAttr, got, want)
		}
	}
}

func TestPostOpFHAbsent(t *testing.T) {
	w := xdr.NewWriter(nil)
	writePostOpFH(w, fs.Handle{})
	if !bytes.Equal(w.Bytes(), []byte{0, 0, 0, 0}) {
		t.Errorf("%x", w.Bytes())
	}
}
