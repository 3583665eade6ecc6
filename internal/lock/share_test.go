package lock

import (
	"testing"
	"time"
)

// refSharing is MS-FSA 2.1.5.1.2.2 spelled out condition by condition, as
// the reference for the whole access x share access matrix.
func refSharing(newA Access, newS ShareAccess, oldA Access, oldS ShareAccess) bool {
	hasData := func(a Access) bool { return a&AccessRead != 0 || a&AccessWrite != 0 || a&AccessDelete != 0 }
	if !hasData(newA) || !hasData(oldA) {
		return false
	}
	return oldS&ShareRead == 0 && newA&AccessRead != 0 ||
		oldS&ShareWrite == 0 && newA&AccessWrite != 0 ||
		oldS&ShareDelete == 0 && newA&AccessDelete != 0 ||
		newS&ShareRead == 0 && oldA&AccessRead != 0 ||
		newS&ShareWrite == 0 && oldA&AccessWrite != 0 ||
		newS&ShareDelete == 0 && oldA&AccessDelete != 0
}

func TestShareMatrix(t *testing.T) {
	for a1 := Access(0); a1 <= accessMask; a1++ {
		for s1 := ShareAccess(0); s1 <= accessMask; s1++ {
			for a2 := Access(0); a2 <= accessMask; a2++ {
				for s2 := ShareAccess(0); s2 <= accessMask; s2++ {
					m, _ := newTest(Limits{})
					if _, st := m.AddShare(fA, oX, a1, s1); st != Granted {
						t.Fatalf("first open: %v", st)
					}
					want := Granted
					if refSharing(a2, s2, a1, s1) {
						want = Denied
					}
					r, st := m.AddShare(fA, oY, a2, s2)
					if st != want {
						t.Fatalf("open %03b/%03b after %03b/%03b = %v, want %v", a2, s2, a1, s1, st, want)
					}
					if st == Denied && (r.Owner != oX || r.Access != a1 || r.ShareAccess != s1 || r.File != fA) {
						t.Fatalf("reported %+v", r)
					}
				}
			}
		}
	}
}

func TestShareCases(t *testing.T) {
	const R, W, Del = AccessRead, AccessWrite, AccessDelete
	const SR, SW, SD = ShareRead, ShareWrite, ShareDelete
	tests := []struct {
		name   string
		a1     Access
		s1     ShareAccess
		a2     Access
		s2     ShareAccess
		denied bool
	}{
		{"readers sharing read", R, SR, R, SR, false},
		{"writer after a reader that denies write", R, SR, W, SR | SW, true},
		{"reader that denies write after a writer", W, SR | SW, R, SR, true},
		{"writers sharing write", W, SW, W, SW, false},
		{"exclusive open, then attribute-only", R | W, 0, 0, 0, false},
		{"attribute-only, then exclusive open", 0, 0, R | W | Del, 0, false},
		{"delete without share delete", R, SR | SW, Del, SR | SW | SD, true},
		{"delete with share delete", R, SR | SW | SD, Del, SR | SW | SD, false},
		{"reader denying delete after delete", Del, SR | SW | SD, R, SR | SW, true},
		{"share all, access all", R | W | Del, SR | SW | SD, R | W | Del, SR | SW | SD, false},
	}
	for _, tt := range tests {
		m, _ := newTest(Limits{})
		m.AddShare(fA, oX, tt.a1, tt.s1)
		_, st := m.AddShare(fA, oY, tt.a2, tt.s2)
		if (st == Denied) != tt.denied || (st != Denied && st != Granted) {
			t.Errorf("%s: %v", tt.name, st)
		}
	}
}

func TestShareLifecycle(t *testing.T) {
	m, c := newTest(Limits{})
	if _, st := m.AddShare(fA, oX, AccessRead, ShareRead); st != Granted {
		t.Fatal(st)
	}
	if _, st := m.AddShare(fA, oY, AccessWrite, ShareRead|ShareWrite); st != Denied {
		t.Fatalf("writer = %v", st)
	}
	// The owner's own reservation does not conflict with its new one; it
	// is replaced.
	c.Advance(1)
	r, st := m.AddShare(fA, oX, AccessRead, ShareRead|ShareWrite)
	if st != Granted || r.ShareAccess != ShareRead|ShareWrite || !r.Since.Equal(c.Now()) {
		t.Fatalf("replace = %v %+v", st, r)
	}
	if n := len(m.FileRecords(fA)); n != 1 {
		t.Fatalf("%d reservations", n)
	}
	if _, st := m.AddShare(fA, oY, AccessWrite, ShareRead|ShareWrite); st != Granted {
		t.Fatalf("writer after replace = %v", st)
	}
	if !m.RemoveShare(fA, oX) || m.RemoveShare(fA, oX) || m.RemoveShare(fB, oY) {
		t.Fatal("RemoveShare")
	}
	if !m.RemoveShare(fA, oY) || len(m.files) != 0 || len(m.owners) != 0 {
		t.Fatal("state left after the last RemoveShare")
	}
	if _, st := m.AddShare(fA, oX, 8, 0); st != Invalid {
		t.Fatalf("bad access = %v", st)
	}
	if _, st := m.AddShare(fA, oX, 0, 8); st != Invalid {
		t.Fatalf("bad share access = %v", st)
	}
	checkInvariants(t, m)
}

