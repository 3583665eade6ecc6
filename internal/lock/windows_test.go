package lock

import (
	"testing"
	"time"
)

func TestWindowsRanges(t *testing.T) {
	const G, D, NL, IR = Granted, Denied, NotLocked, InvalidRange
	tests := []struct {
		name  string
		steps []step
		want  string
	}{
		{"shared locks stack", []step{{oX, 'S', 0, 10, G, ""}, {oX, 'S', 0, 10, G, ""}, {oX, 'S', 5, 10, G, ""}}, "X:S0+10 X:S0+10 X:S5+10"},
		{"each unlock removes one", []step{{oX, 'S', 0, 10, G, ""}, {oX, 'S', 0, 10, G, ""}, {oX, 'U', 0, 10, G, ""}}, "X:S0+10"},
		{"unlock past the last fails", []step{{oX, 'S', 0, 10, G, ""}, {oX, 'U', 0, 10, G, ""}, {oX, 'U', 0, 10, NL, ""}}, ""},
		{"unlock must match exactly", []step{{oX, 'X', 0, 10, G, ""}, {oX, 'U', 0, 5, NL, ""}, {oX, 'U', 0, 11, NL, ""}, {oX, 'U', 1, 9, NL, ""}}, "X:X0+10"},
		{"unlock of another open's lock fails", []step{{oX, 'S', 0, 10, G, ""}, {oX2, 'U', 0, 10, NL, ""}}, "X:S0+10"},
		{"adjacent locks do not merge", []step{{oX, 'X', 0, 10, G, ""}, {oX, 'X', 10, 10, G, ""}, {oX, 'U', 0, 20, NL, ""}}, "X:X0+10 X:X10+10"},
		{"shared over own exclusive", []step{{oX, 'X', 0, 10, G, ""}, {oX, 'S', 2, 3, G, ""}}, "X:X0+10 X:S2+3"},
		{"exclusive over own shared", []step{{oX, 'S', 0, 10, G, ""}, {oX, 'X', 9, 1, D, "X:S0+10"}}, "X:S0+10"},
		{"exclusive over own exclusive", []step{{oX, 'X', 0, 10, G, ""}, {oX, 'X', 0, 10, D, "X:X0+10"}}, "X:X0+10"},
		{"unlock prefers the exclusive lock", []step{{oX, 'X', 0, 10, G, ""}, {oX, 'S', 0, 10, G, ""}, {oX, 'U', 0, 10, G, ""}}, "X:S0+10"},
		{"opens of one client conflict", []step{{oX, 'X', 0, 10, G, ""}, {oX2, 'S', 0, 1, D, "X:X0+10"}}, "X:X0+10"},
		{"shared locks of opens overlap", []step{{oX, 'S', 0, 10, G, ""}, {oY, 'S', 0, 10, G, ""}}, "X:S0+10 Y:S0+10"},
		{"range past the last byte", []step{{oX, 'X', max64, 2, IR, ""}, {oX, 'U', 2, max64, IR, ""}, {oX, 'U', 1, max64, NL, ""}}, ""},
		{"the last byte", []step{{oX, 'X', max64, 1, G, ""}, {oY, 'S', max64 - 1, 2, D, "X:X18446744073709551615+1"}}, "X:X18446744073709551615+1"},
		{"maximal length", []step{{oX, 'X', 0, max64, G, ""}, {oY, 'X', max64, 1, G, ""}}, "X:X0+18446744073709551615 Y:X18446744073709551615+1"},
		{"length 0 is not to EOF", []step{{oX, 'X', 10, 0, G, ""}, {oY, 'X', 10, 100, G, ""}}, "X:X10+0 Y:X10+100"},
		{"zero-length locks never overlap each other", []step{{oX, 'X', 10, 0, G, ""}, {oY, 'X', 10, 0, G, ""}, {oX, 'X', 10, 0, G, ""}}, "X:X10+0 Y:X10+0 X:X10+0"},
		{"zero-length inside a range conflicts", []step{{oX, 'X', 10, 0, G, ""}, {oY, 'S', 5, 10, D, "X:X10+0"}}, "X:X10+0"},
		{"zero-length at the last byte of a range conflicts", []step{{oX, 'X', 10, 0, G, ""}, {oY, 'X', 5, 6, D, "X:X10+0"}}, "X:X10+0"},
		{"zero-length at the start of a range does not", []step{{oX, 'X', 10, 0, G, ""}, {oY, 'X', 10, 5, G, ""}}, "X:X10+0 Y:X10+5"},
		{"zero-length just past a range does not", []step{{oX, 'X', 10, 0, G, ""}, {oY, 'X', 0, 9, G, ""}}, "Y:X0+9 X:X10+0"},
		{"zero-length request inside a lock", []step{{oX, 'X', 0, 100, G, ""}, {oY, 'S', 50, 0, D, "X:X0+100"}}, "X:X0+100"},
		{"zero-length request just past a lock", []step{{oX, 'X', 0, 100, G, ""}, {oY, 'S', 100, 0, G, ""}}, "X:X0+100 Y:S100+0"},
		{"zero-length request at a lock's last byte", []step{{oX, 'X', 0, 100, G, ""}, {oY, 'S', 99, 0, D, "X:X0+100"}}, "X:X0+100"},
		{"zero-length request at a lock's start", []step{{oX, 'X', 50, 100, G, ""}, {oY, 'X', 50, 0, G, ""}}, "X:X50+100 Y:X50+0"},
		{"zero-length shared over shared", []step{{oX, 'S', 0, 100, G, ""}, {oY, 'S', 50, 0, G, ""}}, "X:S0+100 Y:S50+0"},
		{"zero-length at 0 overlaps nothing", []step{{oX, 'X', 0, 0, G, ""}, {oY, 'X', 0, max64, G, ""}, {oX, 'X', 0, 0, G, ""}}, "X:X0+0 Y:X0+18446744073709551615 X:X0+0"},
		{"zero-length exclusive over own zero-length", []step{{oX, 'X', 7, 0, G, ""}, {oX, 'X', 7, 0, G, ""}}, "X:X7+0 X:X7+0"},
		{"zero-length unlock is exact", []step{{oX, 'S', 7, 0, G, ""}, {oX, 'U', 7, 1, NL, ""}, {oX, 'U', 7, 0, G, ""}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newTest(Limits{})
			runSteps(t, m, fA, tt.steps)
			if got := dump(m, fA); got != tt.want {
				t.Fatalf("locks %q, want %q", got, tt.want)
			}
		})
	}
}

