// Package memory is a metadata store held in memory, for tests and for
// servers that need no persistence.
//
// Committed state is an immutable copy-on-write B-tree. An Update works on a
// lazy clone of it (so the transaction reads its own writes for free) and
// publishes the clone when fn succeeds; on error the clone is dropped and
// nothing is visible. A View reads whichever tree was published when it
// started, so it never sees part of an Update and never blocks one. The
// records themselves are encoded by package kv, exactly as the persistent
// backends store them.
package memory

import (
	"bytes"
	"context"
	"sync"

	"github.com/google/btree"
	"github.com/tandemfs/tandem/internal/meta"
	"github.com/tandemfs/tandem/internal/meta/kv"
)

type item struct {
	k, v []byte
}

func less(a, b item) bool { return bytes.Compare(a.k, b.k) < 0 }

// Store is an in-memory meta.Store. The zero value is not usable; call New.
type Store struct {
	writer chan struct{} // a one-slot semaphore: Updates run one at a time
	ids    *kv.IDs

	mu     sync.RWMutex // guards tree and closed
	tree   *btree.BTreeG[item]
	closed bool
}

var _ meta.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	tree := btree.NewG(32, less)
	ids, _ := kv.NewIDs(treeKV{tree}, nil) // an empty tree has no mark to misread
	return &Store{
		writer: make(chan struct{}, 1),
		ids:    ids,
		tree:   tree,
	}
}

func (s *Store) snapshot() (*btree.BTreeG[item], error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, meta.ErrClosed
	}
	return s.tree, nil
}

// View implements meta.Store.
func (s *Store) View(ctx context.Context, fn func(meta.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := s.snapshot()
	if err != nil {
		return err
	}
	tx := kv.NewTx(treeKV{t}, nil, nil)
	defer tx.Reset(nil, nil, nil)
	return fn(tx)
}

// Update implements meta.Store.
func (s *Store) Update(ctx context.Context, fn func(meta.Tx) error) error {
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.writer }()
	if err := ctx.Err(); err != nil {
		return err
	}
	// Only the holder of the semaphore clones or replaces s.tree. Clone
	// changes no node of the published tree (writes to the clone copy
	// nodes first), so Views keep reading it while fn runs.
	t, err := s.snapshot()
	if err != nil {
		return err
	}
	work := t.Clone()
	rw := treeKV{work}
	tx := kv.NewTx(rw, rw, s.ids)
	err = fn(tx)
	tx.Reset(nil, nil, nil)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return meta.ErrClosed
	}
	s.tree = work
	return nil
}

// UpdateLazy implements meta.Store; memory has nothing to make durable.
func (s *Store) UpdateLazy(ctx context.Context, fn func(meta.Tx) error) error {
	return s.Update(ctx, fn)
}

// Sync implements meta.Store.
func (s *Store) Sync() error {
	_, err := s.snapshot()
	return err
}

// Close implements meta.Store. Later calls return meta.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return meta.ErrClosed
	}
	s.closed = true
	return nil
}

// treeKV is the kv.Reader and kv.Writer of one tree.
type treeKV struct {
	t *btree.BTreeG[item]
}

func (m treeKV) Get(key, dst []byte) ([]byte, error) {
	it, ok := m.t.Get(item{k: key})
	if !ok {
		return dst, meta.ErrNotFound
	}
	return append(dst, it.v...), nil
}

func (m treeKV) Range(start, end []byte, fn func(k, v []byte) bool) error {
	iter := func(it item) bool { return fn(it.k, it.v) }
	if end == nil {
		m.t.AscendGreaterOrEqual(item{k: start}, iter)
	} else {
		m.t.AscendRange(item{k: start}, item{k: end}, iter)
	}
	return nil
}

func (m treeKV) Set(key, value []byte) error {
	// One allocation holds both; neither is ever written again.
	b := make([]byte, len(key)+len(value))
	copy(b, key)
	copy(b[len(key):], value)
	m.t.ReplaceOrInsert(item{k: b[:len(key):len(key)], v: b[len(key):]})
	return nil
}

func (m treeKV) Delete(key []byte) error {
	m.t.Delete(item{k: key})
	return nil
}