func TestShareDenies(t *testing.T) {
	m, _ := newTest(Limits{})
	m.AddShare(fA, oX, AccessRead, ShareRead)   // denies write and delete
	m.AddShare(fA, oX2, 0, 0)                   // attribute-only: denies nothing
	m.AddShare(fB, oY, AccessWrite, ShareWrite) // denies read and delete
	m.AddShare(fC, oA, AccessWrite, 0)          // NLM: binds opens, not NFS I/O
	tests := []struct {
		k    FileKey
		a    Access
		want string
	}{
		{fA, AccessRead, ""},
		{fA, AccessWrite, "X"},
		{fA, AccessDelete, "X"},
		{fA, 0, ""},
		{fB, AccessRead, "Y"},
		{fB, AccessWrite, ""},
		{fB, AccessDelete, "Y"},
		{fC, AccessWrite, ""},
	}
	for _, tt := range tests {
		r, denied := m.ShareDenies(tt.k, tt.a)
		got := ""
		if denied {
			got = nameOf(r.Owner)
		}
		if got != tt.want {
			t.Errorf("ShareDenies(%v, %d) = %q, want %q", tt.k, tt.a, got, tt.want)
		}
	}
}

func TestShareAndLocksOfOneOpen(t *testing.T) {
	m, _ := newTest(Limits{})
	m.AddShare(fA, oX, AccessRead|AccessWrite, ShareRead)
	mustLock(t, m, rq(oX, fA, 0, 10, Exclusive), Granted)
	mustUnlock(t, m, fA, oX, 0, 10)
	if _, denied := m.ShareDenies(fA, AccessWrite); !denied {
		t.Fatal("unlock dropped the reservation")
	}
	checkInvariants(t, m)
}

func TestShareConflicts(t *testing.T) {
	m, _ := newTest(Limits{})
	m.AddShare(fA, oX, AccessDelete, ShareRead|ShareWrite|ShareDelete) // its delete access denies a non-delete sharer
	m.AddShare(fB, oY, AccessWrite, 0)                                 // shares nothing
	m.AddShare(fC, oX2, 0, 0)                                          // attribute-only: conflicts with no one
	tests := []struct {
		k    FileKey
		a    Access
		s    ShareAccess
		want string
	}{
		{fA, AccessWrite, ShareRead | ShareWrite, "X"},
		{fA, AccessWrite, ShareRead | ShareWrite | ShareDelete, ""},
		{fB, AccessWrite, ShareRead | ShareWrite, "Y"},
		{fB, AccessRead, ShareWrite, "Y"},
		{fC, AccessWrite, 0, ""},
		{fA, 0, 0, ""},
	}
	for _, tt := range tests {
		r, conflict := m.ShareConflicts(tt.k, tt.a, tt.s)
		got := ""
		if conflict {
			got = nameOf(r.Owner)
		}
		if got != tt.want {
			t.Errorf("ShareConflicts(%v, %d, %d) = %q, want %q", tt.k, tt.a, tt.s, got, tt.want)
		}
	}
	if n := len(m.Records()); n != 3 {
		t.Errorf("after ShareConflicts: %d records, want the 3 added", n)
	}
}

// TestOpenFiles: the files of a share with SMB opens of any access, and
// one open of a file, live before prior. NLM share reservations are no
// SMB opens.
func TestOpenFiles(t *testing.T) {
	m, _ := newTest(Limits{})
	if got := m.OpenFiles(1, nil); len(got) != 0 {
		t.Fatalf("empty table: %v", got)
	}
	m.AddShare(fA, oX, 0, 0)
	m.AddShare(fB, oA, AccessRead, ShareRead)
	m.AddShare(fC, oY, AccessRead, ShareRead)
	if got := m.OpenFiles(1, nil); len(got) != 1 || got[0] != fA {
		t.Fatalf("share 1: %v, want [%v]", got, fA)
	}
	if r, ok := m.Opened(fA); !ok || r.Owner != oX {
		t.Fatalf("opened fA: %+v %v", r, ok)
	}
	if _, ok := m.Opened(fB); ok {
		t.Fatal("an NLM share reservation counted as an SMB open")
	}

	m2, c := newTest(Limits{})
	recs := []Record{{Kind: KindShare, File: fA, Owner: oX, Access: AccessRead, ShareAccess: ShareRead}}
	if err := m2.Recover(recs, nil, c.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if r, ok := m2.Opened(fA); !ok || !r.Owner.Prior {
		t.Fatalf("prior open: %+v %v", r, ok)
	}
	m2.AddShare(fA, oY, AccessRead, ShareRead|ShareWrite|ShareDelete)
	if r, ok := m2.Opened(fA); !ok || r.Owner != oY {
		t.Fatalf("live open beside a prior one: %+v %v", r, ok)
	}
}
