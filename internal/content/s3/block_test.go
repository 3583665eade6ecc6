package s3

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestBlockModel checks the buffered block against a plain byte slice:
// random writes over a base, cuts, merges and reads.
func TestBlockModel(t *testing.T) {
	const limit = 1 << 12
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 500 {
		base := make([]byte, rng.IntN(limit+1))
		for i := range base {
			base[i] = byte(rng.Uint32()) | 1
		}
		model := make([]byte, limit)
		copy(model, base)
		b := &block{}
		if len(base) > 0 {
			b.base = &ref{length: uint32(len(base))}
		}
		for range 1 + rng.IntN(8) {
			switch rng.IntN(4) {
			case 0, 1:
				off := rng.IntN(limit)
				p := make([]byte, rng.IntN(limit-off)+1)
				for i := range p {
					p[i] = byte(rng.Uint32())
				}
				b.write(p, off, limit)
				copy(model[off:], p)
			case 2:
				n := rng.IntN(limit + 1)
				b.cut(n)
				clear(model[n:])
				base = base[:min(len(base), n)]
			case 3:
				if !b.complete() {
					b.merge(base[:b.base.length], limit)
				}
			}
		}
		if !b.complete() {
			b.merge(base[:b.base.length], limit)
		}
		got := make([]byte, limit)
		for i := range got {
			got[i] = 0xee
		}
		b.read(got, 0)
		if !bytes.Equal(got, model) {
			t.Fatalf("round %d: block differs from the model", round)
		}
	}
}

func TestSpans(t *testing.T) {
	var s []span
	for _, x := range []span{{10, 20}, {30, 40}, {0, 5}, {20, 30}, {5, 6}, {50, 50}} {
		s = addSpan(s, x)
	}
	want := []span{{0, 6}, {10, 40}}
	if len(s) != len(want) || s[0] != want[0] || s[1] != want[1] {
		t.Fatalf("spans = %v, want %v", s, want)
	}
	for _, c := range []struct {
		lo, hi int
		want   bool
	}{{0, 6, true}, {0, 7, false}, {12, 40, true}, {6, 10, false}, {39, 41, false}, {7, 7, true}} {
		if got := covers(s, c.lo, c.hi); got != c.want {
			t.Errorf("covers(%d, %d) = %v", c.lo, c.hi, got)
		}
	}
}

func TestObjectKeys(t *testing.T) {
	s := &Store{o: Options{Prefix: "p/"}}
	v := newVersion()
	k := s.objectKey(0xabc, 7, v)
	id, b, ver, ok := s.parseObjectKey(k)
	if !ok || id != 0xabc || b != 7 || ver != v {
		t.Fatalf("%s parsed as %x %d %x %v", k, id, b, ver, ok)
	}
	for _, bad := range []string{"p/x", "q/" + k[2:], k + "0", "p/0000000000000abc/0000000000000007-" + k[36:]} {
		if _, _, _, ok := s.parseObjectKey(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
