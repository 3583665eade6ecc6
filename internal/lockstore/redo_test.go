package lockstore

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/meta/memory"
)

// crash stops j as a kill of the process would: nothing more is written.
func crash(j *Journal) {
	close(j.quit)
	j.wg.Wait()
	j.redo.close()
}

// TestRedoKeepsUnsyncedGrants: grants under a claim are answered once in
// the redo log, before any synced write; after a crash the store and the
// log give back exactly the state the manager had, releases included.
func TestRedoKeepsUnsyncedGrants(t *testing.T) {
	ctx := context.Background()
	store := &counting{Store: memory.New()}
	redo := filepath.Join(t.TempDir(), "redo")
	mgr := lock.New(lock.Config{Track: true})
	j := mustNew(t, mgr, store, Options{Redo: redo, SyncEvery: time.Hour})
	grant := func(o lock.Owner, k lock.FileKey, off, n uint64) {
		t.Helper()
		if d := mgr.Lock(req(o, k, off, n)); d.Status != lock.Granted {
			t.Fatal(d.Status)
		}
		if err := j.Granted(ctx, k, o); err != nil {
			t.Fatal(err)
		}
	}
	grant(oA, fA, 0, 10)
	synced := store.synced.Load()
	for i := range uint64(20) {
		grant(oA, fA, 100+i*10, 5)
		if i%2 == 0 {
			mgr.Unlock(fA, oA, lock.Range{Offset: 100 + i*10, Length: 5})
			j.Lazy()
		}
	}
	grant(oX, fB, 0, 1)                        // a new claim: synced
	mgr.Unlock(fA, oA, lock.Range{Length: 10}) // a release not yet written
	j.Lazy()
	if err := j.Granted(ctx, fA, oA); err != nil { // waits for the write of the release
		t.Fatal(err)
	}
	if n := store.synced.Load() - synced; n != 1 {
		t.Fatalf("%d synced writes, want 1 (the new claim)", n)
	}
	want := mgr.Records()
	crash(j)

	l, err := Load(ctx, store, redo, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l.Records, want) {
		t.Fatalf("after the crash:\n got %+v\nwant %+v", l.Records, want)
	}
	if len(l.Replayed) != 1 || l.Replayed[0] != fA {
		t.Fatalf("replayed %v, want fA", l.Replayed)
	}
	// The next run writes the replayed state to the store and empties the
	// log; a second load without the log finds the same.
	again := lock.New(lock.Config{Track: true})
	if err := Recover(again, l.Records, l.Claims, time.Now().Add(time.Minute), nil); err != nil {
		t.Fatal(err)
	}
	j2 := mustNew(t, again, store, Options{Redo: redo, Loaded: l})
	defer j2.Close()
	if fi, err := os.Stat(redo); err != nil || fi.Size() != 0 {
		t.Fatalf("redo log after start: %v %v", fi, err)
	}
	l2, err := Load(ctx, store, "", nil)
	if err != nil || !reflect.DeepEqual(l2.Records, want) {
		t.Fatalf("store after start: %+v %v", l2, err)
	}
	if l2.Base < l.Base {
		t.Fatalf("tags went back: %d < %d", l2.Base, l.Base)
	}
}

// TestRedoTornTail: a frame cut short by a crash ends the log; the frames
// before it count.
func TestRedoTornTail(t *testing.T) {
	redo := filepath.Join(t.TempDir(), "redo")
	r, err := openRedo(redo)
	if err != nil {
		t.Fatal(err)
	}
	one := []lock.FileState{{File: fA, Records: []lock.Record{{Kind: lock.KindRange, File: fA, Owner: oA, Mode: lock.Shared, Range: lock.Range{Length: 1}}}}}
	two := []lock.FileState{{File: fA}}
	if _, err := r.append(5, one, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.append(6, two, nil); err != nil {
		t.Fatal(err)
	}
	r.close()
	b, _ := os.ReadFile(redo)
	if err := os.WriteFile(redo, b[:len(b)-1], 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readRedo(redo)
	if err != nil || len(got) != 1 || got[fA].tag != 5 || len(got[fA].recs) != 1 {
		t.Fatalf("torn log read as %+v %v", got, err)
	}
	// A flipped byte is a corrupt frame too.
	b[10] ^= 0xff
	os.WriteFile(redo, b, 0o600)
	if got, _ := readRedo(redo); len(got) != 0 {
		t.Fatalf("corrupt first frame read as %+v", got)
	}
}

func FuzzRedo(f *testing.F) {
	dir := f.TempDir()
	redo := filepath.Join(dir, "seed")
	r, _ := openRedo(redo)
	r.append(1, []lock.FileState{{File: fA, Records: []lock.Record{{Kind: lock.KindRange, File: fA, Owner: oA, Mode: lock.Shared}}}}, nil)
	r.close()
	b, _ := os.ReadFile(redo)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "r")
		os.WriteFile(p, b, 0o600)
		readRedo(p) // never panics
	})
}

// TestExactAfterKill: a redo log written in this boot makes the loaded
// state exact; one of another boot does not.
func TestExactAfterKill(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	redo := filepath.Join(t.TempDir(), "redo")
	mgr := lock.New(lock.Config{Track: true})
	j := mustNew(t, mgr, store, Options{Redo: redo})
	crash(j)
	l, err := Load(ctx, store, redo, nil)
	if err != nil || l.Exact != (len(bootID()) > 0) {
		t.Fatalf("same boot: exact %v, %v", l.Exact, err)
	}
	old := bootID
	defer func() { bootID = old }()
	bootID = func() []byte { return []byte("another-boot") }
	if l, _ := Load(ctx, store, redo, nil); l.Exact {
		t.Fatal("a redo log of another boot taken as whole")
	}
}
