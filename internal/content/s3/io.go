package s3

import (
	"errors"
	"sync"
	"time"
)

// file is the buffered state of one file. Its maps and counters are
// guarded by Store.mu.
type file struct {
	id uint64
	// op serializes what changes the file's block map: flushes,
	// truncates and removes.
	op sync.Mutex

	users    int              // calls holding this file (it is not forgotten meanwhile)
	dirty    map[int64]*block // written since their upload (if any) began
	flushing map[int64]*block // being uploaded; not yet in the map
	since    time.Time        // when the oldest dirty block was first written
	queued   bool             // a background flush is queued or running
	err      error            // a background upload's failure, for the next Sync

	// gen is odd while the file's map changes (a commit in progress) and
	// grows with each change: a writer that looked the map up does not
	// use what it read if gen moved meanwhile.
	gen uint64

	// cut, when not negative, is a truncation (or, at 0, a removal) not
	// yet applied to the block map: the map and the blocks being uploaded
	// hold nothing at or past it that may be read. Truncate and Remove
	// apply it later, in their own transaction: fs calls Truncate inside
	// a metadata transaction, which another one must not wait for.
	cut       int64
	cutGen    uint64 // counts truncations, so a commit knows whether a newer one came
	cutQueued bool   // a goroutine is on its way to commit cut
}

// acquire returns the state of file id, made when missing, with a use the
// caller ends with release.
func (s *Store) acquire(id uint64) (*file, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	f := s.files[id]
	if f == nil {
		f = &file{id: id, dirty: map[int64]*block{}, flushing: map[int64]*block{}, cut: -1}
		s.files[id] = f
	}
	f.users++
	return f, nil
}

func (s *Store) release(f *file) {
	s.mu.Lock()
	f.users--
	s.mu.Unlock()
}

// visible is how many of the n committed bytes of block b a pending cut
// leaves.
func (f *file) visible(n uint32, b, bs int64) uint32 {
	if f.cut < 0 {
		return n
	}
	return uint32(min(int64(n), max(0, f.cut-b*bs)))
}

// buffer returns the newest buffered version of block b, or nil.
func (f *file) buffer(b int64) *block {
	if blk := f.dirty[b]; blk != nil {
		return blk
	}
	return f.flushing[b]
}

// WriteAt implements content.Store.
func (s *Store) WriteAt(id uint64, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errOffset
	}
	if len(p) == 0 {
		return 0, nil
	}
	s.mu.Lock()
	for s.buffered > s.o.BufferSize && !s.closed {
		s.wake(s.kick)
		s.room.Wait()
	}
	s.mu.Unlock()
	f, err := s.acquire(id)
	if err != nil {
		return 0, err
	}
	defer s.release(f)

	bs := int64(s.o.BlockSize)
	first, last := off/bs, (off+int64(len(p))-1)/bs
	// whole reports whether the write covers block b entirely, so that
	// the block's committed version does not matter.
	whole := func(b int64) bool { return off <= b*bs && off+int64(len(p)) >= (b+1)*bs }
	for {
		s.mu.Lock()
		for f.gen%2 == 1 {
			s.room.Wait()
		}
		gen := f.gen
		lo, hi := int64(-1), int64(-1)
		for b := first; b <= last; b++ {
			if f.buffer(b) == nil && !whole(b) {
				if lo < 0 {
					lo = b
				}
				hi = b
			}
		}
		var found map[int64]ref
		if lo >= 0 {
			// Blocks new to the buffer take their committed version as
			// base: look it up without holding the lock.
			s.mu.Unlock()
			found, err = s.lookup(id, lo, hi)
			if err != nil {
				return 0, err
			}
			s.mu.Lock()
			if f.gen != gen {
				s.mu.Unlock()
				continue
			}
		}
		full := false
		for b := first; b <= last; b++ {
			lo := max(off, b*bs)
			hi := min(off+int64(len(p)), (b+1)*bs)
			blk := f.dirty[b]
			if blk == nil {
				if fl := f.flushing[b]; fl != nil {
					blk = fl.clone()
					if f.cut >= 0 && f.cut < (b+1)*bs {
						blk.cut(int(max(0, f.cut-b*bs)))
					}
				} else {
					blk = &block{}
					if r, ok := found[b]; ok && !whole(b) {
						r.length = f.visible(r.length, b, bs)
						if r.length > 0 {
							blk.base = &r
						}
					}
				}
				f.dirty[b] = blk
				s.buffered += blk.size()
			}
			before := blk.size()
			blk.write(p[lo-off:hi-off], int(lo-b*bs), s.o.BlockSize)
			s.buffered += blk.size() - before
			if blk.complete() && len(blk.data) == s.o.BlockSize {
				full = true
			}
		}
		if f.since.IsZero() {
			f.since = time.Now()
		}
		s.mu.Unlock()
		if full {
			s.wake(s.kick)
		}
		return len(p), nil
	}
}

