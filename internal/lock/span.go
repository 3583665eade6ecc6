package lock

import "math"

// maxOffset is the last byte offset there is.
const maxOffset = math.MaxUint64

// span is a range in one form for every protocol: the bytes start..end,
// both inclusive. A zero span is an SMB zero-length range at start; it holds
// no byte (end is start and means nothing).
type span struct {
	start, end uint64
	zero       bool
}

// posixSpan is r under POSIX rules: Length 0, and any range that would pass
// the last offset, reach to the end.
func posixSpan(r Range) span {
	if r.Length == 0 {
		return span{start: r.Offset, end: maxOffset}
	}
	end := r.Offset + (r.Length - 1)
	if end < r.Offset {
		end = maxOffset
	}
	return span{start: r.Offset, end: end}
}

// windowsSpan is r under MS-FSA rules: Length 0 is a zero-length range, and
// a range that passes the last offset is invalid.
func windowsSpan(r Range) (span, bool) {
	if r.Length == 0 {
		return span{start: r.Offset, end: r.Offset, zero: true}, true
	}
	end := r.Offset + (r.Length - 1)
	if end < r.Offset {
		return span{}, false
	}
	return span{start: r.Offset, end: end}, true
}

// spanFor is r under the rules of protocol p.
func spanFor(p Proto, r Range) (span, Status) {
	if p.posix() {
		return posixSpan(r), Granted
	}
	s, ok := windowsSpan(r)
	if !ok {
		return span{}, InvalidRange
	}
	return s, Granted
}

// ioSpan is the bytes an I/O of n bytes at off touches (ok false for none).
func ioSpan(off, n uint64) (span, bool) {
	if n == 0 {
		return span{}, false
	}
	return posixSpan(Range{Offset: off, Length: n}), true
}

// rangeFor is s stated the way protocol p states ranges.
func (s span) rangeFor(p Proto) Range {
	if s.zero || (p.posix() && s.end == maxOffset) {
		return Range{Offset: s.start}
	}
	return Range{Offset: s.start, Length: s.end - s.start + 1}
}

// overlaps reports whether a and b share a byte, with MS-FSA's reading of
// zero-length ranges (2.1.4.10): their last byte is offset-1, so a
// zero-length range at x overlaps a range holding both x-1 and x, that is one
// that starts before x and reaches x. It overlaps no other zero-length range,
// and one at offset 0 overlaps nothing.
func overlaps(a, b span) bool {
	switch {
	case a.zero && b.zero:
		return false
	case a.zero:
		return b.start < a.start && a.start <= b.end
	case b.zero:
		return a.start < b.start && b.start <= a.end
	}
	return a.start <= b.end && b.start <= a.end
}

// touches reports whether two ranges of bytes (never zero spans) overlap or
// are adjacent, so that POSIX merges them when their modes agree.
func touches(a, b span) bool {
	if a.start > b.start {
		a, b = b, a
	}
	return a.end == maxOffset || b.start <= a.end+1
}

// conflicts reports whether a granted lock of holder in mode held stops a
// lock request of req in mode want over an overlapping range.
//
// Between different owners one rule holds for every protocol: they conflict
// when either is exclusive. An owner's own locks follow its protocol: a
// POSIX owner's new lock replaces its old ones and never conflicts with
// them; an SMB open may stack a shared lock on its own locks but, as
// Windows does, not an exclusive lock on any of its own locks.
func conflicts(holder *owner, held Mode, req *owner, want Mode) bool {
	if holder == req {
		return !req.Proto.posix() && want == Exclusive
	}
	return held == Exclusive || want == Exclusive
}

// ioConflicts reports whether I/O by req conflicts with a lock of holder in
// mode held over the bytes it touches. smb says the I/O comes from an SMB
// open (req is its owner entry, nil when it holds nothing); otherwise it is
// NFS I/O, which has no owner. SMB locks are mandatory: an exclusive lock
// stops reads and writes of every other owner, a shared lock stops writes
// of every owner including its own (MS-FSA 2.1.4.10 without lock intent).
// For SMB I/O the NLM locks of others count the same way; for NFS I/O they
// do not, since POSIX locks are advisory.
func ioConflicts(holder *owner, held Mode, req *owner, smb, write bool) bool {
	if !smb && holder.Proto != SMB {
		return false
	}
	if held == Exclusive {
		return holder != req
	}
	return write
}
