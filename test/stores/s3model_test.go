//go:build e2e

package stores

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

// TestS3Model runs random writes, truncates, reads, syncs and reopens of
// one file against a byte slice, with blocks and a write-back buffer so
// small that background uploads run under almost every operation: the
// order of truncates and uploads of the blocks around them must not
// matter to what reads see, before a reopen or after.
func TestS3Model(t *testing.T) {
	o := s3Options(t)
	o.BlockSize = 4096
	o.BufferSize = 3 * 4096
	dir := t.TempDir()
	m := pebbleMeta(t, dir)
	defer func() { m.Close() }()
	s := openS3(t, m, o)
	defer func() { s.Close() }()
	const maxSize = 64 << 10
	model := []byte{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	check := func(step int, what string) {
		t.Helper()
		got := make([]byte, maxSize+4096)
		if _, err := s.ReadAt(1, got, 0); err != nil {
			t.Fatalf("step %d (%s): ReadAt: %v", step, what, err)
		}
		want := make([]byte, len(got))
		copy(want, model)
		if i := firstDiff(got, want); i >= 0 {
			t.Fatalf("step %d (after %s): byte %d is %#x, want %#x", step, what, i, got[i], want[i])
		}
	}
	for step := range 1500 {
		var what string
		switch r := rng.IntN(100); {
		case r < 55:
			off := rng.IntN(maxSize)
			p := make([]byte, 1+rng.IntN(min(maxSize-off, 3*4096)))
			for i := range p {
				p[i] = byte(rng.Uint32()) | 1
			}
			if _, err := s.WriteAt(1, p, int64(off)); err != nil {
				t.Fatal(err)
			}
			if len(model) < off+len(p) {
				model = append(model, make([]byte, off+len(p)-len(model))...)
			}
			copy(model[off:], p)
			what = "write"
		case r < 75:
			n := rng.IntN(maxSize)
			if err := s.Truncate(1, int64(n)); err != nil {
				t.Fatal(err)
			}
			if n < len(model) {
				model = model[:n]
			} else {
				model = append(model, make([]byte, n-len(model))...)
			}
			what = "truncate"
		case r < 90:
			check(step, "read")
			continue
		case r < 98:
			if err := s.Sync(1); err != nil {
				t.Fatal(err)
			}
			what = "sync"
		default:
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openS3(t, m, o)
			what = "reopen"
		}
		if rng.IntN(4) == 0 {
			check(step, what)
		}
	}
	check(-1, "the end")
	if err := s.Sync(1); err != nil {
		t.Fatal(err)
	}
	expectNoOrphans(t, s, m, o.Prefix)
	st := s.Stats()
	t.Logf("%d PUTs, %d GETs, %d deletes", st.Puts, st.Gets, st.Deletes)
}

func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return len(a)
}
