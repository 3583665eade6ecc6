package contenttest

import (
	"bytes"
	"testing"

	"github.com/tandemfs/tandem/internal/content"
)

// RunHoles checks a store that implements content.Puncher and
// content.Mapper: punched ranges read as zeros and drop out of the data
// ranges, which are reported in units of grain (the store's allocation
// unit: a file system block, a memory chunk). open returns a new, empty
// store; RunHoles closes it.
func RunHoles(t *testing.T, open func(t *testing.T) content.Store, grain int64) {
	s := open(t)
	defer s.Close()
	p, ok := s.(content.Puncher)
	if !ok {
		t.Fatalf("%T does not punch holes", s)
	}
	m, ok := s.(content.Mapper)
	if !ok {
		t.Fatalf("%T does not map its data", s)
	}
	near, far, end := 256*grain, 1024*grain, 2048*grain
	if rs, err := m.DataRanges(1, 0, near); err != nil || len(rs) != 0 {
		t.Fatalf("a file never written: %v %v", rs, err)
	}
	if err := p.PunchHole(1, 0, near); err != nil {
		t.Fatalf("punching a file never written: %v", err)
	}
	block := bytes.Repeat([]byte{7}, int(grain))
	for _, off := range []int64{0, near, far} {
		if _, err := s.WriteAt(1, block, off); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := m.DataRanges(1, 0, end)
	want := rl(0, grain, near, grain, far, grain)
	if err != nil || !equalRanges(rs, want) {
		t.Fatalf("data ranges: %v %v, want %v", rs, err, want)
	}
	if rs, _ := m.DataRanges(1, 2048, near); !equalRanges(rs, rl(2048, grain-2048, near, 2048)) {
		t.Errorf("data ranges cut by the asked range: %v", rs)
	}
	if err := p.PunchHole(1, near, grain); err != nil {
		t.Fatal(err)
	}
	if rs, _ := m.DataRanges(1, 0, end); !equalRanges(rs, rl(0, grain, far, grain)) {
		t.Errorf("after punching the middle block: %v", rs)
	}
	// A part of a block reads as zeros, the rest stays.
	if err := p.PunchHole(1, 100, 200); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, grain)
	s.ReadAt(1, got, 0)
	want0 := bytes.Clone(block)
	clear(want0[100:300])
	if !bytes.Equal(got, want0) {
		t.Error("a partly punched block reads wrong")
	}
	s.ReadAt(1, got, near)
	if !bytes.Equal(got, make([]byte, grain)) {
		t.Error("a punched block does not read as zeros")
	}
}

func equalRanges(a, b []content.Range) bool {
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
