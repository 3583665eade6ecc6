package s3

import "slices"

// block is one block of a file held in the write-back buffer: written
// since its last upload began, or being uploaded now.
//
// Its contents are data over a base: byte i is data[i] where a write
// covered it (cover), else byte i of the base object (the block's
// committed version when the block entered the buffer), else zero. A write
// that covers a block whole needs no base, and neither does a block that
// had no committed version; otherwise the base is fetched only when the
// bytes it supplies are needed (a read of them, or the upload), so
// overwriting an existing file block by block never reads it.
type block struct {
	data  []byte // grows to the highest byte written; zeros where unwritten
	base  *ref   // nil: complete (no base, or base merged)
	cover []span // with a base: the written ranges of data, sorted, disjoint
}

type span struct{ lo, hi int }

// complete reports whether data alone holds the block.
func (b *block) complete() bool { return b.base == nil }

// size is what the block costs the buffer.
func (b *block) size() int64 { return int64(cap(b.data)) }

// grow makes data at least n bytes long (new bytes zero), growing the
// allocation by doubling up to limit.
func (b *block) grow(n, limit int) {
	if n <= len(b.data) {
		return
	}
	if n <= cap(b.data) {
		old := len(b.data)
		b.data = b.data[:n]
		clear(b.data[old:])
		return
	}
	c := max(2*cap(b.data), n, 4096)
	c = min(c, limit)
	nd := make([]byte, n, c)
	copy(nd, b.data)
	b.data = nd
}

// write copies p to offset off of the block.
func (b *block) write(p []byte, off, limit int) {
	b.grow(off+len(p), limit)
	copy(b.data[off:], p)
	if b.base == nil {
		return
	}
	b.cover = addSpan(b.cover, span{off, off + len(p)})
	if covers(b.cover, 0, int(b.base.length)) {
		// Every byte the base could supply is overwritten.
		b.base, b.cover = nil, nil
	}
}

// readable reports whether bytes [lo, hi) can be read from data without
// the base.
func (b *block) readable(lo, hi int) bool {
	if b.base == nil {
		return true
	}
	hi = min(hi, int(b.base.length))
	return lo >= hi || covers(b.cover, lo, hi)
}

// read copies bytes from offset off into p (zeros past data). The caller
// checked readable.
func (b *block) read(p []byte, off int) {
	n := 0
	if off < len(b.data) {
		n = copy(p, b.data[off:])
	}
	clear(p[n:])
}

// merge fills in base, the first base.length bytes of the base object,
// where no write covered them, and makes the block complete.
func (b *block) merge(base []byte, limit int) {
	b.grow(len(base), limit)
	next := 0
	for _, s := range b.cover {
		if s.lo > next && next < len(base) {
			copy(b.data[next:min(s.lo, len(base))], base[next:])
		}
		next = max(next, s.hi)
	}
	if next < len(base) {
		copy(b.data[next:], base[next:])
	}
	b.base, b.cover = nil, nil
}

// cut drops everything from offset n on.
func (b *block) cut(n int) {
	if n < len(b.data) {
		clear(b.data[n:]) // grow relies on bytes past len being reused only after clearing
		b.data = b.data[:n]
	}
	if b.base != nil && b.base.length > uint32(n) {
		r := *b.base
		r.length = uint32(n)
		b.base = &r
	}
	for i := 0; i < len(b.cover); i++ {
		if b.cover[i].lo >= n {
			b.cover = b.cover[:i]
			break
		}
		b.cover[i].hi = min(b.cover[i].hi, n)
	}
	if b.base != nil && covers(b.cover, 0, int(b.base.length)) {
		b.base, b.cover = nil, nil
	}
}

// clone returns a complete copy of a complete block.
func (b *block) clone() *block {
	return &block{data: slices.Clone(b.data)}
}

// addSpan inserts s into the sorted disjoint spans, merging neighbours.
func addSpan(spans []span, s span) []span {
	if s.lo >= s.hi {
		return spans
	}
	i := 0
	for i < len(spans) && spans[i].hi < s.lo {
		i++
	}
	j := i
	for j < len(spans) && spans[j].lo <= s.hi {
		s.lo = min(s.lo, spans[j].lo)
		s.hi = max(s.hi, spans[j].hi)
		j++
	}
	return slices.Replace(spans, i, j, s)
}

// covers reports whether the spans cover [lo, hi).
func covers(spans []span, lo, hi int) bool {
	if lo >= hi {
		return true
	}
	for _, s := range spans {
		if s.lo <= lo && s.hi > lo {
			lo = s.hi
			if lo >= hi {
				return true
			}
		}
	}
	return false
}
