package memory

import (
	"slices"

	"github.com/tandemfs/tandem/internal/content"
)

// Holes in memory are chunks never written or dropped: PunchHole drops
// the chunks a range covers whole and zeros its part of the others, and
// DataRanges reports the chunks held. Both walk the chunks held, not the
// range, so a huge range costs what the file holds.

var (
	_ content.Puncher = (*Store)(nil)
	_ content.Mapper  = (*Store)(nil)
)

// PunchHole implements content.Puncher.
func (s *Store) PunchHole(id uint64, off, n int64) error {
	if off < 0 || n < 0 || off+n < off {
		return errOffset
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	f := s.files[id]
	if f == nil {
		return nil
	}
	end := off + n
	for ci, c := range f.chunks {
		from, to := max(off, ci*chunkSize), min(end, (ci+1)*chunkSize)
		switch {
		case from >= to:
		case to-from == chunkSize:
			delete(f.chunks, ci)
		default:
			clear(c[from-ci*chunkSize : to-ci*chunkSize])
		}
	}
	return nil
}

// DataRanges implements content.Mapper, a chunk at a time.
func (s *Store) DataRanges(id uint64, off, n int64) ([]content.Range, error) {
	if off < 0 || n < 0 || off+n < off {
		return nil, errOffset
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	f := s.files[id]
	if f == nil {
		return nil, nil
	}
	end := min(off+n, f.size)
	var held []int64
	for ci := range f.chunks {
		if max(off, ci*chunkSize) < min(end, (ci+1)*chunkSize) {
			held = append(held, ci)
		}
	}
	slices.Sort(held)
	var out []content.Range
	for _, ci := range held {
		from, to := max(off, ci*chunkSize), min(end, (ci+1)*chunkSize)
		if k := len(out) - 1; k >= 0 && out[k].Off+out[k].Len == from {
			out[k].Len += to - from
		} else {
			out = append(out, content.Range{Off: from, Len: to - from})
		}
	}
	return out, nil
}
