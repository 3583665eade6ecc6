// Package memory is a content store held in memory, for tests.
//
// A file is a sparse set of fixed-size chunks plus a length, so a write far
// past the end (a sparse file, a test of large offsets) costs one chunk, not
// the whole gap. Chunks never written read as zeros.
package memory

import (
	"errors"
	"sync"

	"github.com/tandemfs/tandem/internal/content"
)

const chunkSize = 64 << 10

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("content: store closed")

var errOffset = errors.New("content: negative offset or size")

type file struct {
	size   int64
	chunks map[int64][]byte // chunk index -> chunkSize bytes
}

// Store is an in-memory content.Store.
type Store struct {
	mu     sync.RWMutex
	files  map[uint64]*file
	closed bool
}

var _ content.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{files: make(map[uint64]*file)}
}

// ReadAt implements content.Store.
func (s *Store) ReadAt(id uint64, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errOffset
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	f := s.files[id]
	for n := 0; n < len(p); {
		pos := off + int64(n)
		ci, co := pos/chunkSize, pos%chunkSize
		m := min(len(p)-n, int(chunkSize-co))
		var c []byte
		if f != nil && pos < f.size {
			c = f.chunks[ci]
		}
		if c == nil {
			clear(p[n : n+m])
		} else {
			// Past the length a chunk holds zeros (Truncate clears
			// what it cuts off), so it can be copied as it is.
			copy(p[n:n+m], c[co:])
		}
		n += m
	}
	return len(p), nil
}

// WriteAt implements content.Store.
func (s *Store) WriteAt(id uint64, p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) < off {
		return 0, errOffset
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	f := s.files[id]
	if f == nil {
		f = &file{chunks: make(map[int64][]byte)}
		s.files[id] = f
	}
	for n := 0; n < len(p); {
		pos := off + int64(n)
		ci, co := pos/chunkSize, pos%chunkSize
		c := f.chunks[ci]
		if c == nil {
			c = make([]byte, chunkSize)
			f.chunks[ci] = c
		}
		n += copy(c[co:], p[n:])
	}
	if end := off + int64(len(p)); end > f.size {
		f.size = end
	}
	return len(p), nil
}

// Truncate implements content.Store.
func (s *Store) Truncate(id uint64, size int64) error {
	if size < 0 {
		return errOffset
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	f := s.files[id]
	if f == nil {
		f = &file{chunks: make(map[int64][]byte)}
		s.files[id] = f
	}
	if size < f.size {
		// Drop whole chunks past the end and zero the tail of the last,
		// so growing again reads zeros.
		last := size / chunkSize
		for ci := range f.chunks {
			if ci > last || (ci == last && size%chunkSize == 0) {
				delete(f.chunks, ci)
			}
		}
		if c := f.chunks[last]; c != nil {
			clear(c[size%chunkSize:])
		}
	}
	f.size = size
	return nil
}

// Size returns the stored length of a file, for tests.
func (s *Store) Size(id uint64) int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if f := s.files[id]; f != nil {
		return f.size
	}
	return 0
}

// Sync implements content.Store; memory is as durable as it gets.
func (s *Store) Sync(id uint64) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	return nil
}

// Remove implements content.Store.
func (s *Store) Remove(id uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	delete(s.files, id)
	return nil
}

// StatFS implements content.Store: a nominal 1 TiB, less what is held.
func (s *Store) StatFS() (total, free uint64, err error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, 0, ErrClosed
	}
	const capacity = 1 << 40
	var used uint64
	for _, f := range s.files {
		used += uint64(len(f.chunks)) * chunkSize
	}
	return capacity, capacity - min(used, capacity), nil
}

// Close implements content.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	s.files = nil
	return nil
}
