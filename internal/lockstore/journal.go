package lockstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/meta"
)

// Bucket is the metadata store bucket of the lock table: the key is a
// lock.FileKey's binary form, the value the file's lock.AppendRecords.
const Bucket = "lock"

// ClaimBucket holds the claims (lock.Claim): the key is the file key's
// binary form, the protocol's byte and the client's name; the value is
// empty.
const ClaimBucket = "lockclaim"

// Defaults of Options.
const (
	DefaultSyncEvery = time.Second
	DefaultLinger    = 30 * time.Second
)

// Options configure a Journal.
type Options struct {
	Logger *slog.Logger
	// Claims are the claims the store holds already (Load's).
	Claims []lock.Claim
	// SyncEvery bounds how long a lazily written change waits for a
	// synced write: the exact state behind a claim is durable this soon.
	SyncEvery time.Duration
	// Linger is how long a claim is kept after its client's last state on
	// the file went, so that a client that locks and unlocks again and
	// again makes it durable once.
	Linger time.Duration
	// Redo is the path of the redo log (redo.go), which Replay has
	// emptied; empty: none, and the store's unsynced writes carry what is
	// not synced.
	Redo string
	// Base is the tag to go on from (Loaded.Base).
	Base uint64
}

// ErrClosed is returned by a Journal that was closed.
var ErrClosed = errors.New("lockstore: journal closed")

// Journal writes a lock.Manager's changes to a metadata store (see the
// package documentation). It is safe for concurrent use.
type Journal struct {
	mgr       *lock.Manager
	store     meta.Store
	log       *slog.Logger
	syncEvery time.Duration
	linger    time.Duration

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

	claims    map[lock.Claim]*claim
	newClaims []lock.Claim // to put in the next synced write
	oldClaims []lock.Claim // to delete in the next write

	// wmu orders the writes: the committer's batches and the redo log
	// writes that Granted and Released make in their callers' goroutines
	// (a hand-off to the committer costs two goroutine switches per
	// request). It guards what follows.
	wmu      sync.Mutex
	redo     *redoLog
	unsynced map[lock.FileKey]bool // files whose latest state is only in the redo log
	pending  map[string]kvOp       // records only in the redo log, by bucket and key
	base     uint64                // tags start here in this run
	lastTag  uint64
	scratch  []byte
	nowBuf   []lock.FileState
}

// claim is the journal's state of a lock.Claim.
type claim struct {
	durable bool
	idle    time.Time // when its client was first seen without state on the file; zero: it has some
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
func New(mgr *lock.Manager, store meta.Store, opt Options) (*Journal, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.SyncEvery <= 0 {
		opt.SyncEvery = DefaultSyncEvery
	}
	if opt.Linger <= 0 {
		opt.Linger = DefaultLinger
	}
	j := &Journal{mgr: mgr, store: store, log: opt.Logger, syncEvery: opt.SyncEvery, linger: opt.Linger,
		kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}),
		claims: make(map[lock.Claim]*claim)}
	for _, c := range opt.Claims {
		j.claims[c] = &claim{durable: true}
	}
	j.written, j.durable = mgr.Seq(), mgr.Seq()
	j.unsynced, j.pending, j.base = map[lock.FileKey]bool{}, map[string]kvOp{}, opt.Base
	if opt.Redo != "" {
		r, err := openRedo(opt.Redo)
		if err != nil {
			return nil, fmt.Errorf("lock redo log: %w", err)
		}
		j.redo = r
		if err := writeBoot(opt.Redo); err != nil {
			r.close()
			return nil, fmt.Errorf("lock redo log: %w", err)
		}
	}
	j.wg.Add(1)
	go j.run()
	return j, nil
}

// Sync returns once every change the manager made, and every record put,
// before the call is durable in the store.
func (j *Journal) Sync(ctx context.Context) error {
	// A synced write of its own: Put records and lazily written changes
	// only the redo log holds go to the store with it.
	return j.with(ctx, func(meta.Tx) error { return nil }, true)
}

