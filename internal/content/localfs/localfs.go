// Package localfs keeps file content on the local file system: one host
// file per Tandem file, at DIR/content/ab/cd/<id as 16 hex digits>, where
// ab and cd are the id's lowest two bytes in hex. Ids are handed out in
// sequence, so their low bytes spread files evenly over 65,536 directories
// and no directory grows past what a host file system lists quickly.
//
// Host files are sparse: holes and unwritten ranges cost no disk and read
// as zeros. A bounded cache of open files (least recently used goes first)
// saves an open and a close per request; a file in use when it is evicted is
// closed by its last user.
//
// Sync makes a file's data durable with fsync and, the first time after the
// file or one of its fan-out directories was created, fsyncs the
// directories too, so a synced file is still reachable after a power loss.
package localfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/tandemfs/tandem/internal/content"
)

// DefaultMaxOpen is how many host files a Store keeps open.
const DefaultMaxOpen = 256

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("content: store closed")

var errOffset = errors.New("content: negative offset or size")

// Store is a content.Store in a host directory.
type Store struct {
	root    string // DIR/content
	maxOpen int

	mu     sync.Mutex
	open   map[uint64]*handle
	lru    handle          // sentinel of the ring of cached handles, most recent first
	dirty  map[string]bool // directories with entries not yet fsynced
	closed bool
}

// handle is a cached open host file.
type handle struct {
	id         uint64
	f          *os.File
	refs       int  // calls using f now
	cached     bool // in open and on the ring; otherwise the last user closes f
	prev, next *handle
}

var _ content.Store = (*Store)(nil)

// Open opens (creating when missing) the content store in dir.
func Open(dir string) (*Store, error) {
	root := filepath.Join(dir, "content")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	s := &Store{
		root:    root,
		maxOpen: DefaultMaxOpen,
		open:    make(map[uint64]*handle),
		dirty:   make(map[string]bool),
	}
	s.lru.prev, s.lru.next = &s.lru, &s.lru
	return s, nil
}

// path returns the host file of id and its fan-out directories.
func (s *Store) path(id uint64) (file, leaf, mid string) {
	mid = filepath.Join(s.root, fmt.Sprintf("%02x", byte(id)))
	leaf = filepath.Join(mid, fmt.Sprintf("%02x", byte(id>>8)))
	return filepath.Join(leaf, fmt.Sprintf("%016x", id)), leaf, mid
}

// acquire returns id's open file with a reference the caller releases, or
// nil when the file does not exist and create is false. Opening happens
// under s.mu so that it is ordered with Remove: a cached handle is never
// one to a file already unlinked.
func (s *Store) acquire(id uint64, create bool) (*handle, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if h := s.open[id]; h != nil {
		h.refs++
		s.unlink(h)
		s.pushFront(h)
		return h, nil
	}
	name, leaf, mid := s.path(id)
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		if !create {
			return nil, nil
		}
		f, err = s.create(name, leaf, mid)
	}
	if err != nil {
		return nil, err
	}
	h := &handle{id: id, f: f, refs: 1, cached: true}
	s.open[id] = h
	s.pushFront(h)
	for len(s.open) > s.maxOpen {
		s.evict(s.lru.prev)
	}
	return h, nil
}

// create makes a new host file, and its directories when missing, noting
// which directories gained entries that Sync must make durable.
func (s *Store) create(name, leaf, mid string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		for _, d := range [][2]string{{mid, s.root}, {leaf, mid}} {
			switch err := os.Mkdir(d[0], 0o700); {
			case err == nil:
				s.dirty[d[1]] = true
			case !errors.Is(err, fs.ErrExist):
				return nil, err
			}
		}
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	}
	if err == nil {
		s.dirty[leaf] = true
	}
	return f, err
}

func (s *Store) release(h *handle) {
	s.mu.Lock()
	h.refs--
	closeNow := h.refs == 0 && !h.cached
	s.mu.Unlock()
	if closeNow {
		h.f.Close()
	}
}

// evict drops h from the cache; h's file is closed now if unused, or by
// its last user. Requires s.mu.
func (s *Store) evict(h *handle) {
	s.unlink(h)
	delete(s.open, h.id)
	h.cached = false
	if h.refs == 0 {
		h.f.Close()
	}
}

func (s *Store) unlink(h *handle) {
	h.prev.next, h.next.prev = h.next, h.prev
	h.prev, h.next = nil, nil
}

func (s *Store) pushFront(h *handle) {
	h.prev, h.next = &s.lru, s.lru.next
	s.lru.next.prev = h
	s.lru.next = h
}

// ReadAt implements content.Store.
func (s *Store) ReadAt(id uint64, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errOffset
	}
	h, err := s.acquire(id, false)
	if err != nil {
		return 0, err
	}
	n := 0
	if h != nil {
		n, err = h.f.ReadAt(p, off)
		s.release(h)
		if err != nil && err != io.EOF {
			return n, err
		}
	}
	clear(p[n:])
	return len(p), nil
}

// WriteAt implements content.Store.
func (s *Store) WriteAt(id uint64, p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) < off {
		return 0, errOffset
	}
	h, err := s.acquire(id, true)
	if err != nil {
		return 0, err
	}
	defer s.release(h)
	return h.f.WriteAt(p, off)
}

// Truncate implements content.Store. A missing file truncated to zero
// stays missing: the two read the same.
func (s *Store) Truncate(id uint64, size int64) error {
	if size < 0 {
		return errOffset
	}
	h, err := s.acquire(id, size > 0)
	if err != nil || h == nil {
		return err
	}
	defer s.release(h)
	return h.f.Truncate(size)
}

// Sync implements content.Store. Syncing a file that does not exist is a
// no-op: it holds nothing.
func (s *Store) Sync(id uint64) error {
	h, err := s.acquire(id, false)
	if err != nil || h == nil {
		return err
	}
	err = h.f.Sync()
	s.release(h)
	if err != nil {
		return err
	}
	return s.syncDirs(id)
}

// syncDirs fsyncs the directories on id's path that gained entries since
// their last fsync, innermost first, so a parent never names a child
// directory that could vanish.
func (s *Store) syncDirs(id uint64) error {
	_, leaf, mid := s.path(id)
	for _, d := range []string{leaf, mid, s.root} {
		s.mu.Lock()
		// Cleared before the fsync: an entry added after this point
		// marks the directory again.
		need := s.dirty[d]
		delete(s.dirty, d)
		s.mu.Unlock()
		if !need {
			continue
		}
		if err := syncDir(d); err != nil {
			s.mu.Lock()
			s.dirty[d] = true
			s.mu.Unlock()
			return err
		}
	}
	return nil
}

func syncDir(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// Remove implements content.Store.
func (s *Store) Remove(id uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if h := s.open[id]; h != nil {
		s.evict(h)
	}
	name, _, _ := s.path(id)
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// StatFS implements content.Store: the host file system's size and the
// space available to this process.
func (s *Store) StatFS() (total, free uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(s.root, &st); err != nil {
		return 0, 0, err
	}
	return st.Blocks * uint64(st.Bsize), st.Bavail * uint64(st.Bsize), nil
}

// Close implements content.Store. Files in use are closed by their last
// user.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	for s.lru.next != &s.lru {
		s.evict(s.lru.next)
	}
	return nil
}
