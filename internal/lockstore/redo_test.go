package lockstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/meta"
	"github.com/tandemfs/tandem/internal/meta/memory"
)

// crash stops j as a kill of the process would: nothing more is written.
func crash(j *Journal) {
	close(j.quit)
	j.wg.Wait()
	j.redo.close()
}

func getKV(t *testing.T, store meta.Store, bucket, key string) (string, bool) {
	t.Helper()
	var v []byte
	err := store.View(context.Background(), func(tx meta.Tx) error {
		var err error
		v, err = tx.Get(bucket, []byte(key))
		return err
	})
	if errors.Is(err, meta.ErrNotFound) {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(v), true
}

// TestRedoKeepsUnsyncedState: grants under a claim, unlocks and other
// subsystems' records are answered once in the redo log, before any
// synced write; after a crash, Replay puts into the store exactly the
// state the manager and the records had, and the next run starts with an
// empty log.
func TestRedoKeepsUnsyncedState(t *testing.T) {
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
			if err := j.Released(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	grant(oX, fB, 0, 1) // a new claim: synced
	if err := j.Put(ctx, "other", []byte("k1"), []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if err := j.Put(ctx, "other", []byte("k2"), []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if err := j.Delete(ctx, "other", []byte("k2")); err != nil {
		t.Fatal(err)
	}
	mgr.Unlock(fA, oA, lock.Range{Length: 10})
	if err := j.Released(ctx); err != nil {
		t.Fatal(err)
	}
	if n := store.synced.Load() - synced; n != 1 {
		t.Fatalf("%d synced writes, want 1 (the new claim)", n)
	}
	if _, ok := getKV(t, store, "other", "k1"); ok {
		t.Fatal("a Put reached the store before a synced write")
	}
	want := mgr.Records()
	crash(j)

	exact, err := Replay(ctx, store, redo, nil)
	if err != nil || exact != (len(bootID()) > 0) {
		t.Fatalf("replay: exact %v, %v", exact, err)
	}
	if fi, err := os.Stat(redo); err != nil || fi.Size() != 0 {
		t.Fatalf("redo log after replay: %v %v", fi, err)
	}
	l, err := Load(ctx, store, nil)
	if err != nil || !reflect.DeepEqual(l.Records, want) {
		t.Fatalf("after the crash:\n got %+v %v\nwant %+v", l.Records, err, want)
	}
	if v, ok := getKV(t, store, "other", "k1"); !ok || v != "v1" {
		t.Fatalf("k1 after replay: %q %v", v, ok)
	}
	if _, ok := getKV(t, store, "other", "k2"); ok {
		t.Fatal("a deleted record came back")
	}
	// The next run goes on with higher tags, and its own synced write
	// leaves a log that replays to nothing.
	again := lock.New(lock.Config{Track: true})
	if err := Recover(again, l.Records, l.Claims, time.Now().Add(time.Minute), nil); err != nil {
		t.Fatal(err)
	}
	j2 := mustNew(t, again, store, Options{Redo: redo, Base: l.Base})
	if err := j2.Put(ctx, "other", []byte("k3"), []byte("v3")); err != nil {
		t.Fatal(err)
	}
	if err := j2.Close(); err != nil {
		t.Fatal(err)
	}
	if v, ok := getKV(t, store, "other", "k3"); !ok || v != "v3" {
		t.Fatalf("k3 after a clean close: %q %v", v, ok)
	}
	if l2, err := Load(ctx, store, nil); err != nil || l2.Base <= l.Base {
		t.Fatalf("tags went back: %+v %v", l2, err)
	}
}

// TestReplaySkipsWhatTheStoreHas: a crash between a synced write and the
// emptying of the log leaves frames the store holds already; Replay does
// not write them over newer state.
func TestReplaySkipsWhatTheStoreHas(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	redo := filepath.Join(t.TempDir(), "redo")
	r, err := openRedo(redo)
	if err != nil {
		t.Fatal(err)
	}
	old := []lock.FileState{{File: fA, Records: []lock.Record{{Kind: lock.KindRange, File: fA, Owner: oA, Mode: lock.Shared, Range: lock.Range{Length: 1}}}}}
	if _, err := r.append(5, old, []kvOp{{bucket: "other", key: []byte("k"), value: []byte("old")}}, nil); err != nil {
		t.Fatal(err)
	}
	r.close()
	if err := store.Update(ctx, func(tx meta.Tx) error {
		if err := tx.Put("other", []byte("k"), []byte("new")); err != nil {
			return err
		}
		return putSyncedTag(tx, 7)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := Replay(ctx, store, redo, nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := getKV(t, store, "other", "k"); v != "new" {
		t.Fatalf("replay wrote an older record over a newer one: %q", v)
	}
	if l, _ := Load(ctx, store, nil); len(l.Records) != 0 || l.Base != 8 {
		t.Fatalf("after replay: %+v", l)
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
	if _, err := r.append(5, one, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.append(6, []lock.FileState{{File: fA}}, []kvOp{{bucket: "b", key: []byte("k"), del: true}}, nil); err != nil {
		t.Fatal(err)
	}
	r.close()
	b, _ := os.ReadFile(redo)
	if err := os.WriteFile(redo, b[:len(b)-1], 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := readRedo(redo)
	if err != nil || len(got) != 1 || got[0].tag != 5 || len(got[0].files) != 1 || len(got[0].files[0].Records) != 1 {
		t.Fatalf("torn log read as %+v %v", got, err)
	}
	// A flipped byte is a corrupt frame too.
	b[10] ^= 0xff
	os.WriteFile(redo, b, 0o600)
	if got, _ := readRedo(redo); len(got) != 0 {
		t.Fatalf("corrupt first frame read as %+v", got)
	}
	// A log left unreplayed is not taken over by a new journal.
	os.WriteFile(redo, b, 0o600)
	if _, err := New(lock.New(lock.Config{Track: true}), memory.New(), Options{Redo: redo}); err == nil {
		t.Fatal("a journal started over a log that was not replayed")
	}
}

// TestExactAfterKill: a redo log written in this boot makes the replayed
// state exact; one of another boot does not.
func TestExactAfterKill(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	redo := filepath.Join(t.TempDir(), "redo")
	j := mustNew(t, lock.New(lock.Config{Track: true}), store, Options{Redo: redo})
	crash(j)
	exact, err := Replay(ctx, store, redo, nil)
	if err != nil || exact != (len(bootID()) > 0) {
		t.Fatalf("same boot: exact %v, %v", exact, err)
	}
	old := bootID
	defer func() { bootID = old }()
	bootID = func() []byte { return []byte("another-boot") }
	if exact, _ := Replay(ctx, store, redo, nil); exact {
		t.Fatal("a redo log of another boot taken as whole")
	}
}

func FuzzRedo(f *testing.F) {
	dir := f.TempDir()
	redo := filepath.Join(dir, "seed")
	r, _ := openRedo(redo)
	r.append(1, []lock.FileState{{File: fA, Records: []lock.Record{{Kind: lock.KindRange, File: fA, Owner: oA, Mode: lock.Shared}}}},
		[]kvOp{{bucket: "b", key: []byte("k"), value: []byte("v")}, {bucket: "b", key: []byte("j"), del: true}}, nil)
	r.close()
	b, _ := os.ReadFile(redo)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "r")
		os.WriteFile(p, b, 0o600)
		readRedo(p) // never panics
	})
}
