package lock

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var sampleRecords = []Record{
	{Kind: KindRange, File: FileKey{Share: 1, ID: 300}, Owner: NLMOwner("h", 5, []byte{0xaa}), Mode: Exclusive,
		Range: Range{Offset: 10}, Since: time.Unix(0, 1)},
	{Kind: KindRange, File: FileKey{Share: 1<<32 - 1, ID: max64}, Owner: SMBOwner("{5b1e...}", max64), Mode: Shared,
		Range: Range{Offset: max64, Length: 1}, Since: t0},
	{Kind: KindShare, File: fA, Owner: oX, Access: AccessRead | AccessDelete, ShareAccess: ShareRead, Since: t0.Add(-time.Hour)},
	{Kind: KindRange, File: fB, Owner: Owner{Proto: Local, Host: "tandem"}, Mode: Shared},
	{Kind: KindRange, File: fB, Owner: NLMOwner(strings.Repeat("h", MaxHostLen), 1<<32-1, bytes.Repeat([]byte{7}, MaxOHLen)), Mode: Shared,
		Range: Range{Length: max64}, Since: time.Unix(0, -5)},
	{Kind: KindCaching, File: fA, Owner: LeaseOwner("c1", [16]byte{1, 2}), Caching: CacheRead | CacheHandle,
		Lease: true, Epochs: true, Epoch: 65535, Opens: []uint64{7, max64}, Since: t0},
	{Kind: KindCaching, File: fB, Owner: SMBOwner("c2", 9), Caching: CacheRead | CacheWrite, Opens: []uint64{9}},
}

func TestRecordGolden(t *testing.T) {
	b, err := sampleRecords[0].MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	const want = "010101020000" + "01" + "ac02" + "0a" + "00" + "02" + "05" + "00" + "0168" + "01aa"
	if got := hex.EncodeToString(b); got != want {
		t.Fatalf("encoding %s, want %s", got, want)
	}
	var r Record
	if err := r.UnmarshalBinary(b); err != nil || r.Owner != sampleRecords[0].Owner || !r.Since.Equal(time.Unix(0, 1)) {
		t.Fatalf("decoded %+v, %v", r, err)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for i, r := range sampleRecords {
		b, _ := r.MarshalBinary()
		var got Record
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if !got.Since.Equal(r.Since) || got.Since.IsZero() != r.Since.IsZero() {
			t.Fatalf("%d: since %v, want %v", i, got.Since, r.Since)
		}
		got.Since, r.Since = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, r) {
			t.Fatalf("%d: %+v, want %+v", i, got, r)
		}
	}
	b := AppendRecords([]byte("prefix"), sampleRecords)
	recs, err := DecodeRecords(b[len("prefix"):])
	if err != nil || len(recs) != len(sampleRecords) {
		t.Fatalf("DecodeRecords: %d, %v", len(recs), err)
	}
	if !bytes.Equal(AppendRecords(nil, recs), b[len("prefix"):]) {
		t.Fatal("list re-encodes differently")
	}
	if recs, err := DecodeRecords([]byte{0}); err != nil || len(recs) != 0 {
		t.Fatalf("empty list: %v %v", recs, err)
	}
}

func TestRecordMalformed(t *testing.T) {
	good, _ := sampleRecords[0].MarshalBinary()
	with := func(i int, v byte) []byte {
		b := bytes.Clone(good)
		b[i] = v
		return b
	}
	share, _ := sampleRecords[2].MarshalBinary()
	longHost, _ := Record{Kind: KindRange, Owner: Owner{Proto: NLM, Host: strings.Repeat("h", MaxHostLen+1)}, Mode: Shared}.MarshalBinary()
	bigSvid := append([]byte{1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0}, 0x80, 0x80, 0x80, 0x80, 0x10, 0, 0, 0)
	tests := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short header", good[:5]},
		{"version", with(0, 2)},
		{"kind 0", with(1, 0)},
		{"caching kind", with(1, byte(KindCaching))},
		{"proto 0", with(2, 0)},
		{"proto 4", with(2, 4)},
		{"range without mode", with(3, 0)},
		{"range with mode 3", with(3, 3)},
		{"range with access", with(4, 1)},
		{"range with share access", with(5, 1)},
		{"share with mode", func() []byte { b := bytes.Clone(share); b[3] = 1; return b }()},
		{"share with access 8", func() []byte { b := bytes.Clone(share); b[4] = 8; return b }()},
		{"share with share access 9", func() []byte { b := bytes.Clone(share); b[5] = 9; return b }()},
		{"share with a range", func() []byte { r := sampleRecords[2]; r.Range.Offset = 1; b, _ := r.MarshalBinary(); return b }()},
		{"non-canonical varint", append(append(bytes.Clone(good[:6]), 0x81, 0x00), good[7:]...)},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"host too long", longHost},
		{"svid over 32 bits", bigSvid},
	}
	for _, tt := range tests {
		var r Record
		if err := r.UnmarshalBinary(tt.b); !errors.Is(err, ErrRecord) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	for name, b := range map[string][]byte{
		"huge count":      {0xff, 0xff, 0xff, 0xff, 0x0f},
		"length too long": {1, 100, 1},
		"bad record":      append([]byte{1, byte(len(good))}, with(0, 9)...),
		"trailing":        append(AppendRecords(nil, sampleRecords[:1]), 0),
		"short list":      AppendRecords(nil, sampleRecords[:2])[:20],
	} {
		if _, err := DecodeRecords(b); !errors.Is(err, ErrRecord) {
			t.Errorf("DecodeRecords %s: %v", name, err)
		}
	}
}

func TestFileKeyBinary(t *testing.T) {
	k := FileKey{Share: 0x01020304, ID: 0x05060708090a0b0c}
	b, _ := k.AppendBinary(nil)
	if hex.EncodeToString(b) != "0102030405060708090a0b0c" {
		t.Fatalf("key %x", b)
	}
	if got, ok := ParseFileKey(b); !ok || got != k {
		t.Fatalf("ParseFileKey = %v %v", got, ok)
	}
	if _, ok := ParseFileKey(b[1:]); ok {
		t.Fatal("short key parsed")
	}
}

func FuzzRecord(f *testing.F) {
	for _, r := range sampleRecords {
		b, _ := r.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{1, 1, 1, 1, 0, 0, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Record
		if r.UnmarshalBinary(b) != nil {
			return
		}
		again, err := r.MarshalBinary()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("%x re-encodes as %x", b, again)
		}
	})
}

func FuzzDecodeRecords(f *testing.F) {
	f.Add(AppendRecords(nil, sampleRecords))
	f.Add(AppendRecords(nil, sampleRecords[:1]))
	f.Add([]byte{0})
	f.Add([]byte{2, 3, 1, 1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := DecodeRecords(b)
		if err != nil {
			return
		}
		if again := AppendRecords(nil, recs); !bytes.Equal(again, b) {
			t.Fatalf("%x re-encodes as %x", b, again)
		}
		// A decoded list restores or is refused cleanly.
		m := New(Config{Now: func() time.Time { return t0 }})
		if m.Restore(recs) == nil {
			checkInvariants(t, m)
		}
	})
}
