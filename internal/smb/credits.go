package smb

// Credits are SMB2's flow control. Every request consumes message ids
// (CreditCharge of them, at least one, starting at its MessageId) that the
// server granted earlier, and every response grants new ones by extending
// the window of valid ids at its top. A request outside the window, or
// reusing an id, is a protocol violation that ends the connection. Large
// reads and writes charge one credit per 64 KiB, so a client can only have
// as many bytes in flight as it holds credits for.
//
// creditWindow tracks the ids in [low, high): which are consumed (a bit
// per id in a ring) and how many the client still holds. Ids below low
// are all consumed; high is the first id not yet granted.
type creditWindow struct {
	low, high uint64
	used      []uint64 // ring of bits, id % (64*len) -> bit
	max       uint64   // most ids the client may hold unconsumed
	held      uint64   // granted and not yet consumed
}

func newCreditWindow(max uint16) creditWindow {
	// The ring must cover every id between low and high: consumed ids
	// above low that leave a gap below them, plus the unconsumed ones.
	words := (2*int(max) + 63) / 64
	return creditWindow{low: 0, high: 1, used: make([]uint64, words), max: uint64(max), held: 1}
}

func (w *creditWindow) bit(id uint64) (int, uint64) {
	n := uint64(len(w.used)) * 64
	i := id % n
	return int(i / 64), 1 << (i % 64)
}

// consume takes ids [id, id+n) out of the window; false if any is not
// granted or already used.
func (w *creditWindow) consume(id uint64, n uint16) bool {
	if n == 0 {
		n = 1
	}
	end := id + uint64(n)
	if end < id || id < w.low || end > w.high {
		return false
	}
	for x := id; x < end; x++ {
		i, m := w.bit(x)
		if w.used[i]&m != 0 {
			return false
		}
	}
	for x := id; x < end; x++ {
		i, m := w.bit(x)
		w.used[i] |= m
	}
	w.held -= uint64(n)
	for w.low < w.high {
		i, m := w.bit(w.low)
		if w.used[i]&m == 0 {
			break
		}
		w.used[i] &^= m
		w.low++
	}
	return true
}

// grant extends the window by what the client asked for, within the
// maximum, and never leaves it holding none: a client without credits
// could not send another request.
func (w *creditWindow) grant(asked uint16) uint16 {
	g := uint64(max(asked, 1))
	room := w.max - min(w.held, w.max)
	// The ring must also cover the consumed ids that still sit above low.
	if span := uint64(len(w.used))*64 - (w.high - w.low); room > span {
		room = span
	}
	g = min(g, room)
	if g == 0 && w.held == 0 && w.high-w.low < uint64(len(w.used))*64 {
		g = 1
	}
	w.high += g
	w.held += g
	return uint16(g)
}
