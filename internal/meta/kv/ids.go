package kv

import (
	"encoding/binary"
	"sync"

	"github.com/tandemfs/tandem/internal/meta"
)

// IDBlock is how many ids a store reserves with one durable write.
const IDBlock = 1024

// IDs hands out file ids from blocks reserved ahead of use. The store keeps
// a high-water mark, above every id ever handed out, and raises it by a
// block (durably, before any id of the block is used) when a block runs
// out. So an id is never handed out twice: not after a failed transaction,
// which does not give its ids back, and not after a crash, which restarts
// at the mark and at worst skips the rest of a block.
type IDs struct {
	mu          sync.Mutex
	next, limit uint64
	reserve     func(key, value []byte) error
}

// NewIDs returns an allocator starting at the high-water mark read from r.
// reserve durably stores a new mark (key and value as given) in the store,
// outside any transaction; nil keeps nothing, for stores that do not
// outlive the process.
func NewIDs(r Reader, reserve func(key, value []byte) error) (*IDs, error) {
	mark := uint64(meta.FirstAllocID)
	v, err := r.Get(keyNextID, nil)
	switch {
	case err == nil && len(v) == 8:
		mark = max(binary.BigEndian.Uint64(v), mark)
	case err == nil:
		return nil, ErrCorrupt
	case err != meta.ErrNotFound:
		return nil, err
	}
	return &IDs{next: mark, limit: mark, reserve: reserve}, nil
}

// Alloc returns an id never returned before.
func (a *IDs) Alloc() (uint64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next == a.limit {
		if a.limit > 1<<64-1-IDBlock {
			return 0, ErrCorrupt
		}
		limit := a.limit + IDBlock
		if a.reserve != nil {
			if err := a.reserve(keyNextID, binary.BigEndian.AppendUint64(nil, limit)); err != nil {
				return 0, err
			}
		}
		a.limit = limit
	}
	id := a.next
	a.next++
	return id, nil
}