// Granted implements lock.Journal: it returns once a grant to o on file k
// that the manager made before the call survives a crash. The first grant
// to o's client on the file waits for a synced write of the file's state
// and of the client's claim on it; while the claim stands, later grants
// there are written without waiting (and synced within SyncEvery): after
// a crash the claim stands for them (lock.Manager.Recover).
func (j *Journal) Granted(ctx context.Context, k lock.FileKey, o lock.Owner) error {
	c := lock.ClaimOf(k, o)
	target := j.mgr.Seq()
	j.mu.Lock()
	cl := j.claims[c]
	if cl != nil && cl.durable {
		cl.idle = time.Time{}
		j.mu.Unlock()
		if j.redo != nil {
			return j.writeNow(target)
		}
		return j.waitFor(ctx, target, false)
	}
	if cl == nil {
		j.claims[c] = &claim{}
		j.newClaims = append(j.newClaims, c)
	}
	j.mu.Unlock()
	return j.wait(ctx, target)
}

// Lazy asks for the changes made so far to be written without waiting for
// them (a release).
func (j *Journal) Lazy() { j.wake() }

// Released implements lock.Journal: it returns once the changes the
// manager made before the call are written where a kill of the process
// cannot lose them (the redo log), without waiting for the disk.
func (j *Journal) Released(ctx context.Context) error {
	if j.redo != nil {
		return j.writeNow(j.mgr.Seq())
	}
	return j.waitFor(ctx, j.mgr.Seq(), false)
}

// nextTag is the tag of the next write: above every earlier one, of this
// run and (through base) of the earlier ones, so that Replay and Load can
// tell which of two writes came last. Call with wmu held.
func (j *Journal) nextTag(seq uint64) uint64 {
	j.lastTag = max(j.lastTag+1, j.base+seq)
	return j.lastTag
}

// writeNow writes the manager's changes up to change number target (at
// least), and kv, to the redo log, in the caller's goroutine.
func (j *Journal) writeNow(target uint64, kv ...kvOp) error {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	j.mu.Lock()
	done, closed := j.written >= target && len(kv) == 0, j.closed
	j.mu.Unlock()
	switch {
	case done:
		return nil
	case closed:
		return ErrClosed
	}
	changes, seq := j.mgr.Changes(j.nowBuf[:0])
	var err error
	if len(changes) > 0 || len(kv) > 0 {
		j.scratch, err = j.redo.append(j.nextTag(seq), changes, kv, j.scratch)
	}
	if err == nil {
		for _, o := range kv {
			j.pending[o.bucket+"\x00"+string(o.key)] = o
		}
	}
	if err != nil {
		keys := make([]lock.FileKey, len(changes))
		for i, c := range changes {
			keys[i] = c.File
		}
		j.mgr.Unwritten(keys)
		j.log.Error("lock state not persisted", "files", len(changes), "err", err)
		err = fmt.Errorf("persist lock state: %w", err)
	} else {
		for _, c := range changes {
			j.unsynced[c.File] = true
		}
	}
	clear(changes)
	j.nowBuf = changes[:0]
	j.mu.Lock()
	if err == nil && seq > j.written {
		j.written = seq
	}
	j.mu.Unlock()
	return err
}

// SyncWith runs fn in the transaction of the next synced write, which also
// holds every change the manager made before the call, and returns once it
// is durable (or fn's error: then nothing of that write is kept, and the
// manager's changes go out in the next one).
func (j *Journal) SyncWith(ctx context.Context, fn func(meta.Tx) error) error {
	return j.with(ctx, fn, true)
}

// Put sets a record of another subsystem (bucket, key) to value: written
// before it returns where a kill of the process cannot lose it (the redo
// log, with the manager's changes made before the call), and durable in
// the store within Options.SyncEvery. Without a redo log it is a store
// write that is not waited for to be durable.
func (j *Journal) Put(ctx context.Context, bucket string, key, value []byte) error {
	return j.kv(ctx, kvOp{bucket: bucket, key: bytes.Clone(key), value: bytes.Clone(value)})
}

