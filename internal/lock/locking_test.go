package lock

import "testing"

// TestUnixLocking: on a share whose locking is "unix", locks and share
// modes are advisory across protocols: NFS requests ignore SMB's share
// modes and locks and SMB I/O ignores NLM locks, while locks still
// conflict with locks, SMB locks still bind SMB I/O, and caching grants
// are still broken and held back for NFS requests. Other shares keep the
// unified rules.
func TestUnixLocking(t *testing.T) {
	m, _ := newTest(Limits{})
	if m.Locking(1) != Unified {
		t.Fatal("a share is unified unless set")
	}
	m.SetLocking(1, Unix)
	if m.Locking(1) != Unix || m.Locking(2) != Unified {
		t.Fatalf("lockings %v %v", m.Locking(1), m.Locking(2))
	}
	for _, k := range []FileKey{fA, fC} { // share 1 (unix), share 2 (unified)
		unix := k.Share == 1
		m.AddShare(k, oX, AccessRead|AccessWrite, 0)
		m.Lock(rq(oX, k, 0, 10, Exclusive))
		m.Lock(rq(oA, k, 100, 10, Exclusive))

		if _, denied := m.ShareDenies(k, AccessWrite); denied == unix {
			t.Errorf("share %d: NFS write beside a deny-write open refused: %v", k.Share, denied)
		}
		if _, held := m.CheckIO(k, Owner{}, 0, 5, false); held == unix {
			t.Errorf("share %d: NFS read under an SMB exclusive lock refused: %v", k.Share, held)
		}
		if _, held := m.CheckIO(k, oY, 100, 5, true); held == unix {
			t.Errorf("share %d: SMB write under an NLM lock refused: %v", k.Share, held)
		}
		if _, held := m.CheckIO(k, oY, 0, 5, false); !held {
			t.Errorf("share %d: SMB read under another open's exclusive lock allowed", k.Share)
		}
		if d := m.Lock(rq(oB, k, 5, 1, Shared)); d.Status != Denied {
			t.Errorf("share %d: NLM lock over an SMB lock: %v", k.Share, d.Status)
		}
		for _, kind := range []IOKind{IORead, IOWrite, IOResize, IODelete} {
			in, _, st := m.BeginIO(k, kind, 0, 10)
			if st == Granted != unix {
				t.Errorf("share %d: NFS %v beside the open and locks: %v", k.Share, kind, st)
			}
			in.End()
		}
		m.ReleaseOwner(oX)
		in := beginIO(t, m, k, IOWrite, 0, 10)
		if _, st := m.AddShare(k, oY, AccessRead, ShareRead); st == Granted != unix {
			t.Errorf("share %d: open denying write during an NFS write: %v", k.Share, st)
		}
		if d := m.Lock(rq(oY, k, 0, 1, Exclusive)); d.Status == Granted != unix {
			t.Errorf("share %d: SMB lock over an NFS write: %v", k.Share, d.Status)
		}
		lease := LeaseOwner("client-y", [16]byte{byte(k.Share)})
		m.AddShare(k, oX2, AccessRead, ShareRead|ShareWrite|ShareDelete)
		if g, _ := m.GrantCaching(CacheRequest{File: k, Open: oX2, Holder: lease, Lease: true, Want: CacheRead}); g.State != 0 {
			t.Errorf("share %d: read caching granted during an NFS write: %v", k.Share, g.State)
		}
		in.End()
		m.GrantCaching(CacheRequest{File: k, Open: oX2, Holder: lease, Lease: true, Want: CacheRead | CacheHandle})
		in, _, st := m.BeginIO(k, IOWrite, 0, 10)
		if st != Breaking {
			t.Errorf("share %d: NFS write beside a lease: %v, want breaking", k.Share, st)
		}
		in.End()
	}
	if _, err := ParseLocking("posix"); err == nil {
		t.Error("ParseLocking accepted posix")
	}
	for _, l := range []Locking{Unified, Unix} {
		if p, err := ParseLocking(l.String()); err != nil || p != l {
			t.Errorf("ParseLocking(%q) = %v, %v", l, p, err)
		}
	}
}
