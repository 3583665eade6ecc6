package kv

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tandemfs/tandem/internal/meta"
)

func TestInodeRoundTrip(t *testing.T) {
	for _, ino := range []meta.Inode{
		{},
		{Type: meta.TypeRegular, Mode: 0o644, Nlink: 1, Size: 12345},
		{
			Gen: 1<<64 - 1, Type: meta.TypeSymlink, Mode: 0o7777, Nlink: 1<<32 - 1,
			UID: 1<<32 - 1, GID: 1<<32 - 1, Size: 1<<64 - 1, Major: 1<<32 - 1,
			Minor: 1<<32 - 1, Parent: 1<<64 - 1, Atime: -1 << 63, Mtime: 1<<63 - 1,
			Ctime: -1, Btime: 1, DOSAttrs: 1<<32 - 1,
			CreateVerf: [8]byte{0, 0, 0, 0, 0, 0, 0, 1}, Target: "x\x00y",
		},
	} {
		b := AppendInode(nil, &ino)
		var got meta.Inode
		got.Target = "stale"
		got.CreateVerf = [8]byte{9}
		if err := DecodeInode(b, &got); err != nil || got != ino {
			t.Fatalf("round trip of %+v = %+v, %v", ino, got, err)
		}
	}
}

// TestInodeFormat pins the encoding: records already on disk must keep
// decoding the same.
func TestInodeFormat(t *testing.T) {
	ino := meta.Inode{
		Gen: 1, Type: meta.TypeDir, Mode: 0o755, Nlink: 2, UID: 1000, GID: 100,
		Size: 4096, Parent: 16, Atime: 1, Mtime: 2, Ctime: 3, Btime: 4, DOSAttrs: 0x10,
	}
	want := []byte{
		1, 0, // version, flags
		1, 2, 0xed, 0x03, 2, 0xe8, 0x07, 100, 0x80, 0x20, 0, 0, 16, 0x10,
		1, 0, 0, 0, 0, 0, 0, 0,
		2, 0, 0, 0, 0, 0, 0, 0,
		3, 0, 0, 0, 0, 0, 0, 0,
		4, 0, 0, 0, 0, 0, 0, 0,
	}
	if got := AppendInode(nil, &ino); !bytes.Equal(got, want) {
		t.Fatalf("encoding = %x\nwant       %x", got, want)
	}
}

func TestDecodeInodeCorrupt(t *testing.T) {
	good := AppendInode(nil, &meta.Inode{CreateVerf: [8]byte{1}})
	for name, b := range map[string][]byte{
		"empty":       nil,
		"version":     append([]byte{2}, good[1:]...),
		"flags":       append([]byte{1, 0x80}, good[2:]...),
		"truncated":   good[:len(good)-1],
		"no verifier": good[:len(good)-8],
		"type range":  {1, 0, 0, 0x80, 0x02},
		"mode range":  {1, 0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x10},
	} {
		var ino meta.Inode
		if err := DecodeInode(b, &ino); err != ErrCorrupt {
			t.Errorf("%s: DecodeInode = %v, want ErrCorrupt", name, err)
		}
	}
}

func FuzzDecodeInode(f *testing.F) {
	f.Add(AppendInode(nil, &meta.Inode{}))
	f.Add(AppendInode(nil, &meta.Inode{Type: meta.TypeSymlink, Target: "t", CreateVerf: [8]byte{1}}))
	f.Add([]byte{1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var ino meta.Inode
		if DecodeInode(b, &ino) != nil {
			return
		}
		// Whatever decodes re-encodes to something that decodes the same.
		var again meta.Inode
		if err := DecodeInode(AppendInode(nil, &ino), &again); err != nil || again != ino {
			t.Fatalf("re-decode of %+v = %+v, %v", ino, again, err)
		}
	})
}

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a", "b"},
		{"a\xff", "b"},
		{"a\xfe\xff\xff", "a\xff"},
		{"\xff\xff", ""},
	} {
		got := prefixEnd(nil, []byte(c.in))
		if string(got) != c.want || (c.want == "" && got != nil) {
			t.Errorf("prefixEnd(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestKeysOrder(t *testing.T) {
	// A directory's cookie keys sort by cookie and sit before its counter
	// and names, and all of them before the next directory's.
	keys := [][]byte{
		cookieKey(nil, 1, 3),
		cookieKey(nil, 1, 256),
		dirKey(nil, 1, dirCounter),
		nameKey(nil, 1, ""),
		nameKey(nil, 1, "\xff"),
		cookieKey(nil, 2, 0),
	}
	for i := 1; i < len(keys); i++ {
		if bytes.Compare(keys[i-1], keys[i]) >= 0 {
			t.Fatalf("key %d %x not below key %d %x", i-1, keys[i-1], i, keys[i])
		}
	}
	if _, err := bucketKey(nil, string(make([]byte, 1<<16)), nil); err == nil {
		t.Fatal("oversized bucket name accepted")
	}
}

// memKV is a map-backed Reader for allocator tests; Range is unused.
type memKV map[string][]byte

func (m memKV) Get(key, dst []byte) ([]byte, error) {
	v, ok := m[string(key)]
	if !ok {
		return dst, meta.ErrNotFound
	}
	return append(dst, v...), nil
}

func (m memKV) Range(start, end []byte, fn func(k, v []byte) bool) error { return nil }

func TestIDs(t *testing.T) {
	store := memKV{}
	reserves := 0
	reserve := func(k, v []byte) error {
		reserves++
		store[string(k)] = append([]byte(nil), v...)
		return nil
	}
	a, err := NewIDs(store, reserve)
	if err != nil {
		t.Fatal(err)
	}
	for i := range uint64(IDBlock + 1) {
		id, err := a.Alloc()
		if err != nil || id != meta.FirstAllocID+i {
			t.Fatalf("Alloc %d = %d, %v", i, id, err)
		}
	}
	if reserves != 2 {
		t.Fatalf("%d reservations for %d ids, want 2", reserves, IDBlock+1)
	}
	// A restart (here: a new allocator over the same store) starts above
	// everything reserved, never inside the block in use.
	b, err := NewIDs(store, reserve)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := b.Alloc(); id != meta.FirstAllocID+2*IDBlock {
		t.Fatalf("first id after restart = %d, want %d", id, meta.FirstAllocID+2*IDBlock)
	}
	// A failed reservation hands out nothing.
	fail := errors.New("disk full")
	c, _ := NewIDs(memKV{}, func(k, v []byte) error { return fail })
	if _, err := c.Alloc(); err != fail {
		t.Fatalf("Alloc with failing reserve = %v", err)
	}
}
