package lockstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/meta"
	"github.com/tandemfs/tandem/internal/meta/memory"
	"github.com/tandemfs/tandem/internal/meta/pebble"
)

var (
	fA = lock.FileKey{Share: 1, ID: 100}
	fB = lock.FileKey{Share: 1, ID: 200}
	oA = lock.NLMOwner("hostA", 1, []byte("a"))
	oX = lock.SMBOwner("client-x", 7)
)

func req(o lock.Owner, k lock.FileKey, off, n uint64) lock.Request {
	return lock.Request{File: k, Owner: o, Range: lock.Range{Offset: off, Length: n}, Mode: lock.Exclusive}
}

func TestJournalWritesAndLoads(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	mgr := lock.New(lock.Config{Track: true})
	j := mustNew(t, mgr, store, Options{})
	defer j.Close()

	if d := mgr.Lock(req(oA, fA, 0, 10)); d.Status != lock.Granted {
		t.Fatal(d.Status)
	}
	if d := mgr.Lock(req(oX, fB, 5, 5)); d.Status != lock.Granted {
		t.Fatal(d.Status)
	}
	if err := j.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := Load(ctx, store, nil)
	recs := l.Records
	if err != nil || len(recs) != 2 || recs[0].Owner != oA || recs[1].Owner != oX {
		t.Fatalf("loaded %+v %v", recs, err)
	}
	// A release goes out lazily; a later sync covers it.
	if st, _ := mgr.Unlock(fA, oA, lock.Range{Length: 10}); st != lock.Granted {
		t.Fatal(st)
	}
	j.Lazy()
	if err := j.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	recs = loadRecs(t, store)
	if len(recs) != 1 || recs[0].File != fB {
		t.Fatalf("after unlock %+v", recs)
	}
	// Another subsystem's write rides along.
	if err := j.SyncWith(ctx, func(tx meta.Tx) error { return tx.Put("other", []byte("k"), []byte("v")) }); err != nil {
		t.Fatal(err)
	}
	err = store.View(ctx, func(tx meta.Tx) error {
		v, err := tx.Get("other", []byte("k"))
		if err == nil && string(v) != "v" {
			err = errors.New("wrong value")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Its error fails only it.
	boom := errors.New("boom")
	if err := j.SyncWith(ctx, func(meta.Tx) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("failing op: %v", err)
	}
}

// TestJournalGroupCommit: many concurrent lockers on a real store share
// flushes, and everything granted is in the store when it is answered.
func TestJournalGroupCommit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := pebble.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	mgr := lock.New(lock.Config{Track: true})
	j := mustNew(t, mgr, store, Options{})
	const n = 64
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := lock.NLMOwner("host", uint32(i), nil)
			if d := mgr.Lock(req(o, fA, uint64(i)*10, 10)); d.Status != lock.Granted {
				t.Error(d.Status)
			}
			if err := j.Granted(ctx, fA, o); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	store, err = pebble.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	l, err := Load(ctx, store, nil)
	if err != nil || len(l.Records) != n || len(l.Claims) != 1 {
		t.Fatalf("loaded %+v, %v", l, err)
	}
	recs, claims := l.Records, l.Claims
	again := lock.New(lock.Config{})
	if err := Recover(again, recs, claims, time.Now().Add(time.Minute), nil); err != nil || !again.InGrace() {
		t.Fatalf("recover: %v, grace %v", err, again.InGrace())
	}
}

// TestJournalFailure: a store that refuses writes fails the waiters, and
// the changes are written once it works again.
func TestJournalFailure(t *testing.T) {
	ctx := context.Background()
	store := &flaky{Store: memory.New()}
	store.fail.Store(true)
	mgr := lock.New(lock.Config{Track: true})
	j := mustNew(t, mgr, store, Options{})
	defer j.Close()
	mgr.Lock(req(oA, fA, 0, 10))
	if err := j.Sync(ctx); err == nil {
		t.Fatal("sync succeeded on a failing store")
	}
	store.fail.Store(false)
	mgr.Lock(req(oX, fB, 0, 10))
	if err := j.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	recs := loadRecs(t, store)
	if len(recs) != 2 {
		t.Fatalf("after recovery of the store: %+v", recs)
	}
}

func TestRecoverDropsConflictingFile(t *testing.T) {
	recs := []lock.Record{
		{Kind: lock.KindRange, File: fA, Owner: oA, Mode: lock.Exclusive, Range: lock.Range{Length: 10}},
		{Kind: lock.KindRange, File: fA, Owner: oX, Mode: lock.Exclusive, Range: lock.Range{Offset: 5, Length: 1}},
		{Kind: lock.KindRange, File: fB, Owner: oX, Mode: lock.Exclusive, Range: lock.Range{Offset: 5, Length: 1}},
	}
	m := lock.New(lock.Config{})
	if err := Recover(m, recs, nil, time.Now().Add(time.Minute), nil); err != nil {
		t.Fatal(err)
	}
	got := m.Records()
	if len(got) != 1 || got[0].File != fB || !got[0].Owner.Prior {
		t.Fatalf("recovered %+v", got)
	}
}

// TestClaimsSpareTheDisk: the first grant to a client on a file waits for
// a synced write of its claim; later ones do not wait, and are durable
// within SyncEvery; a claim its client no longer needs goes after Linger.
func TestClaimsSpareTheDisk(t *testing.T) {
	ctx := context.Background()
	store := &counting{Store: memory.New()}
	mgr := lock.New(lock.Config{Track: true})
	j := mustNew(t, mgr, store, Options{SyncEvery: 20 * time.Millisecond, Linger: 60 * time.Millisecond})
	defer j.Close()
	grant := func() {
		t.Helper()
		if d := mgr.Lock(req(oA, fA, 0, 10)); d.Status != lock.Granted {
			t.Fatal(d.Status)
		}
		if err := j.Granted(ctx, fA, oA); err != nil {
			t.Fatal(err)
		}
	}
	grant()
	if n := store.synced.Load(); n != 1 {
		t.Fatalf("%d synced writes for the first grant, want 1", n)
	}
	claims := loadClaims(t, store)
	if len(claims) != 1 || claims[0] != lock.ClaimOf(fA, oA) {
		t.Fatalf("claims %+v", claims)
	}
	for range 100 {
		mgr.Unlock(fA, oA, lock.Range{Length: 10})
		j.Lazy()
		grant()
	}
	if n := store.synced.Load(); n > 3 {
		t.Fatalf("%d synced writes for 101 grants under one claim", n)
	}
	time.Sleep(50 * time.Millisecond)
	if n := store.synced.Load(); n < 2 {
		t.Fatal("lazily written grants not synced within SyncEvery")
	}
	// The client lets go: its claim goes after Linger.
	mgr.Unlock(fA, oA, lock.Range{Length: 10})
	j.Lazy()
	deadline := time.Now().Add(2 * time.Second)
	for {
		claims = loadClaims(t, store)
		if len(claims) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("idle claim kept")
		}
		time.Sleep(10 * time.Millisecond)
	}
	before := store.synced.Load()
	grant()
	if store.synced.Load() == before {
		t.Fatal("a grant after the claim went did not wait for a synced write")
	}
}

func mustNew(t *testing.T, mgr *lock.Manager, store meta.Store, opt Options) *Journal {
	t.Helper()
	j, err := New(mgr, store, opt)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func loadRecs(t *testing.T, store meta.Store) []lock.Record {
	t.Helper()
	l, err := Load(context.Background(), store, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l.Records
}

func loadClaims(t *testing.T, store meta.Store) []lock.Claim {
	t.Helper()
	l, err := Load(context.Background(), store, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l.Claims
}
