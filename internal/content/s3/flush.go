package s3

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/tandemfs/tandem/internal/meta"
)

// What a flush uploads.
type flushMode int

const (
	flushFull flushMode = iota // only blocks written to their end
	flushAll                   // every buffered block
)

// idleFlush is how long written data may sit in the buffer before the
// background flusher uploads it unasked.
const idleFlush = 5 * time.Second

// flushFile uploads f's buffered blocks (those mode selects) in parallel
// and switches the block map to them in one transaction, durable when
// durable is set (and then also everything committed lazily before).
func (s *Store) flushFile(f *file, mode flushMode, durable bool) error {
	f.op.Lock()
	defer f.op.Unlock()
	bs := s.o.BlockSize

	// Blocks still missing bytes of their committed version get them
	// first, while they are dirty: once selected for upload, a block is
	// what later writes to it start from.
	s.mu.Lock()
	var partial []int64
	for b, blk := range f.dirty {
		if !blk.complete() && mode == flushAll {
			partial = append(partial, b)
		}
	}
	s.mu.Unlock()
	for _, b := range partial {
		s.mu.Lock()
		blk := f.dirty[b]
		s.mu.Unlock()
		if blk != nil {
			if err := s.materialize(f, b, blk); err != nil {
				return err
			}
		}
	}

	// A truncation still pending goes to the map first: the blocks
	// uploaded here may have been written after it. Selecting only while
	// none is pending keeps blocks being uploaded older than any pending
	// cut, which is what reads and writes assume of them.
	sel := map[int64]*block{}
	for {
		if err := s.commitCut(f); err != nil {
			return err
		}
		s.mu.Lock()
		if f.cut >= 0 {
			s.mu.Unlock()
			continue // a truncate came in meanwhile
		}
		for b, blk := range f.dirty {
			if blk.complete() && (mode == flushAll || len(blk.data) == bs) {
				sel[b] = blk
				f.flushing[b] = blk
				delete(f.dirty, b)
			}
		}
		if len(f.dirty) == 0 {
			f.since = time.Time{}
		}
		s.mu.Unlock()
		break
	}
	if len(sel) == 0 {
		if durable {
			return s.syncMeta()
		}
		return nil
	}

	// Upload, in parallel. An empty block (truncated to nothing) needs no
	// object: its map entry goes.
	type result struct {
		ver [16]byte
		n   uint32
		key string
		err error
	}
	res := make(map[int64]*result, len(sel))
	var wg sync.WaitGroup
	for b, blk := range sel {
		r := &result{n: uint32(len(blk.data))}
		res[b] = r
		if r.n == 0 {
			continue
		}
		r.ver = newVersion()
		r.key = s.objectKey(f.id, b, r.ver)
		s.mu.Lock()
		s.uploading[r.key] = struct{}{}
		s.mu.Unlock()
		wg.Add(1)
		s.slots <- struct{}{}
		go func() {
			defer func() { <-s.slots; wg.Done() }()
			r.err = s.c.put(s.ctx, r.key, blk.data)
		}()
	}
	wg.Wait()

	s.mu.Lock()
	f.gen++ // odd: writers wait until the map is switched
	s.mu.Unlock()
	var uploadErr error
	garbage := 0
	update := s.meta.UpdateLazy
	if durable {
		update = s.meta.Update
	}
	commitErr := update(s.ctx, func(tx meta.Tx) error {
		garbage = 0
		for b, r := range res {
			if r.err != nil {
				uploadErr = errors.Join(uploadErr, r.err)
				continue
			}
			k := blockKey(f.id, b)
			old, err := tx.Get(bucketBlocks, k)
			switch {
			case err == nil:
				o, err := decodeRef(old)
				if err != nil {
					return err
				}
				if err := tx.Put(bucketGC, []byte(s.objectKey(f.id, b, o.ver)), nil); err != nil {
					return err
				}
				garbage++
			case err != meta.ErrNotFound:
				return err
			}
			if r.n == 0 {
				err = tx.Delete(bucketBlocks, k)
			} else {
				err = tx.Put(bucketBlocks, k, encodeRef(ref{ver: r.ver, length: r.n}))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})

	s.mu.Lock()
	f.gen++
	for b, blk := range sel {
		r := res[b]
		delete(s.uploading, r.key)
		delete(f.flushing, b)
		if r.err == nil && commitErr == nil {
			s.buffered -= blk.size()
			continue
		}
		// Not in the map: the block stays buffered, unless a newer
		// write already started from it, or a truncate since dropped it
		// (it predates any pending cut).
		if f.cut >= 0 && f.cut <= b*int64(bs) {
			s.buffered -= blk.size()
			continue
		}
		if f.cut >= 0 && f.cut < (b+1)*int64(bs) {
			blk.cut(int(f.cut - b*int64(bs)))
		}
		if f.dirty[b] == nil {
			f.dirty[b] = blk
			if f.since.IsZero() {
				f.since = time.Now()
			}
		} else {
			s.buffered -= blk.size()
		}
	}
	if commitErr == nil && !durable {
		s.lazy = true
	}
	s.room.Broadcast()
	s.mu.Unlock()
	if garbage > 0 {
		s.wake(s.collect)
	}
	// Objects uploaded for a commit that failed are found by the sweep.
	return errors.Join(commitErr, uploadErr)
}

// Sync implements content.Store: it returns once every write to the file
// before the call is in the object store and in a durable block map.
func (s *Store) Sync(id uint64) error {
	f, err := s.acquire(id)
	if err != nil {
		return err
	}
	defer s.release(f)
	err = s.flushFile(f, flushAll, true)
	s.mu.Lock()
	ferr := f.err
	f.err = nil
	s.mu.Unlock()
	return errors.Join(err, ferr)
}

// Truncate implements content.Store. It changes what is buffered and what
// reads see at once, and the block map right after (see file.cut).
func (s *Store) Truncate(id uint64, size int64) error {
	if size < 0 {
		return errOffset
	}
	bs := int64(s.o.BlockSize)
	first := (size + bs - 1) / bs // blocks from here on go
	return s.cutAt(id, size, func(f *file) {
		for b, blk := range f.dirty {
			switch {
			case b >= first:
				s.buffered -= blk.size()
				delete(f.dirty, b)
			case b == size/bs:
				blk.cut(int(size % bs))
			}
		}
	})
}

// Remove implements content.Store.
func (s *Store) Remove(id uint64) error {
	return s.cutAt(id, 0, func(f *file) {
		for b, blk := range f.dirty {
			s.buffered -= blk.size()
			delete(f.dirty, b)
		}
		f.since, f.err = time.Time{}, nil
	})
}

// cutAt records a truncation of file id to size, changes the buffer with
// buffered (under the lock), and starts the goroutine that applies it to
// the block map.
func (s *Store) cutAt(id uint64, size int64, buffered func(*file)) error {
	f, err := s.acquire(id)
	if err != nil {
		return err
	}
	defer s.release(f)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	buffered(f)
	if f.cut < 0 || size < f.cut {
		f.cut = size
	}
	f.cutGen++
	s.room.Broadcast()
	if !f.cutQueued {
		f.cutQueued = true
		f.users++
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			f.op.Lock()
			s.mu.Lock()
			f.cutQueued = false
			s.mu.Unlock()
			err := s.commitCut(f)
			f.op.Unlock()
			s.mu.Lock()
			f.users--
			if err != nil && f.err == nil && s.ctx.Err() == nil {
				f.err = err
			}
			s.mu.Unlock()
		}()
	}
	return nil
}

// commitCut applies f's pending cut to the block map, lazily. The caller
// holds f.op.
func (s *Store) commitCut(f *file) error {
	s.mu.Lock()
	c, g := f.cut, f.cutGen
	if c < 0 {
		s.mu.Unlock()
		return nil
	}
	f.gen++ // odd: writers wait until the map is switched
	s.mu.Unlock()
	bs := int64(s.o.BlockSize)
	cutBlock, cutLen := int64(-1), uint32(0)
	if c%bs != 0 {
		cutBlock, cutLen = c/bs, uint32(c%bs)
	}
	var n int
	err := s.meta.UpdateLazy(s.ctx, func(tx meta.Tx) error {
		var err error
		n, err = s.dropFrom(tx, f.id, (c+bs-1)/bs, cutBlock, cutLen)
		return err
	})
	s.mu.Lock()
	f.gen++
	if err == nil {
		s.lazy = true
		if f.cutGen == g {
			f.cut = -1
		}
	}
	s.room.Broadcast()
	s.mu.Unlock()
	if n > 0 {
		s.wake(s.collect)
	}
	return err
}

// flusher uploads in the background: full blocks as soon as they fill,
// everything of a file idle for idleFlush, and everything when the buffer
// runs high. It also forgets files with nothing buffered.
func (s *Store) flusher() {
	defer s.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
		case <-tick.C:
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			continue // Close flushes what is left
		}
		pressure := s.buffered > s.o.BufferSize*3/4
		now := time.Now()
		type job struct {
			f    *file
			mode flushMode
		}
		var jobs []job
		for id, f := range s.files {
			if f.queued {
				continue
			}
			if len(f.dirty) == 0 {
				if f.users == 0 && len(f.flushing) == 0 && f.err == nil && f.cut < 0 && !f.cutQueued {
					delete(s.files, id)
				}
				continue
			}
			mode := flushFull
			if pressure || now.Sub(f.since) >= idleFlush {
				mode = flushAll
			} else if !f.hasFull(s.o.BlockSize) {
				continue
			}
			f.queued = true
			f.users++
			jobs = append(jobs, job{f, mode})
		}
		s.wg.Add(len(jobs))
		s.mu.Unlock()
		for _, j := range jobs {
			go func() {
				defer s.wg.Done()
				err := s.flushFile(j.f, j.mode, false)
				if err != nil && !errors.Is(err, context.Canceled) {
					s.log.Error("s3: background upload failed", "file", j.f.id, "err", err)
				}
				s.mu.Lock()
				j.f.queued = false
				j.f.users--
				if err != nil && j.f.err == nil {
					j.f.err = err
				}
				s.mu.Unlock()
				if err == nil {
					s.wake(s.kick) // more may have filled meanwhile
				}
			}()
		}
	}
}

// hasFull reports whether a dirty block is complete and written to its
// end.
func (f *file) hasFull(bs int) bool {
	for _, blk := range f.dirty {
		if blk.complete() && len(blk.data) == bs {
			return true
		}
	}
	return false
}