// ReadAt implements content.Store.
func (s *Store) ReadAt(id uint64, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errOffset
	}
	if len(p) == 0 {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			return 0, ErrClosed
		}
		return 0, nil
	}
	f, err := s.acquire(id)
	if err != nil {
		return 0, err
	}
	defer s.release(f)
	bs := int64(s.o.BlockSize)
	first, last := off/bs, (off+int64(len(p))-1)/bs
	for attempt := 0; ; attempt++ {
		if attempt == 20 {
			return 0, errors.New("s3: read kept meeting concurrent changes of its blocks")
		}
		var missing []int64
		var base *block
		var baseAt int64
		s.mu.Lock()
		cut := f.cut
		for b := first; b <= last; b++ {
			lo := max(off, b*bs)
			hi := min(off+int64(len(p)), (b+1)*bs)
			blk := f.dirty[b]
			pre := blk == nil // a block being uploaded predates any pending cut
			if pre {
				blk = f.flushing[b]
			}
			switch {
			case blk == nil:
				missing = append(missing, b)
			case blk.readable(int(lo-b*bs), int(hi-b*bs)):
				blk.read(p[lo-off:hi-off], int(lo-b*bs))
				if pre && cut >= 0 && cut < hi {
					clear(p[max(lo, cut)-off : hi-off])
				}
			default:
				base, baseAt = blk, b
			}
		}
		s.mu.Unlock()
		if base != nil {
			if err := s.materialize(f, baseAt, base); err != nil && attempt >= 3 {
				return 0, err
			}
			continue
		}
		if len(missing) == 0 {
			return len(p), nil
		}
		err := s.fetch(f.id, missing, p, off, cut)
		if errors.Is(err, errNoObject) && attempt < 3 {
			// The map moved on under the read (an upload replaced the
			// block and its old object is gone): read again.
			continue
		}
		if err != nil {
			return 0, err
		}
		return len(p), nil
	}
}

// fetch fills the parts of p (at file offset off) that fall in blocks
// from their committed objects, with parallel ranged reads; nothing at or
// past cut (when not negative) counts.
func (s *Store) fetch(id uint64, blocks []int64, p []byte, off int64, cut int64) error {
	found, err := s.lookup(id, blocks[0], blocks[len(blocks)-1])
	if err != nil {
		return err
	}
	bs := int64(s.o.BlockSize)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for _, b := range blocks {
		lo := max(off, b*bs)
		hi := min(off+int64(len(p)), (b+1)*bs)
		dst := p[lo-off : hi-off]
		r, ok := found[b]
		if cut >= 0 {
			r.length = uint32(min(int64(r.length), max(0, cut-b*bs)))
		}
		inBlock := lo - b*bs
		n := int64(0)
		if ok && int64(r.length) > inBlock {
			n = min(int64(r.length)-inBlock, int64(len(dst)))
		}
		clear(dst[n:])
		if n == 0 {
			continue
		}
		key := s.objectKey(id, b, r.ver)
		wg.Add(1)
		s.slots <- struct{}{}
		go func() {
			defer func() { <-s.slots; wg.Done() }()
			if err := s.c.get(s.ctx, key, dst[:n], inBlock); err != nil {
				mu.Lock()
				first = errors.Join(first, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

// materialize fetches the base of blk (block b of f) and merges it in.
func (s *Store) materialize(f *file, b int64, blk *block) error {
	s.mu.Lock()
	if blk.base == nil {
		s.mu.Unlock()
		return nil
	}
	r := *blk.base
	s.mu.Unlock()
	buf := make([]byte, r.length)
	s.slots <- struct{}{}
	err := s.c.get(s.ctx, s.objectKey(f.id, b, r.ver), buf, 0)
	<-s.slots
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Unless a truncate dropped the block meanwhile (or cut its base).
	if f.dirty[b] == blk && blk.base != nil && blk.base.ver == r.ver {
		// A truncate meanwhile may have shortened the base.
		before := blk.size()
		blk.merge(buf[:min(len(buf), int(blk.base.length))], s.o.BlockSize)
		s.buffered += blk.size() - before
	}
	return nil
}