// Of several identical shared locks, an unlock removes the last granted
// (MS-FSA 2.1.5.9 keeps the last match unless one is exclusive).
func TestWindowsUnlockRemovesLastShared(t *testing.T) {
	m, c := newTest(Limits{})
	mustLock(t, m, rq(oX, fA, 0, 10, Shared), Granted)
	c.Advance(time.Second)
	mustLock(t, m, rq(oX, fA, 0, 10, Shared), Granted)
	mustUnlock(t, m, fA, oX, 0, 10)
	recs := m.FileRecords(fA)
	if len(recs) != 1 || !recs[0].Since.Equal(t0) {
		t.Fatalf("left %+v, want the lock of t0", recs)
	}
}

func TestCrossProtocolRanges(t *testing.T) {
	const G, D = Granted, Denied
	tests := []struct {
		name  string
		steps []step
		want  string
	}{
		{"NLM exclusive stops SMB shared", []step{{oA, 'X', 0, 10, G, ""}, {oX, 'S', 5, 1, D, "A:X0+10"}}, "A:X0+10"},
		{"SMB shared stops NLM exclusive", []step{{oX, 'S', 0, 10, G, ""}, {oA, 'X', 0, 0, D, "X:S0+10"}}, "X:S0+10"},
		{"shared locks of both coexist", []step{{oX, 'S', 0, 10, G, ""}, {oA, 'S', 0, 0, G, ""}}, "X:S0+10 A:S0+0"},
		{"SMB lock stops an NLM upgrade", []step{{oA, 'S', 0, 0, G, ""}, {oX, 'S', 100, 1, G, ""}, {oA, 'X', 0, 0, D, "X:S100+1"}}, "A:S0+0 X:S100+1"},
		{"NLM to EOF stops SMB at the top", []step{{oA, 'X', 1 << 40, 0, G, ""}, {oX, 'S', max64, 1, D, "A:X1099511627776+0"}}, "A:X1099511627776+0"},
		{"SMB zero-length inside NLM to EOF", []step{{oA, 'X', 0, 0, G, ""}, {oX, 'S', 10, 0, D, "A:X0+0"}}, "A:X0+0"},
		{"SMB zero-length at NLM start", []step{{oA, 'X', 10, 0, G, ""}, {oX, 'S', 10, 0, G, ""}}, "A:X10+0 X:S10+0"},
		{"NLM over SMB zero-length", []step{{oX, 'X', 10, 0, G, ""}, {oA, 'S', 0, 11, D, "X:X10+0"}, {oA, 'S', 0, 10, G, ""}}, "A:S0+10 X:X10+0"},
		{"NLM unlock leaves SMB locks", []step{{oX, 'S', 0, 10, G, ""}, {oA, 'S', 0, 10, G, ""}, {oA, 'U', 0, 0, G, ""}}, "X:S0+10"},
		{"SMB unlock of an NLM range fails", []step{{oA, 'S', 0, 10, G, ""}, {oX, 'U', 0, 10, NotLocked, ""}}, "A:S0+10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newTest(Limits{})
			runSteps(t, m, fA, tt.steps)
			if got := dump(m, fA); got != tt.want {
				t.Fatalf("locks %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckIO(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oX, fA, 0, 10, Shared), Granted)     // bytes 0..9
	mustLock(t, m, rq(oY, fA, 20, 10, Exclusive), Granted) // 20..29
	mustLock(t, m, rq(oA, fA, 40, 10, Shared), Granted)    // 40..49
	mustLock(t, m, rq(oB, fA, 60, 10, Exclusive), Granted) // 60..69
	mustLock(t, m, rq(oY, fA, 80, 0, Exclusive), Granted)  // zero-length at 80
	nfs := Owner{}
	tests := []struct {
		name  string
		o     Owner
		off   uint64
		n     uint64
		write bool
		want  string
	}{
		{"NFS read under SMB shared", nfs, 0, 10, false, ""},
		{"NFS write under SMB shared", nfs, 5, 100, true, "X:S0+10"},
		{"NFS read under SMB exclusive", nfs, 25, 1, false, "Y:X20+10"},
		{"NFS write under SMB exclusive", nfs, 29, 1, true, "Y:X20+10"},
		{"NFS write beside SMB exclusive", nfs, 30, 10, true, ""},
		{"NFS write under NLM locks", nfs, 40, 30, true, ""},
		{"NFS read across SMB zero-length", nfs, 75, 10, false, "Y:X80+0"},
		{"NFS read starting at SMB zero-length", nfs, 80, 10, false, ""},
		{"NFS read of nothing", nfs, 25, 0, false, ""},
		{"NFS read to the top", nfs, max64 - 5, 100, false, ""},
		{"SMB read under own shared", oX, 0, 10, false, ""},
		{"SMB write under own shared", oX, 0, 10, true, "X:S0+10"},
		{"SMB read under own exclusive", oY, 20, 10, false, ""},
		{"SMB write under own exclusive", oY, 20, 10, true, ""},
		{"SMB read under other's exclusive", oX, 20, 10, false, "Y:X20+10"},
		{"SMB write under other's shared", oY, 0, 1, true, "X:S0+10"},
		{"SMB read under NLM shared", oX, 40, 10, false, ""},
		{"SMB write under NLM shared", oX, 40, 10, true, "A:S40+10"},
		{"SMB read under NLM exclusive", oX, 60, 10, false, "B:X60+10"},
		{"SMB open without locks, read", oX2, 20, 1, false, "Y:X20+10"},
		{"SMB open without locks, write", oX2, 0, 1, true, "X:S0+10"},
		{"SMB I/O on another file", oX2, 0, 100, true, ""},
	}
	for _, tt := range tests {
		k := fA
		if tt.name == "SMB I/O on another file" {
			k = fB
		}
		l, hit := m.CheckIO(k, tt.o, tt.off, tt.n, tt.write)
		if got := fmtLock(l); got != tt.want || hit != (tt.want != "") {
			t.Errorf("%s: CheckIO = %q %v, want %q", tt.name, got, hit, tt.want)
		}
	}
}
