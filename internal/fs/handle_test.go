package fs

import (
	"bytes"
	"testing"
)

func TestHandleWireForm(t *testing.T) {
	h := Handle{Share: 0x01020304, ID: 0x1112131415161718, Gen: 0x2122232425262728}
	want := []byte{1, 0, 0, 0, 1, 2, 3, 4,
		0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
		0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28}
	b := h.Bytes()
	if !bytes.Equal(b, want) || len(b) != HandleSize {
		t.Fatalf("Bytes = %x, want %x", b, want)
	}
	if got := h.Append([]byte{9}); !bytes.Equal(got, append([]byte{9}, want...)) {
		t.Fatalf("Append = %x", got)
	}
	p, err := ParseHandle(b)
	if err != nil || p != h {
		t.Fatalf("ParseHandle = %+v, %v", p, err)
	}
}

func TestParseHandleRejects(t *testing.T) {
	good := Handle{Share: 1, ID: 16, Gen: 1<<32 | 7}.Bytes()
	mut := func(i int, v byte) []byte {
		b := bytes.Clone(good)
		b[i] = v
		return b
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"short":     good[:23],
		"long":      append(bytes.Clone(good), 0),
		"version 0": mut(0, 0),
		"version 2": mut(0, 2),
		"padding":   mut(2, 1),
		"share 0":   Handle{Share: 0, ID: 16, Gen: 7}.Bytes(),
	} {
		if _, err := ParseHandle(b); err != ErrBadHandle {
			t.Errorf("%s: %v, want ErrBadHandle", name, err)
		}
	}
}

func FuzzParseHandle(f *testing.F) {
	f.Add(Handle{Share: 1, ID: 16, Gen: 1<<32 | 7}.Bytes())
	f.Add([]byte{})
	f.Add(make([]byte, HandleSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHandle(b)
		if err != nil {
			if err != ErrBadHandle {
				t.Fatalf("error %v", err)
			}
			return
		}
		if !bytes.Equal(h.Bytes(), b) {
			t.Fatalf("round trip %x -> %+v -> %x", b, h, h.Bytes())
		}
	})
}
