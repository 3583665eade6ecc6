package lockstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/meta"
)

// Bucket is the metadata store bucket of the lock table: the key is a
// lock.FileKey's binary form, the value the file's lock.AppendRecords.
const Bucket = "lock"

// ErrClosed is returned by a Journal that was closed.
var ErrClosed = errors.New("lockstore: journal closed")

// Journal writes a lock.Manager's changes to a metadata store (see the
// package documentation). It is safe for concurrent use.
type Journal struct {
	mgr   *lock.Manager
	store meta.Store
	log   *slog.Logger

	kick chan struct{} // wakes the committer; one slot
	quit chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	written  uint64 // the manager's change number of the last state written
	durable  uint64 // ... of the last state made durable
	wantSync uint64 // the highest change number a Sync waits for
	ops      []*op  // other subsystems' writes for the next batch
	done     chan struct{}
	failed   uint64 // the change number of the last failed batch
	err      error  // its error
	closed   bool
}

// op is a write of another subsystem, done in a batch of the journal.
type op struct {
	fn   func(meta.Tx) error
	sync bool
	err  error
	done chan struct{}
}

// New starts a Journal of mgr's changes (mgr must have Config.Track set)
// into store. Close stops it.
func New(mgr *lock.Manager, store meta.Store, log *slog.Logger) *Journal {
	if log == nil {
		log = slog.Default()
	}
	j := &Journal{mgr: mgr, store: store, log: log, kick: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{})}
	j.written, j.durable = mgr.Seq(), mgr.Seq()
	j.wg.Add(1)
	go j.run()
	return j
}

// Sync returns once every change the manager made before the call is
// durable in the store.
func (j *Journal) Sync(ctx context.Context) error {
	return j.wait(ctx, j.mgr.Seq())
}

// Lazy asks for the changes made so far to be written without waiting for
// them (a release).
func (j *Journal) Lazy() { j.wake() }

// SyncWith runs fn in the transaction of the next synced write, which also
// holds every change the manager made before the call, and returns once it
// is durable (or fn's error: then nothing of that write is kept, and the
// manager's changes go out in the next one).
func (j *Journal) SyncWith(ctx context.Context, fn func(meta.Tx) error) error {
	return j.with(ctx, fn, true)
}

// LazyWith runs fn in the transaction of the next write without waiting
// for it to be durable; it returns fn's error once it ran.
func (j *Journal) LazyWith(ctx context.Context, fn func(meta.Tx) error) error {
	return j.with(ctx, fn, false)
}

func (j *Journal) with(ctx context.Context, fn func(meta.Tx) error, sync bool) error {
	o := &op{fn: fn, sync: sync, done: make(chan struct{})}
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return ErrClosed
	}
	j.ops = append(j.ops, o)
	j.mu.Unlock()
	j.wake()
	select {
	case <-o.done:
		return o.err
	case <-ctx.Done():
		return ctx.Err() // the write still happens; only the wait ends
	}
}

func (j *Journal) wake() {
	select {
	case j.kick <- struct{}{}:
	default:
	}
}

// wait returns once the state at change number target is durable.
func (j *Journal) wait(ctx context.Context, target uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.durable < target {
		switch {
		case j.closed:
			return ErrClosed
		case j.failed >= target && j.err != nil:
			return j.err
		}
		if j.wantSync < target {
			j.wantSync = target
		}
		j.wake()
		ch := j.done
		j.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			j.mu.Lock()
			return ctx.Err()
		}
		j.mu.Lock()
	}
	return nil
}

// Close writes what is left, synced, and stops the Journal.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.mu.Unlock()
	err := j.Sync(context.Background())
	close(j.quit)
	j.wg.Wait()
	j.mu.Lock()
	j.closed = true
	close(j.done) // the committer is gone: nobody else closes it
	ops := j.ops
	j.ops = nil
	j.mu.Unlock()
	for _, o := range ops {
		o.err = ErrClosed
		close(o.done)
	}
	return err
}

func (j *Journal) run() {
	defer j.wg.Done()
	var buf []lock.FileState
	for {
		select {
		case <-j.kick:
		case <-j.quit:
			return
		}
		buf = j.batch(buf[:0])
	}
}

// batch writes one batch: the manager's changes and the other subsystems'
// writes, synced when anyone waits for durability.
func (j *Journal) batch(buf []lock.FileState) []lock.FileState {
	j.mu.Lock()
	ops := j.ops
	j.ops = nil
	sync := j.wantSync > j.durable
	j.mu.Unlock()
	for _, o := range ops {
		sync = sync || o.sync
	}
	changes, seq := j.mgr.Changes(buf)
	var err error
	switch {
	case len(changes) > 0 || len(ops) > 0:
		update := j.store.UpdateLazy
		if sync {
			update = j.store.Update
		}
		err = update(context.Background(), func(tx meta.Tx) error {
			if err := writeChanges(tx, changes); err != nil {
				return err
			}
			for _, o := range ops {
				if o.err = o.fn(tx); o.err != nil {
					return o.err
				}
			}
			return nil
		})
	case sync:
		err = j.store.Sync()
	}
	if err != nil {
		keys := make([]lock.FileKey, len(changes))
		for i, c := range changes {
			keys[i] = c.File
		}
		j.mgr.Unwritten(keys)
		j.log.Error("lock state not persisted", "files", len(changes), "err", err)
	}
	j.mu.Lock()
	if err != nil {
		j.failed, j.err = seq, fmt.Errorf("persist lock state: %w", err)
	} else {
		j.written = seq
		if sync {
			j.durable = seq
		}
	}
	close(j.done)
	j.done = make(chan struct{})
	again := len(j.ops) > 0 || j.wantSync > j.durable && err == nil
	j.mu.Unlock()
	for _, o := range ops {
		if err != nil && o.err == nil {
			o.err = err
		}
		close(o.done)
	}
	if again {
		j.wake()
	}
	clear(changes)
	return changes[:0]
}

func writeChanges(tx meta.Tx, changes []lock.FileState) error {
	var key, val []byte
	for _, c := range changes {
		key, _ = c.File.AppendBinary(key[:0])
		if len(c.Records) == 0 {
			if err := tx.Delete(Bucket, key); err != nil && !errors.Is(err, meta.ErrNotFound) {
				return err
			}
			continue
		}
		val = lock.AppendRecords(val[:0], c.Records)
		if err := tx.Put(Bucket, key, val); err != nil {
			return err
		}
	}
	return nil
}
