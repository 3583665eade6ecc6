// Package localfs keeps file content on the local file system: one host
// file per Tandem file, at DIR/content/ab/cd/<id as 16 hex digits>, where
// ab and cd are two bytes of the id in hex (layout.go says which), so that
// files spread evenly over 65,536 directories and no directory grows past
// what a host file system lists quickly.
//
// Host files are sparse: holes and unwritten ranges cost no disk and read
// as zeros. A bounded cache of open files (least recently used goes first)
// saves an open and a close per request; a file in use when it is evicted is
// closed by its last user.
//
// Sync makes a file's data durable with fdatasync (the host file's times
// mean nothing: Tandem keeps a file's times in the metadata store, so a
// journal commit for a changed mtime would be wasted; a changed size or new
// blocks are flushed by fdatasync too) and, the first time after the
// file or one of its fan-out directories was created, fsyncs the
// directories too (at the same time as the file: the reply waits for both,
// and on a journaling file system they mostly share one journal commit), so
// a synced file is still reachable after a power loss. Sync skips what
// needs nothing: a file not written since its last completed fsync, a
// directory with no entry added since its last completed fsync. Each is
// tracked as a pair of counters (changes made, changes covered by a
// finished fsync) rather than a flag, so a Sync that runs while another's
// fsync is still in flight never mistakes "being synced" for "synced".
//
// A host file is created by the first write, not when the Tandem file is
// made: a missing host file reads as empty, so creating a file costs the
// content store nothing. Remove unlinks without syncing: a removal undone
// by a crash leaves a host file no inode refers to (ids are never reused),
// never wrong bytes in a live file.
package localfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
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
	layout  int    // layoutLow or layoutBlock
	maxOpen int

	mu     sync.Mutex
	open   map[uint64]*handle
	lru    handle               // sentinel of the ring of cached handles, most recent first
	dirty  map[string]*dirState // directories with entries not yet fsynced
	dirSeq uint64               // numbers every entry added, in order
	closed bool
}

// dirState is the number of the last entry added to a directory and the
// number up to which a finished fsync covers them; the directory needs an
// fsync while synced < added. Numbers come from one sequence for all
// directories, so an fsync that finishes after its directory was forgotten
// and marked again cannot claim the newer entries.
type dirState struct{ added, synced uint64 }

// handle is a cached open host file.
type handle struct {
	id         uint64
	f          *os.File
	refs       int  // calls using f now
	cached     bool // in open and on the ring; otherwise the last user closes f
	prev, next *handle

	// written counts changes to f (bumped after each write or truncate
	// returns); synced is the count the last finished fsync covered. A
	// newly opened handle starts with one change: what was written
	// through an earlier, evicted handle may not be synced.
	written, synced atomic.Uint64
}

var _ content.Store = (*Store)(nil)

// Open opens (creating when missing) the content store in dir.
func Open(dir string) (*Store, error) {
	root := filepath.Join(dir, "content")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	layout, err := openLayout(root)
	if err != nil {
		return nil, err
	}
	s := &Store{
		root:    root,
		layout:  layout,
		maxOpen: DefaultMaxOpen,
		open:    make(map[uint64]*handle),
		dirty:   make(map[string]*dirState),
	}
	s.lru.prev, s.lru.next = &s.lru, &s.lru
	return s, nil
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
	var f *os.File
	var err error
	if create {
		// A write that opens a file usually makes it (the first write of
		// a new file): try that first, one system call instead of a
		// failed open and a create.
		f, err = s.create(name, leaf, mid)
		if errors.Is(err, fs.ErrExist) {
			f, err = os.OpenFile(name, os.O_RDWR, 0)
		}
	} else {
		f, err = os.OpenFile(name, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	if err != nil {
		return nil, err
	}
	h := &handle{id: id, f: f, refs: 1, cached: true}
	h.written.Store(1)
	s.open[id] = h
	s.pushFront(h)
	for len(s.open) > s.maxOpen {
		s.evict(s.lru.prev)
	}
	return h, nil
}

// create makes a new host file, and its directories when missing, noting
// which directories gained entries that Sync must make durable. An
// existing file is fs.ErrExist.
func (s *Store) create(name, leaf, mid string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		for _, d := range [][2]string{{mid, s.root}, {leaf, mid}} {
			switch err := os.Mkdir(d[0], 0o700); {
			case err == nil:
				s.markDir(d[1])
			case !errors.Is(err, fs.ErrExist):
				return nil, err
			}
		}
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	}
	if err == nil {
		s.markDir(leaf)
	}
	return f, err
}

// markDir notes an entry added to dir. Requires s.mu.
func (s *Store) markDir(dir string) {
	d := s.dirty[dir]
	if d == nil {
		d = new(dirState)
		s.dirty[dir] = d
	}
	s.dirSeq++
	d.added = s.dirSeq
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
	n, err := h.f.WriteAt(p, off)
	if n > 0 || err != nil {
		h.written.Add(1)
	}
	return n, err
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
	err = h.f.Truncate(size)
	h.written.Add(1)
	return err
}

// Sync implements content.Store. Syncing a file that does not exist is a
// no-op: it holds nothing. The file and the directories that gained
// entries on its path are fsynced concurrently; Sync returns when all are
// durable.
func (s *Store) Sync(id uint64) error {
	h, err := s.acquire(id, false)
	if err != nil || h == nil {
		return err
	}
	defer s.release(h)
	dirs := s.dirsToSync(id)
	var dirErr chan error
	if len(dirs) > 0 {
		dirErr = make(chan error, 1)
		go func() { dirErr <- s.syncDirs(dirs) }()
	}
	if w := h.written.Load(); h.synced.Load() < w {
		if err = fdatasync(h.f); err == nil {
			raise(&h.synced, w)
		}
	}
	if dirErr != nil {
		err = errors.Join(err, <-dirErr)
	}
	return err
}

// raise sets v to n unless it is already at least n.
func raise(v *atomic.Uint64, n uint64) {
	for {
		old := v.Load()
		if old >= n || v.CompareAndSwap(old, n) {
			return
		}
	}
}

// dirToSync is a directory on a file's path with entries no finished
// fsync covers, and the count of entries the fsync about to start covers.
type dirToSync struct {
	name  string
	added uint64
}

// dirsToSync returns the directories on id's path that need an fsync.
func (s *Store) dirsToSync(id uint64) []dirToSync {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.dirty) == 0 {
		return nil
	}
	_, leaf, mid := s.path(id)
	var out []dirToSync
	for _, name := range [...]string{leaf, mid, s.root} {
		if d := s.dirty[name]; d != nil && d.synced < d.added {
			out = append(out, dirToSync{name, d.added})
		}
	}
	return out
}

// syncDirs fsyncs dirs, innermost first, and records what each fsync
// covered; a directory whose every entry is covered is forgotten.
func (s *Store) syncDirs(dirs []dirToSync) error {
	for _, d := range dirs {
		if err := syncDir(d.name); err != nil {
			return err
		}
		s.mu.Lock()
		if st := s.dirty[d.name]; st != nil {
			st.synced = max(st.synced, d.added)
			if st.synced >= st.added {
				delete(s.dirty, d.name)
			}
		}
		s.mu.Unlock()
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
