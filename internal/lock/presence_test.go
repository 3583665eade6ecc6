package lock

import "testing"

// checkPresence compares the lock-free hint with the tables; m.mu is held.
func checkPresence(t *testing.T, m *Manager) {
	t.Helper()
	var want [1 << presenceBits]int32
	for k := range m.files {
		want[slot(k)]++
	}
	if n := m.presence.files.Load(); n != int64(len(m.files)) {
		t.Fatalf("presence counts %d files, the table has %d", n, len(m.files))
	}
	for i := range want {
		if got := m.presence.buckets[i].Load(); got != want[i] {
			t.Fatalf("presence bucket %d: %d, want %d", i, got, want[i])
		}
	}
}

// The hint follows every way a file's table is made and forgotten, and
// with it the cheap answers of CheckIO and ShareDenies for idle files.
func TestPresence(t *testing.T) {
	m, _ := newTest(Limits{})
	if !m.Idle(fA) || !m.Empty() {
		t.Fatal("a new manager has state")
	}
	if d := m.Lock(rq(oX, fA, 0, 10, Exclusive)); d.Status != Granted {
		t.Fatal(d.Status)
	}
	if m.Idle(fA) || m.Empty() {
		t.Fatal("a locked file looks idle")
	}
	if _, hit := m.CheckIO(fA, Owner{}, 5, 1, false); !hit {
		t.Fatal("NFS read under an exclusive SMB lock allowed")
	}
	if _, st := m.AddShare(fB, oY, AccessRead, ShareRead); st != Granted {
		t.Fatal(st)
	}
	if _, hit := m.ShareDenies(fB, AccessWrite); !hit {
		t.Fatal("NFS write under a deny-write open allowed")
	}
	checkInvariants(t, m)
	if st, _ := m.Unlock(fA, oX, Range{Offset: 0, Length: 10}); st != Granted {
		t.Fatal(st)
	}
	if !m.Idle(fA) || m.Empty() {
		t.Fatalf("after unlock: idle %v, empty %v", m.Idle(fA), m.Empty())
	}
	m.RemoveShare(fB, oY)
	if !m.Idle(fB) || !m.Empty() {
		t.Fatal("state left after the last share went")
	}

	// A waiter alone keeps a table; releasing its owner's host forgets it.
	m.Lock(rq(oA, fC, 0, 0, Exclusive))
	if d := m.Lock(Request{File: fC, Owner: oB, Range: Range{Length: 1}, Mode: Exclusive, Wait: true}); d.Status != Queued {
		t.Fatal(d.Status)
	}
	m.ReleaseOwner(oA)
	checkInvariants(t, m)
	if m.Idle(fC) {
		t.Fatal("a file with a granted waiter looks idle")
	}
	m.ReleaseHost(NLM, "hostB")
	checkInvariants(t, m)
	if !m.Idle(fC) || !m.Empty() {
		t.Fatal("state left after releasing every host")
	}
}

// Keys of one share with consecutive ids, as a store hands them out,
// spread over the buckets.
func TestPresenceSpread(t *testing.T) {
	var p presence
	for id := range uint64(1 << presenceBits) {
		p.add(FileKey{Share: 1, ID: 1000 + id})
	}
	empty := 0
	for i := range p.buckets {
		if p.buckets[i].Load() == 0 {
			empty++
		}
	}
	// Random keys would leave about 1/e of the buckets empty.
	if empty > (1<<presenceBits)*2/5 {
		t.Errorf("%d of %d buckets unused by %d consecutive ids", empty, 1<<presenceBits, 1<<presenceBits)
	}
}

func BenchmarkIdleCheckIO(b *testing.B) {
	m := New(Config{})
	for i := range 100 {
		m.Lock(rq(SMBOwner("c", uint64(i)), FileKey{Share: 1, ID: uint64(i)}, 0, 10, Shared))
	}
	k := FileKey{Share: 1, ID: 1 << 20}
	b.ReportAllocs()
	for b.Loop() {
		if _, hit := m.CheckIO(k, Owner{}, 0, 8, true); hit {
			b.Fatal("conflict")
		}
		if _, hit := m.ShareDenies(k, AccessWrite); hit {
			b.Fatal("conflict")
		}
	}
}
