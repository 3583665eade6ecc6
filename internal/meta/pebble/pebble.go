// Package pebble is the embedded persistent metadata store: the records of
// package kv kept in a Pebble LSM tree in one directory, with nothing else
// to run.
//
// # Transactions
//
// An Update builds an indexed batch (reads see the batch over the committed
// state, so the transaction reads its own writes) and applies it atomically
// under the writer semaphore, so Updates are serialized and a later Update
// reads everything an earlier one wrote. A View reads a Pebble snapshot, so
// it sees every Update whole or not at all and never waits for one.
//
// # Durability and group commit
//
// Update applies its batch with a WAL sync requested but not awaited, lets
// the next writer in, and only then waits for the sync. Writers that commit
// while a sync is in flight are covered by the next one, so N concurrent
// Updates cost far fewer than N fsyncs, and every Update returns only once
// its batch (and everything applied before it, the WAL being sequential) is
// on disk. UpdateLazy skips the wait; Sync writes an empty synced record,
// which makes everything before it durable. After a kill -9 the store opens
// with every Update that returned.
package pebble

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/tandemfs/tandem/internal/meta"
	"github.com/tandemfs/tandem/internal/meta/kv"
)

// Store is a meta.Store on a Pebble database.
type Store struct {
	db     *pebble.DB
	writer chan struct{} // one-slot semaphore: one Update at a time
	ids    *kv.IDs

	mu       sync.RWMutex // guards closed and the Add of inflight
	closed   bool
	inflight sync.WaitGroup // calls Close waits for

	txs sync.Pool // *kv.Tx, keeping their scratch buffers
}

var _ meta.Store = (*Store)(nil)

// Open opens the store in dir, creating both when missing. Only one process
// may have a store open; a second Open fails while the first holds it.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	db, err := pebble.Open(dir, options())
	if err != nil {
		return nil, err
	}
	// The id high-water mark is raised in a write of its own, synced
	// before any id under it is used.
	ids, err := kv.NewIDs(reader{db}, func(k, v []byte) error { return db.Set(k, v, pebble.Sync) })
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, writer: make(chan struct{}, 1), ids: ids}, nil
}

// options tunes Pebble for metadata: small records, many point lookups
// (most of them for names that do not exist yet, which bloom filters answer
// without reading a block), short range scans, and a working set that
// should stay in the block cache.
func options() *pebble.Options {
	o := &pebble.Options{
		// Pinned, so a dependency upgrade never ratchets the on-disk
		// format without a deliberate change here.
		FormatMajorVersion:          pebble.FormatValueSeparation,
		CacheSize:                   64 << 20,
		MemTableSize:                32 << 20,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       2,
		L0StopWritesThreshold:       1000,
		MaxOpenFiles:                1000,
		Logger:                      quietLogger{},
	}
	for i := range o.Levels {
		o.Levels[i].BlockSize = 16 << 10
		o.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	o.CompactionConcurrencyRange = func() (int, int) { return 1, 2 }
	return o
}

// quietLogger drops Pebble's informational messages; errors still go to
// the default logger.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any) {}
func (quietLogger) Errorf(format string, args ...any) {
	pebble.DefaultLogger.Errorf(format, args...)
}
func (quietLogger) Fatalf(format string, args ...any) {
	pebble.DefaultLogger.Fatalf(format, args...)
}

// enter registers a call that Close must wait for.
func (s *Store) enter() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return meta.ErrClosed
	}
	s.inflight.Add(1)
	return nil
}

func (s *Store) tx(r kv.Reader, w kv.Writer) *kv.Tx {
	var ids *kv.IDs
	if w != nil {
		ids = s.ids
	}
	if t, ok := s.txs.Get().(*kv.Tx); ok {
		t.Reset(r, w, ids)
		return t
	}
	return kv.NewTx(r, w, ids)
}

// done ends t and pools it. Ending it first turns most uses of a Tx kept
// past its function into ErrTxDone (as the interface forbids such use, the
// rest is the caller's bug, as with any pooled object).
func (s *Store) done(t *kv.Tx) {
	t.Reset(nil, nil, nil)
	s.txs.Put(t)
}

// View implements meta.Store.
func (s *Store) View(ctx context.Context, fn func(meta.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.inflight.Done()
	snap := s.db.NewSnapshot()
	defer snap.Close()
	t := s.tx(reader{snap}, nil)
	defer s.done(t)
	return fn(t)
}

// Update implements meta.Store.
func (s *Store) Update(ctx context.Context, fn func(meta.Tx) error) error {
	return s.update(ctx, fn, true)
}

// UpdateLazy implements meta.Store.
func (s *Store) UpdateLazy(ctx context.Context, fn func(meta.Tx) error) error {
	return s.update(ctx, fn, false)
}

func (s *Store) update(ctx context.Context, fn func(meta.Tx) error, durable bool) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.inflight.Done()
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	b := s.db.NewIndexedBatch()
	defer b.Close()
	waitSync, err := s.apply(b, fn, durable)
	if err == nil && waitSync {
		// Outside the semaphore: the next writer applies while this
		// sync runs, and is covered by it or by the one after.
		err = b.SyncWait()
	}
	return err
}

// apply runs fn on b and commits b, holding the writer semaphore (released
// even if fn panics). It reports whether a sync is pending on b.
func (s *Store) apply(b *pebble.Batch, fn func(meta.Tx) error, durable bool) (bool, error) {
	defer func() { <-s.writer }()
	rw := batch{reader{b}}
	t := s.tx(rw, rw)
	err := fn(t)
	s.done(t)
	if err != nil || b.Empty() {
		return false, err
	}
	if !durable {
		return false, s.db.Apply(b, pebble.NoSync)
	}
	if err := s.db.ApplyNoSyncWait(b, pebble.Sync); err != nil {
		return false, err
	}
	return true, nil
}

// Sync implements meta.Store.
func (s *Store) Sync() error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.inflight.Done()
	return s.db.LogData(nil, pebble.Sync)
}

// Close implements meta.Store: it waits for calls in progress, makes every
// change durable and closes the database. Later calls return
// meta.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return meta.ErrClosed
	}
	s.closed = true
	s.mu.Unlock()
	s.inflight.Wait()
	err := s.db.LogData(nil, pebble.Sync)
	return errors.Join(err, s.db.Close())
}

// reader is the kv.Reader of a snapshot or an indexed batch.
type reader struct {
	r interface {
		Get(key []byte) ([]byte, io.Closer, error)
		NewIter(*pebble.IterOptions) (*pebble.Iterator, error)
	}
}

func (r reader) Get(key, dst []byte) ([]byte, error) {
	v, c, err := r.r.Get(key)
	if err == pebble.ErrNotFound {
		return dst, meta.ErrNotFound
	}
	if err != nil {
		return dst, err
	}
	dst = append(dst, v...)
	return dst, c.Close()
}

func (r reader) Range(start, end []byte, fn func(k, v []byte) bool) error {
	it, err := r.r.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		if !fn(it.Key(), v) {
			break
		}
	}
	return it.Close()
}

// batch adds the kv.Writer of an indexed batch.
type batch struct{ reader }

func (b batch) Set(key, value []byte) error {
	return b.r.(*pebble.Batch).Set(key, value, nil)
}

func (b batch) Delete(key []byte) error {
	return b.r.(*pebble.Batch).Delete(key, nil)
}
