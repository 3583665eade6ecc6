package fs

import (
	"context"
	"sync"

	"github.com/tandemfs/tandem/internal/meta"
)

// The inode cache keeps committed inodes in memory for the requests that
// read one inode alone (GETATTR, READ, WRITE, ACCESS, COMMIT and their SMB
// counterparts), which would otherwise open a store snapshot each.
//
// Every change of an inode goes through FS.meta, a cachingStore: after a
// transaction that put or deleted an inode returns, the inode is dropped
// from the cache, before the operation that changed it answers, so the
// next request of any protocol reads it from the store again. An inode is
// cached by the request that read it only if no change dropped anything in
// its shard between the read's start and the fill; a read that raced a
// change leaves the cache as it was. Only one server uses a store at a
// time (the PostgreSQL store refuses a second), so nothing changes inodes
// behind this cache's back.

const (
	inodeShards     = 64
	inodeShardLimit = 1024 // inodes kept per shard
)

type inodeCache struct {
	shards [inodeShards]inodeShard
}

type inodeShard struct {
	mu    sync.Mutex
	epoch uint64 // bumped by every drop
	m     map[uint64]meta.Inode
}

func (c *inodeCache) shard(id uint64) *inodeShard { return &c.shards[id%inodeShards] }

// get returns the cached inode id.
func (c *inodeCache) get(id uint64) (meta.Inode, bool) {
	s := c.shard(id)
	s.mu.Lock()
	ino, ok := s.m[id]
	s.mu.Unlock()
	return ino, ok
}

// epoch is the shard's change count, taken before reading id from the store.
func (c *inodeCache) epoch(id uint64) uint64 {
	s := c.shard(id)
	s.mu.Lock()
	e := s.epoch
	s.mu.Unlock()
	return e
}

// fill caches ino, read from the store after epoch was taken, unless a
// change dropped something of its shard since.
func (c *inodeCache) fill(epoch uint64, ino *meta.Inode) {
	s := c.shard(ino.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch != epoch {
		return
	}
	if s.m == nil {
		s.m = make(map[uint64]meta.Inode)
	}
	if len(s.m) >= inodeShardLimit {
		for k := range s.m { // any one: map order is random enough
			delete(s.m, k)
			break
		}
	}
	s.m[ino.ID] = *ino
}

// drop forgets the inodes ids.
func (c *inodeCache) drop(ids []uint64) {
	for _, id := range ids {
		s := c.shard(id)
		s.mu.Lock()
		s.epoch++
		delete(s.m, id)
		s.mu.Unlock()
	}
}

// cachingStore is the metadata store as the file system uses it: every
// transaction's inode changes drop those inodes from the cache when it
// returns.
type cachingStore struct {
	meta.Store
	inodes *inodeCache
}

func (s cachingStore) Update(ctx context.Context, fn func(meta.Tx) error) error {
	r := getRecorder(fn)
	defer r.free()
	err := s.Store.Update(ctx, r.run)
	s.inodes.drop(r.ids)
	return err
}

func (s cachingStore) UpdateLazy(ctx context.Context, fn func(meta.Tx) error) error {
	r := getRecorder(fn)
	defer r.free()
	err := s.Store.UpdateLazy(ctx, r.run)
	s.inodes.drop(r.ids)
	return err
}

// recorder runs a transaction function with a Tx that notes the inodes it
// puts or deletes. Pooled, with run bound once, so that an update
// allocates no closure.
type recorder struct {
	fn  func(meta.Tx) error
	ids []uint64
	tx  recordingTx
	run func(meta.Tx) error
}

var recorders = sync.Pool{New: func() any {
	r := new(recorder)
	r.tx.r = r
	r.run = r.runFn
	return r
}}

func getRecorder(fn func(meta.Tx) error) *recorder {
	r := recorders.Get().(*recorder)
	r.fn = fn
	return r
}

func (r *recorder) free() {
	r.fn, r.ids, r.tx.Tx = nil, r.ids[:0], nil
	recorders.Put(r)
}

// runFn keeps the ids of earlier attempts: a backend that retries a
// transaction drops a superset, which is harmless.
func (r *recorder) runFn(tx meta.Tx) error {
	r.tx.Tx = tx
	return r.fn(&r.tx)
}

type recordingTx struct {
	meta.Tx
	r *recorder
}

func (t *recordingTx) PutInode(ino *meta.Inode) error {
	t.r.ids = append(t.r.ids, ino.ID)
	return t.Tx.PutInode(ino)
}

func (t *recordingTx) DeleteInode(id uint64) error {
	t.r.ids = append(t.r.ids, id)
	return t.Tx.DeleteInode(id)
}

// loadInode reads the inode call.h names into call.ino, from the cache when
// it is there: ErrStale if it is gone or was replaced.
func (f *FS) loadInode(ctx context.Context, call *ioCall) error {
	if ino, ok := f.inodes.get(call.h.ID); ok {
		if ino.Gen != call.h.Gen {
			return ErrStale
		}
		call.ino = ino
		return nil
	}
	e := f.inodes.epoch(call.h.ID)
	if err := f.meta.View(ctx, call.load); err != nil {
		return err
	}
	f.inodes.fill(e, &call.ino)
	return nil
}
