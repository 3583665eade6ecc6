package memory

import (
	"bytes"
	"testing"

	"github.com/tandemfs/tandem/internal/content"
)

func TestPunchHole(t *testing.T) {
	s := New()
	var err error
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if rs, err := s.DataRanges(1, 0, 1<<22); err != nil || len(rs) != 0 {
		t.Fatalf("a file never written: %v %v", rs, err)
	}
	if err := s.PunchHole(1, 0, 1<<22); err != nil {
		t.Fatalf("punching a file never written: %v", err)
	}
	block := bytes.Repeat([]byte{7}, 65536)
	for _, off := range []int64{0, 1 << 22, 16 << 20} {
		if _, err := s.WriteAt(1, block, off); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := s.DataRanges(1, 0, 32<<20)
	want := rl(0, 65536, 1<<22, 65536, 16<<20, 65536)
	if err != nil || !equal(rs, want) {
		t.Fatalf("data ranges: %v %v, want %v", rs, err, want)
	}
	if rs, _ := s.DataRanges(1, 2048, 1<<22); !equal(rs, rl(2048, 63488, 1<<22, 2048)) {
		t.Errorf("data ranges cut by the asked range: %v", rs)
	}
	if err := s.PunchHole(1, 1<<22, 65536); err != nil {
		t.Fatal(err)
	}
	if rs, _ := s.DataRanges(1, 0, 32<<20); !equal(rs, rl(0, 65536, 16<<20, 65536)) {
		t.Errorf("after punching the middle block: %v", rs)
	}
	// A part of a block reads as zeros, the rest stays.
	if err := s.PunchHole(1, 100, 200); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 65536)
	s.ReadAt(1, got, 0)
	want0 := bytes.Clone(block)
	clear(want0[100:300])
	if !bytes.Equal(got, want0) {
		t.Error("a partly punched block reads wrong")
	}
	s.ReadAt(1, got, 1<<22)
	if !bytes.Equal(got, make([]byte, 65536)) {
		t.Error("a punched block does not read as zeros")
	}
}

func equal(a, b []content.Range) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// rl is a list of ranges given as offset, length pairs.
func rl(pairs ...int64) []content.Range {
	var out []content.Range
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, content.Range{Off: pairs[i], Len: pairs[i+1]})
	}
	return out
}