// Delete removes a record of another subsystem as Put sets one.
func (j *Journal) Delete(ctx context.Context, bucket string, key []byte) error {
	return j.kv(ctx, kvOp{bucket: bucket, key: bytes.Clone(key), del: true})
}

func (j *Journal) kv(ctx context.Context, o kvOp) error {
	if j.redo != nil {
		return j.writeNow(j.mgr.Seq(), o)
	}
	return j.with(ctx, func(tx meta.Tx) error { return writeKV(tx, o) }, false)
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
	return j.waitFor(ctx, target, true)
}

// waitFor returns once the state at change number target is durable, or,
// without durable, written where a kill of the process cannot lose it.
func (j *Journal) waitFor(ctx context.Context, target uint64, durable bool) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for {
		if j.durable >= target || !durable && j.written >= target {
			return nil
		}
		switch {
		case j.closed:
			return ErrClosed
		case j.failed >= target && j.err != nil:
			return j.err
		}
		if durable && j.wantSync < target {
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
	if j.redo != nil {
		j.redo.close()
	}
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
	tick := time.NewTicker(j.syncEvery)
	defer tick.Stop()
	sweep := time.Now()
	for {
		select {
		case <-j.kick:
		case now := <-tick.C:
			j.mu.Lock()
			if j.written > j.durable {
				j.wantSync = max(j.wantSync, j.written)
			}
			j.mu.Unlock()
			if now.Sub(sweep) >= j.linger/2 {
				j.sweep(now)
				sweep = now
			}
		case <-j.quit:
			return
		}
		buf = j.batch(buf[:0])
	}
}

// sweep forgets the claims whose client has had no state on the file for
// Linger: their deletion goes out with the next write.
func (j *Journal) sweep(now time.Time) {
	j.mu.Lock()
	cs := make([]lock.Claim, 0, len(j.claims))
	for c, cl := range j.claims {
		if cl.durable {
			cs = append(cs, c)
		}
	}
	j.mu.Unlock()
	held := map[lock.Claim]bool{}
	files := map[lock.FileKey]bool{}
	for _, c := range cs {
		if files[c.File] {
			continue
		}
		files[c.File] = true
		for _, r := range j.mgr.FileRecords(c.File) {
			held[lock.ClaimOf(c.File, r.Owner)] = true
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range cs {
		cl := j.claims[c]
		switch {
		case cl == nil || !cl.durable:
		case held[c]:
			cl.idle = time.Time{}
		case cl.idle.IsZero():
			cl.idle = now
		case now.Sub(cl.idle) >= j.linger:
			delete(j.claims, c)
			j.oldClaims = append(j.oldClaims, c)
		}
	}
}

// batch writes one batch: the manager's changes and the other subsystems'
// writes, synced when anyone waits for durability. Unsynced changes go to
// the redo log when there is one.
func (j *Journal) batch(buf []lock.FileState) []lock.FileState {
	j.wmu.Lock()
	defer j.wmu.Unlock()
	j.mu.Lock()
	ops := j.ops
	j.ops = nil
	sync := j.wantSync > j.durable || len(j.newClaims) > 0
	for _, o := range ops {
		sync = sync || o.sync
	}
	newClaims, oldClaims := j.newClaims, j.oldClaims
	j.newClaims, j.oldClaims = nil, nil
	j.mu.Unlock()
	if j.redo != nil && len(oldClaims) > 0 {
		sync = true // the redo log holds file states, not claims
	}
	changes, seq := j.mgr.Changes(buf)
	tag := j.nextTag(seq)
	var err error
	switch {
	case !sync && j.redo != nil:
		if len(changes) > 0 {
			j.scratch, err = j.redo.append(tag, changes, nil, j.scratch)
			for _, c := range changes {
				j.unsynced[c.File] = true
			}
		}
		if err == nil && len(ops) > 0 {
			err = j.writeStore(nil, ops, nil, nil, tag, false) // not reached: Put and Delete go to the redo log
		}
	case sync || len(changes) > 0 || len(oldClaims) > 0:
		err = j.writeStore(changes, ops, newClaims, oldClaims, tag, sync)
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
		j.newClaims = append(j.newClaims, newClaims...)
		j.oldClaims = append(j.oldClaims, oldClaims...)
	} else {
		j.written = seq
		if sync {
			j.durable = seq
			for _, c := range newClaims {
				if cl := j.claims[c]; cl != nil {
					cl.durable = true
				}
			}
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

// writeStore writes changes, with the current state of the files only the
// redo log holds, claims and ops to the store; synced, it then empties the
// redo log.
func (j *Journal) writeStore(changes []lock.FileState, ops []*op, newClaims, oldClaims []lock.Claim, tag uint64, sync bool) error {
	var extra []lock.FileState
	var kv []kvOp
	if sync {
		for k := range j.unsynced {
			extra = append(extra, lock.FileState{File: k, Records: j.mgr.FileRecords(k)})
		}
		for _, o := range j.pending {
			kv = append(kv, o)
		}
	}
	update := j.store.UpdateLazy
	if sync {
		update = j.store.Update
	}
	err := update(context.Background(), func(tx meta.Tx) error {
		if err := writeClaims(tx, oldClaims, newClaims); err != nil {
			return err
		}
		if err := writeChanges(tx, extra, tag); err != nil {
			return err
		}
		if err := writeChanges(tx, changes, tag); err != nil {
			return err
		}
		for _, o := range kv {
			if err := writeKV(tx, o); err != nil {
				return err
			}
		}
		if sync {
			if err := putSyncedTag(tx, tag); err != nil {
				return err
			}
		}
		for _, o := range ops {
			if o.err = o.fn(tx); o.err != nil {
				return o.err
			}
		}
		return nil
	})
	if err == nil && sync && len(changes)+len(extra)+len(kv)+len(ops)+len(newClaims)+len(oldClaims) == 0 {
		err = j.store.Sync()
	}
	if err != nil || !sync {
		return err
	}
	clear(j.unsynced)
	clear(j.pending)
	if j.redo != nil {
		return j.redo.reset()
	}
	return nil
}

// writeChanges puts each file's state, tagged (a uvarint before its
// lock.AppendRecords), or deletes the file's key when it has none.
func writeChanges(tx meta.Tx, changes []lock.FileState, tag uint64) error {
	var key, val []byte
	for _, c := range changes {
		key, _ = c.File.AppendBinary(key[:0])
		if len(c.Records) == 0 {
			if err := tx.Delete(Bucket, key); err != nil && !errors.Is(err, meta.ErrNotFound) {
				return err
			}
			continue
		}
		val = binary.AppendUvarint(val[:0], tag)
		val = lock.AppendRecords(val, c.Records)
		if err := tx.Put(Bucket, key, val); err != nil {
			return err
		}
	}
	return nil
}

// claimKey is a claim's key in ClaimBucket.
func claimKey(b []byte, c lock.Claim) []byte {
	b, _ = c.File.AppendBinary(b[:0])
	b = append(b, byte(c.Proto))
	return append(b, c.Host...)
}

func writeClaims(tx meta.Tx, old, new []lock.Claim) error {
	var key []byte
	for _, c := range old {
		key = claimKey(key, c)
		if err := tx.Delete(ClaimBucket, key); err != nil && !errors.Is(err, meta.ErrNotFound) {
			return err
		}
	}
	for _, c := range new {
		key = claimKey(key, c)
		if err := tx.Put(ClaimBucket, key, nil); err != nil {
			return err
		}
	}
	return nil
}
