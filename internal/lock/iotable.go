package lock

import (
	"sync/atomic"
)

// The table of intents of NFS requests in progress on files without
// state (intent.go): stripes of slots chosen by the file key's hash. A
// slot's state word says whether it is free, being written or published,
// whether an SMB request waits for it, and counts its uses, so that a
// reader that loaded the state, then the fields, then the same state
// again knows the fields are those of one published intent.

const (
	ioStripeBits = 7
	ioSlots      = 8 // per stripe: a stripe that is full sends intents to file tables

	ioPhase   = 3 // mask: 0 free, 1 being written, 2 published
	ioWriting = 1
	ioPub     = 2
	ioWaited  = 1 << 2 // an SMB request waits for the intent to end
	ioRanged  = 1 << 3
	ioKind    = 4 // shift of the kind (3 bits)
	ioGen     = 8 // shift of the use count
	ioLow     = 0xff
)

// ioSlot is one intent, alone on its cache line: concurrent requests of
// one stripe write different slots.
type ioSlot struct {
	state atomic.Uint64
	key   atomic.Uint64 // slotKey
	start atomic.Uint64
	end   atomic.Uint64
	_     [32]byte
}

// slotKey is k in one word, so that publishing it is one store; a key
// that does not fit (a share id past 2^16 or a file id past 2^48, which
// real ones never reach) has no slot and goes in its file's table.
func slotKey(k FileKey) (uint64, bool) {
	if k.Share >= 1<<16 || k.ID >= 1<<48 {
		return 0, false
	}
	return uint64(k.Share)<<48 | k.ID, true
}

type ioTable struct {
	stripes [1 << ioStripeBits][ioSlots]ioSlot
}

// ioTable returns the Manager's table of intents, made on first use so
// that a Manager no NFS request uses does not carry it.
func (m *Manager) ioTable() *ioTable {
	if t := m.io.Load(); t != nil {
		return t
	}
	m.io.CompareAndSwap(nil, new(ioTable))
	return m.io.Load()
}

func (t *ioTable) stripe(k FileKey) *[ioSlots]ioSlot {
	return &t.stripes[slot(k)>>(presenceBits-ioStripeBits)]
}

// nextFree is the free state that follows the published state pub.
func nextFree(pub uint64) uint64 { return (pub>>ioGen + 1) << ioGen }

// claim publishes x on k in a free slot of k's stripe and returns the
// slot and its published state, or nil when the stripe is full.
func (t *ioTable) claim(k FileKey, x intent) (*ioSlot, uint64) {
	key, ok := slotKey(k)
	if !ok {
		return nil, 0
	}
	st := t.stripe(k)
	for i := range st {
		s := &st[i]
		v := s.state.Load()
		if v&ioPhase != 0 || !s.state.CompareAndSwap(v, v|ioWriting) {
			continue
		}
		s.key.Store(key)
		pub := v&^ioLow | uint64(x.kind)<<ioKind | ioPub
		if x.ranged {
			s.start.Store(x.span.start)
			s.end.Store(x.span.end)
			pub |= ioRanged
		}
		s.state.Store(pub)
		return s, pub
	}
	return nil, 0
}

// holds reports whether a published intent on k conflicts as binds says,
// marking those found (with mark) so that their End lets waiters go on.
// A slot whose state changes while it is read was released (and perhaps
// claimed again, by a request that then sees the file's state).
func (t *ioTable) holds(k FileKey, mark bool, binds func(intent) bool) bool {
	key, ok := slotKey(k)
	if !ok {
		return false
	}
	st := t.stripe(k)
	found := false
	for i := range st {
		s := &st[i]
		v := s.state.Load()
		if v&ioPhase != ioPub {
			continue
		}
		if s.key.Load() != key {
			continue
		}
		x := intent{kind: IOKind(v >> ioKind & 7), ranged: v&ioRanged != 0}
		if x.ranged {
			x.span = span{start: s.start.Load(), end: s.end.Load()}
		}
		if s.state.Load() != v || !binds(x) {
			continue
		}
		if !mark {
			return true
		}
		if v&ioWaited != 0 || s.state.CompareAndSwap(v, v|ioWaited) {
			found = true
		}
	}
	return found
}
