package fs

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/tandemfs/tandem/internal/meta"
)

// The inode cache keeps committed inodes in memory for the requests that
// read one inode alone (GETATTR, READ, WRITE, ACCESS, COMMIT and their SMB
// counterparts), which would otherwise open a store snapshot each, and
// directory entries for LOOKUP. A LOOKUP answers from the cache only when
// all it reads (directory, entry, file) is there; otherwise it reads all of
// it from one snapshot, so it never pairs an entry with a file removed
// since.
//
// Every change of an inode goes through FS.meta, a cachingStore: after a
// transaction that put or deleted an inode, or added or removed an entry,
// returns, those are dropped from the cache, before the operation that changed it answers, so the
// next request of any protocol reads it from the store again. An inode is
// cached by the request that read it only if no change dropped anything
// between the read's start and the fill; a read that raced a
// change leaves the cache as it was. Only one server uses a store at a
// time (the PostgreSQL store refuses a second), so nothing changes inodes
// behind this cache's back.

const (
	cacheShards     = 64
	cacheShardLimit = 1024 // inodes, or entries, kept per shard
)

// metaCache is the inode cache and the directory entry cache beside it
// (entry → file id, for LOOKUP). epoch counts the drops: a read may fill
// the cache only if no drop happened since it began, which it checks under
// the lock of the shard it fills, and a drop bumps epoch before taking any
// shard's lock.
type metaCache struct {
	epoch   atomic.Uint64
	inodes  [cacheShards]inodeShard
	entries [cacheShards]entryShard
}

type inodeShard struct {
	mu sync.Mutex
	m  map[uint64]meta.Inode
}

type entryKey struct {
	dir  uint64
	name string
}

type entryShard struct {
	mu sync.Mutex
	m  map[entryKey]uint64
}

// inode returns the cached inode id.
func (c *metaCache) inode(id uint64) (meta.Inode, bool) {
	s := &c.inodes[id%cacheShards]
	s.mu.Lock()
	ino, ok := s.m[id]
	s.mu.Unlock()
	return ino, ok
}

// entry returns the cached id name has in dir.
func (c *metaCache) entry(dir uint64, name string) (uint64, bool) {
	s := &c.entries[dir%cacheShards]
	s.mu.Lock()
	id, ok := s.m[entryKey{dir, name}]
	s.mu.Unlock()
	return id, ok
}

// fillInode caches ino, read from the store after epoch was taken, unless a
// change dropped something since.
func (c *metaCache) fillInode(epoch uint64, ino *meta.Inode) {
	s := &c.inodes[ino.ID%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.epoch.Load() != epoch {
		return
	}
	if s.m == nil {
		s.m = make(map[uint64]meta.Inode)
	}
	if len(s.m) >= cacheShardLimit {
		for k := range s.m { // any one: map order is random enough
			delete(s.m, k)
			break
		}
	}
	s.m[ino.ID] = *ino
}

// fillEntry caches dir's entry name → id, as fillInode.
func (c *metaCache) fillEntry(epoch uint64, dir uint64, name string, id uint64) {
	s := &c.entries[dir%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.epoch.Load() != epoch {
		return
	}
	if s.m == nil {
		s.m = make(map[entryKey]uint64)
	}
	if len(s.m) >= cacheShardLimit {
		for k := range s.m {
			delete(s.m, k)
			break
		}
	}
	s.m[entryKey{dir, name}] = id
}

// drop forgets the inodes and entries a transaction changed.
func (c *metaCache) drop(ids []uint64, ents []entryKey) {
	if len(ids) == 0 && len(ents) == 0 {
		return
	}
	c.epoch.Add(1)
	for _, id := range ids {
		s := &c.inodes[id%cacheShards]
		s.mu.Lock()
		delete(s.m, id)
		s.mu.Unlock()
	}
	for _, k := range ents {
		s := &c.entries[k.dir%cacheShards]
		s.mu.Lock()
		delete(s.m, k)
		s.mu.Unlock()
	}
}

// cachingStore is the metadata store as the file system uses it: every
// transaction's inode changes drop those inodes from the cache when it
// returns.
type cachingStore struct {
	meta.Store
	cache *metaCache
}

func (s cachingStore) Update(ctx context.Context, fn func(meta.Tx) error) error {
	r := getRecorder(fn)
	defer r.free()
	err := s.Store.Update(ctx, r.run)
	s.cache.drop(r.ids, r.ents)
	return err
}

func (s cachingStore) UpdateLazy(ctx context.Context, fn func(meta.Tx) error) error {
	r := getRecorder(fn)
	defer r.free()
	err := s.Store.UpdateLazy(ctx, r.run)
	s.cache.drop(r.ids, r.ents)
	return err
}

// recorder runs a transaction function with a Tx that notes the inodes it
// puts or deletes. Pooled, with run bound once, so that an update
// allocates no closure.
type recorder struct {
	fn   func(meta.Tx) error
	ids  []uint64
	ents []entryKey
	tx   recordingTx
	run  func(meta.Tx) error
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
	clear(r.ents) // the names
	r.fn, r.ids, r.ents, r.tx.Tx = nil, r.ids[:0], r.ents[:0], nil
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

func (t *recordingTx) AddEntry(dir uint64, name string, id uint64) (uint64, error) {
	t.r.ents = append(t.r.ents, entryKey{dir, name})
	return t.Tx.AddEntry(dir, name, id)
}

func (t *recordingTx) RemoveEntry(dir uint64, name string) error {
	t.r.ents = append(t.r.ents, entryKey{dir, name})
	return t.Tx.RemoveEntry(dir, name)
}

func (t *recordingTx) DeleteInode(id uint64) error {
	t.r.ids = append(t.r.ids, id)
	return t.Tx.DeleteInode(id)
}

// loadInode reads the inode call.h names into call.ino, from the cache when
// it is there: ErrStale if it is gone or was replaced.
func (f *FS) loadInode(ctx context.Context, call *ioCall) error {
	if ino, ok := f.cache.inode(call.h.ID); ok {
		if ino.Gen != call.h.Gen {
			return ErrStale
		}
		call.ino = ino
		return nil
	}
	e := f.cache.epoch.Load()
	if err := f.meta.View(ctx, call.load); err != nil {
		return err
	}
	f.cache.fillInode(e, &call.ino)
	return nil
}

// lookupCached answers a LOOKUP of a name (not "." or "..") from the
// cache when the directory, its entry and the file are all there and the
// directory may be searched; anything else goes to the store.
func (f *FS) lookupCached(call *ioCall) bool {
	d, ok := f.cache.inode(call.h.ID)
	if !ok || d.Gen != call.h.Gen || d.Type != meta.TypeDir || !call.cr.may(&d, mayExec) {
		return false
	}
	id, ok := f.cache.entry(d.ID, call.name)
	if !ok {
		return false
	}
	ino, ok := f.cache.inode(id)
	if !ok {
		return false
	}
	call.ino, call.dir = ino, attrOf(&d)
	return true
}

// lookupStore is LOOKUP from the store; what it found is cached.
func (f *FS) lookupStore(ctx context.Context, call *ioCall) error {
	e := f.cache.epoch.Load()
	call.dirIno = meta.Inode{}
	if err := f.meta.View(ctx, call.lookup); err != nil {
		return err
	}
	if call.dirIno.ID == 0 || isDot(call.name) {
		return nil
	}
	f.cache.fillInode(e, &call.dirIno)
	f.cache.fillEntry(e, call.dirIno.ID, call.name, call.ino.ID)
	f.cache.fillInode(e, &call.ino)
	return nil
}
