package smb

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
)

var sampleDurables = []DurableOpen{
	{
		Persistent: 0x1800000000000123, Volatile: 0xdeadbeef00000123,
		Client: "00112233445566778899aabbccddeeff", CreateGuid: [16]byte{1, 2, 3}, V2: true, Timeout: time.Minute,
		User: "alice", UID: 1000, GID: 1000, Groups: []uint32{4, 27, 1000}, Addr: netip.MustParseAddr("192.0.2.7"),
		Share: "export", File: fs.Handle{Share: 1, ID: 42, Gen: 3}, Dir: fs.Handle{Share: 1, ID: 1, Gen: 1},
		Name: "f.txt", Path: `dir\f.txt`, Access: 0x0012019f, ShareAccess: 7, Mode: optWriteThrough,
		Lease: true, LeaseKey: [16]byte{0xaa}, LeaseV2: true, ParentSet: true, ParentKey: [16]byte{0xbb},
		Caching: lock.CacheRead | lock.CacheHandle, Epoch: 3,
	},
	{
		Persistent: 7, Volatile: 7, Client: "192.0.2.8/12", Timeout: 16 * time.Minute,
		User: "bob", UID: 1001, GID: 100, Addr: netip.MustParseAddr("2001:db8::1"),
		Share: "export", File: fs.Handle{Share: 1, ID: 43}, Name: "g", Path: "g",
		Access: 0x001f01ff, DeleteOnClose: true, Caching: lock.CacheRead | lock.CacheWrite | lock.CacheHandle,
	},
	{Persistent: 1, Timeout: 1, Anonymous: true, Lease: true, LeaseKey: [16]byte{1}},
}

func TestDurableOpenBinary(t *testing.T) {
	for i, d := range sampleDurables {
		b, err := d.MarshalBinary()
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		var back DurableOpen
		if err := back.UnmarshalBinary(b); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if !reflect.DeepEqual(back, d) {
			t.Fatalf("%d: round trip\n%+v\n%+v", i, back, d)
		}
		// Every truncation and every trailing byte is refused.
		for n := range len(b) {
			if back.UnmarshalBinary(b[:n]) == nil {
				t.Errorf("%d: %d of %d bytes decoded", i, n, len(b))
			}
		}
		if back.UnmarshalBinary(append(bytes.Clone(b), 0)) == nil {
			t.Errorf("%d: a trailing byte decoded", i)
		}
	}
	b, _ := sampleDurables[1].MarshalBinary()
	for _, tc := range []struct {
		what string
		mod  func([]byte) []byte
	}{
		{"version", func(b []byte) []byte { b[0] = 2; return b }},
		{"unknown flag", func(b []byte) []byte { b[1] |= 0x80; return b }},
		{"lease v2 without a lease", func(b []byte) []byte { b[1] |= durFlagLeaseV2; return b }},
		{"caching", func(b []byte) []byte { b[2] = 8; return b }},
		{"persistent id 0", func(b []byte) []byte { b[3] = 0; return b }},
		{"non-canonical varint", func(b []byte) []byte { return append(append(b[:3:3], 0x87, 0x00), b[4:]...) }},
	} {
		if err := new(DurableOpen).UnmarshalBinary(tc.mod(bytes.Clone(b))); !errors.Is(err, ErrDurableRecord) {
			t.Errorf("%s: %v", tc.what, err)
		}
	}
	for _, bad := range []DurableOpen{
		{Timeout: 1},                               // no persistent id
		{Persistent: 1},                            // no timeout
		{Persistent: 1, Timeout: 1, Caching: 8},    // caching
		{Persistent: 1, Timeout: 1, LeaseV2: true}, // v2 lease without a lease
		{Persistent: 1, Timeout: 1, CreateGuid: [16]byte{1}},
		{Persistent: 1, Timeout: 1, Lease: true, Epoch: 1},
		{Persistent: 1, Timeout: 1, Path: string(make([]byte, maxRecordPath+1))},
	} {
		if _, err := bad.MarshalBinary(); err == nil {
			t.Errorf("%+v encoded", bad)
		}
	}
}

func FuzzDurableOpen(f *testing.F) {
	for _, d := range sampleDurables {
		b, _ := d.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{durableVersion, 0, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var d DurableOpen
		if d.UnmarshalBinary(b) != nil {
			return
		}
		again, err := d.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("%x re-encodes as %x (%v)", b, again, err)
		}
	})
}
