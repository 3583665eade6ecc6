// Package s3 keeps file contents in an S3-compatible object store.
//
// # Blocks
//
// A file is cut into fixed-size blocks (Options.BlockSize, 4 MiB by
// default), each stored as an object of its own that is never changed:
// new contents of a block are uploaded as a new object, and the block map
// in the metadata store (blockmap.go) is switched to it. A 4 KiB write to
// a 1 GiB file uploads one block, not the file. Holes have no objects and
// read as zeros; so do the bytes of a block past its recorded length,
// which is how truncation cuts a block without uploading it again.
//
// # Write-back buffer
//
// Writes land in a bounded buffer in memory (Options.BufferSize) and
// return. A block that fills up is uploaded at once in the background, as
// are files whose writes have sat in the buffer for a few seconds, and
// writers wait while the buffer is full. Sync (NFS COMMIT and FILE_SYNC,
// SMB flush) uploads the file's buffered blocks in parallel, switches the
// map to them in one durable metadata transaction, and only then returns:
// a crash loses nothing synced. Background uploads switch the map lazily;
// Sync makes those durable too.
//
// Reads take what the buffer holds and fetch the rest with ranged GETs of
// the needed bytes only, several blocks in parallel.
//
// # Garbage
//
// An object falls out of use when a newer version of its block, a
// truncate or a remove replaces it in the map; the transaction that does
// so records it, and a collector deletes it afterwards, so a crash between
// the two leaves the record for the next start. An object uploaded by a
// process that crashed before its map switch is known to nobody: GC lists
// the bucket and deletes objects that the map does not name and that are
// older than a grace period (long enough for any upload to reach its
// commit). The store runs it at start and every few hours.
package s3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tandemfs/tandem/internal/content"
	"github.com/tandemfs/tandem/internal/meta"
)

// Options configure a Store.
type Options struct {
	Endpoint string // e.g. http://127.0.0.1:8333; empty: AWS
	Bucket   string
	Region   string // default us-east-1
	// Prefix is put before every object key, so one bucket can hold
	// several stores (default "tandem/").
	Prefix     string
	BlockSize  int   // default 4 MiB
	BufferSize int64 // write-back buffer bound, default 256 MiB
	Uploads    int   // parallel uploads (and ranged reads), default 8
	// GCGrace is how old an object no map entry names must be before
	// the sweep deletes it (default 1h).
	GCGrace time.Duration
	// GCEvery is how often the sweep runs (default 6h; negative: only
	// at start and when GC is called).
	GCEvery time.Duration
	Logger  *slog.Logger
}

func (o *Options) defaults() error {
	if o.Bucket == "" {
		return errors.New("s3: no bucket configured")
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.Prefix == "" {
		o.Prefix = "tandem/"
	}
	if o.BlockSize == 0 {
		o.BlockSize = 4 << 20
	}
	if o.BlockSize < 4096 || o.BlockSize > 1<<30 {
		return fmt.Errorf("s3: block size %d out of range [4 KiB, 1 GiB]", o.BlockSize)
	}
	if o.BufferSize == 0 {
		o.BufferSize = 256 << 20
	}
	o.BufferSize = max(o.BufferSize, 2*int64(o.BlockSize))
	if o.Uploads <= 0 {
		o.Uploads = 8
	}
	if o.GCGrace == 0 {
		o.GCGrace = time.Hour
	}
	if o.GCEvery == 0 {
		o.GCEvery = 6 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("content: store closed")

var errOffset = errors.New("content: negative offset or size")

// Store is a content.Store on S3.
type Store struct {
	o    Options
	c    *client
	meta meta.Store
	log  *slog.Logger

	ctx    context.Context // canceled by Close once everything is flushed
	cancel context.CancelFunc

	slots chan struct{} // one per upload or ranged read in flight

	mu       sync.Mutex
	room     *sync.Cond // on mu: buffered dropped, or the store closed
	files    map[uint64]*file
	buffered int64 // bytes held by buffered blocks
	closed   bool
	lazy     bool // a map change committed lazily since the last durable one
	// uploading names the objects being uploaded and not yet in the map,
	// which the sweep must not take for garbage.
	uploading map[string]struct{}

	kick    chan struct{} // wakes the flusher
	collect chan struct{} // wakes the collector
	wg      sync.WaitGroup
}

var _ content.Store = (*Store)(nil)

// Open connects to the bucket and starts the background work. The block
// map is kept in m, which must stay open until the Store is closed.
func Open(ctx context.Context, m meta.Store, o Options) (*Store, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	c, err := newClient(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := c.check(ctx); err != nil {
		return nil, err
	}
	s := &Store{
		o: o, c: c, meta: m, log: o.Logger,
		slots:     make(chan struct{}, o.Uploads),
		files:     map[uint64]*file{},
		uploading: map[string]struct{}{},
		kick:      make(chan struct{}, 1),
		collect:   make(chan struct{}, 1),
	}
	s.room = sync.NewCond(&s.mu)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(2)
	go s.flusher()
	go s.collector()
	s.wake(s.collect) // records left by an earlier run
	return s, nil
}

// Stats returns the counts of requests made so far.
func (s *Store) Stats() Stats { return s.c.stats() }

// BlockSize is the size of the store's blocks.
func (s *Store) BlockSize() int { return s.o.BlockSize }

func (s *Store) wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// StatFS implements content.Store. An object store has no size to report;
// the file system is reported as a petabyte, all free.
func (s *Store) StatFS() (total, free uint64, err error) {
	const pib = 1 << 50
	return pib, pib, nil
}

// Close implements content.Store: it uploads everything buffered, makes the
// block map durable, finishes deleting what the collector has to delete,
// and stops.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	files := make([]*file, 0, len(s.files))
	for _, f := range s.files {
		files = append(files, f)
	}
	s.room.Broadcast()
	s.mu.Unlock()
	var errs []error
	for _, f := range files {
		errs = append(errs, s.flushFile(f, flushAll, true))
	}
	s.cancel()
	s.wg.Wait()
	if err := s.syncMeta(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// syncMeta makes lazily committed map changes durable.
func (s *Store) syncMeta() error {
	s.mu.Lock()
	lazy := s.lazy
	s.lazy = false
	s.mu.Unlock()
	if !lazy {
		return nil
	}
	if err := s.meta.Sync(); err != nil {
		s.mu.Lock()
		s.lazy = true
		s.mu.Unlock()
		return err
	}
	return nil
}

// GC deletes objects that no block map entry names and that are older
// than grace, and returns how many it deleted. The store runs it on its
// own (Options.GCGrace, GCEvery); a test calls it with grace 0 once every
// writer is done.
func (s *Store) GC(ctx context.Context, grace time.Duration) (int, error) {
	if err := s.drainGC(ctx); err != nil {
		return 0, err
	}
	return s.sweep(ctx, grace)
}
