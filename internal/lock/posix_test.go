package lock

import "testing"

// step is one non-waiting operation of a table test: lock shared ('S'),
// lock exclusive ('X') or unlock ('U').
type step struct {
	o      Owner
	op     byte
	off, n uint64
	want   Status
	holder string // for Denied: the reported conflicting lock
}

func runSteps(t *testing.T, m *Manager, k FileKey, steps []step) {
	t.Helper()
	for i, s := range steps {
		var st Status
		var holder string
		switch s.op {
		case 'S', 'X':
			mode := Shared
			if s.op == 'X' {
				mode = Exclusive
			}
			d := m.Lock(rq(s.o, k, s.off, s.n, mode))
			st, holder = d.Status, fmtLock(d.Holder)
			if len(d.Notices) != 0 {
				t.Fatalf("step %d: unexpected notices %s", i, fmtNotices(d.Notices))
			}
		case 'U':
			st, _ = m.Unlock(k, s.o, Range{Offset: s.off, Length: s.n})
		}
		if st != s.want || holder != s.holder {
			t.Fatalf("step %d (%s %c %d+%d): %v holder %q, want %v holder %q",
				i, nameOf(s.o), s.op, s.off, s.n, st, holder, s.want, s.holder)
		}
		checkInvariants(t, m)
	}
}

func TestPOSIXRanges(t *testing.T) {
	const G, D = Granted, Denied
	tests := []struct {
		name  string
		steps []step
		want  string
	}{
		{"lock and exact unlock", []step{{oA, 'X', 0, 10, G, ""}, {oA, 'U', 0, 10, G, ""}}, ""},
		{"unlock of nothing succeeds", []step{{oA, 'U', 0, 10, G, ""}}, ""},
		{"unlock of unheld range leaves the lock", []step{{oA, 'S', 0, 10, G, ""}, {oA, 'U', 20, 5, G, ""}}, "A:S0+10"},
		{"middle unlock splits", []step{{oA, 'X', 0, 100, G, ""}, {oA, 'U', 40, 10, G, ""}}, "A:X0+40 A:X50+50"},
		{"unlock of the head", []step{{oA, 'X', 0, 100, G, ""}, {oA, 'U', 0, 30, G, ""}}, "A:X30+70"},
		{"unlock of the tail", []step{{oA, 'X', 0, 100, G, ""}, {oA, 'U', 90, 50, G, ""}}, "A:X0+90"},
		{"unlock across several locks", []step{{oA, 'S', 0, 10, G, ""}, {oA, 'X', 20, 10, G, ""}, {oA, 'U', 5, 20, G, ""}}, "A:S0+5 A:X25+5"},
		{"adjacent same mode merges", []step{{oA, 'S', 0, 10, G, ""}, {oA, 'S', 10, 10, G, ""}}, "A:S0+20"},
		{"adjacent below merges", []step{{oA, 'S', 10, 10, G, ""}, {oA, 'S', 0, 10, G, ""}}, "A:S0+20"},
		{"overlapping same mode merges", []step{{oA, 'S', 0, 10, G, ""}, {oA, 'S', 5, 10, G, ""}}, "A:S0+15"},
		{"bridge merges three", []step{{oA, 'X', 0, 10, G, ""}, {oA, 'X', 20, 10, G, ""}, {oA, 'X', 10, 10, G, ""}}, "A:X0+30"},
		{"adjacent other mode stays apart", []step{{oA, 'S', 0, 10, G, ""}, {oA, 'X', 10, 10, G, ""}}, "A:S0+10 A:X10+10"},
		{"gap of one byte stays apart", []step{{oA, 'S', 0, 10, G, ""}, {oA, 'S', 11, 10, G, ""}}, "A:S0+10 A:S11+10"},
		{"upgrade of the middle splits", []step{{oA, 'S', 0, 100, G, ""}, {oA, 'X', 40, 10, G, ""}}, "A:S0+40 A:X40+10 A:S50+50"},
		{"downgrade of the middle merges back", []step{{oA, 'S', 0, 100, G, ""}, {oA, 'X', 40, 10, G, ""}, {oA, 'S', 40, 10, G, ""}}, "A:S0+100"},
		{"whole downgrade", []step{{oA, 'X', 0, 10, G, ""}, {oA, 'S', 0, 10, G, ""}}, "A:S0+10"},
		{"upgrade over several", []step{{oA, 'S', 0, 10, G, ""}, {oA, 'S', 20, 10, G, ""}, {oA, 'X', 40, 10, G, ""}, {oA, 'X', 0, 100, G, ""}}, "A:X0+100"},
		{"partial upgrade across two", []step{{oA, 'S', 0, 10, G, ""}, {oA, 'S', 20, 10, G, ""}, {oA, 'X', 5, 20, G, ""}}, "A:S0+5 A:X5+20 A:S25+5"},
		{"relock of the same range", []step{{oA, 'X', 0, 10, G, ""}, {oA, 'X', 0, 10, G, ""}}, "A:X0+10"},
		{"to EOF", []step{{oA, 'X', 10, 0, G, ""}}, "A:X10+0"},
		{"to EOF cut by to EOF unlock", []step{{oA, 'X', 10, 0, G, ""}, {oA, 'U', 20, 0, G, ""}}, "A:X10+10"},
		{"middle unlock of to EOF", []step{{oA, 'S', 0, 0, G, ""}, {oA, 'U', 100, 10, G, ""}}, "A:S0+100 A:S110+0"},
		{"to EOF merges with what touches it", []step{{oA, 'S', 0, 10, G, ""}, {oA, 'S', 10, 0, G, ""}}, "A:S0+0"},
		{"upgrade inside to EOF", []step{{oA, 'S', 0, 0, G, ""}, {oA, 'X', 5, 5, G, ""}}, "A:S0+5 A:X5+5 A:S10+0"},
		{"last byte is to EOF", []step{{oA, 'X', max64, 1, G, ""}}, "A:X18446744073709551615+0"},
		{"overflowing length reaches to EOF", []step{{oA, 'X', max64 - 9, 100, G, ""}}, "A:X18446744073709551606+0"},
		{"maximal length from 0", []step{{oA, 'X', 0, max64, G, ""}}, "A:X0+18446744073709551615"},
		{"maximal length plus last byte is everything", []step{{oA, 'X', 0, max64, G, ""}, {oA, 'X', max64, 1, G, ""}}, "A:X0+0"},
		{"unlock of the last byte", []step{{oA, 'X', 0, 0, G, ""}, {oA, 'U', max64, 1, G, ""}}, "A:X0+18446744073709551615"},
		{"unlock of the first byte of everything", []step{{oA, 'X', 0, 0, G, ""}, {oA, 'U', 0, 1, G, ""}}, "A:X1+0"},
		{"near the top, overflow on unlock", []step{{oA, 'S', max64 - 20, 10, G, ""}, {oA, 'S', max64 - 5, 3, G, ""}, {oA, 'U', max64 - 15, max64, G, ""}}, "A:S18446744073709551595+5"},
		{"owners do not merge", []step{{oA, 'S', 0, 10, G, ""}, {oB, 'S', 10, 10, G, ""}}, "A:S0+10 B:S10+10"},
		{"shared locks of owners overlap", []step{{oA, 'S', 0, 10, G, ""}, {oB, 'S', 5, 10, G, ""}}, "A:S0+10 B:S5+10"},
		{"exclusive conflicts with shared", []step{{oA, 'S', 0, 10, G, ""}, {oB, 'X', 9, 1, D, "A:S0+10"}}, "A:S0+10"},
		{"shared conflicts with exclusive", []step{{oA, 'X', 0, 10, G, ""}, {oB, 'S', 5, 1, D, "A:X0+10"}}, "A:X0+10"},
		{"adjacent exclusive does not conflict", []step{{oA, 'X', 0, 10, G, ""}, {oB, 'X', 10, 0, G, ""}}, "A:X0+10 B:X10+0"},
		{"to EOF conflicts at the top", []step{{oA, 'X', max64, 1, G, ""}, {oB, 'S', 1000, 0, D, "A:X18446744073709551615+0"}}, "A:X18446744073709551615+0"},
		{"processes of one host conflict", []step{{oA, 'X', 0, 10, G, ""}, {oA2, 'X', 0, 10, D, "A:X0+10"}}, "A:X0+10"},
		{"upgrade refused while another shares", []step{{oA, 'S', 0, 10, G, ""}, {oB, 'S', 0, 10, G, ""}, {oA, 'X', 0, 10, D, "B:S0+10"}}, "A:S0+10 B:S0+10"},
		{"refused upgrade keeps the shared lock", []step{{oA, 'S', 0, 100, G, ""}, {oB, 'S', 50, 1, G, ""}, {oA, 'X', 0, 100, D, "B:S50+1"}, {oB, 'X', 0, 1, D, "A:S0+100"}}, "A:S0+100 B:S50+1"},
		{"holder is the first in offset order", []step{{oA, 'S', 50, 10, G, ""}, {oB, 'S', 20, 10, G, ""}, {oC, 'X', 0, 100, D, "B:S20+10"}}, "B:S20+10 A:S50+10"},
		{"local owner is POSIX", []step{{oL, 'S', 0, 10, G, ""}, {oL, 'S', 10, 10, G, ""}, {oL, 'X', 5, 0, G, ""}}, "L:S0+5 L:X5+0"},
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

func TestPOSIXUnlockOfAllFreesState(t *testing.T) {
	m, _ := newTest(Limits{})
	runSteps(t, m, fA, []step{{oA, 'S', 0, 10, Granted, ""}, {oA, 'X', 30, 0, Granted, ""}, {oA, 'U', 0, 0, Granted, ""}})
	if len(m.files) != 0 || len(m.owners) != 0 || len(m.hosts) != 0 || m.count != 0 {
		t.Fatalf("state left: %d files, %d owners, %d hosts, count %d", len(m.files), len(m.owners), len(m.hosts), m.count)
	}
}

func TestTest(t *testing.T) {
	m, _ := newTest(Limits{})
	mustLock(t, m, rq(oA, fA, 100, 10, Shared), Granted)
	mustLock(t, m, rq(oX, fA, 50, 10, Exclusive), Granted)
	tests := []struct {
		r    Request
		want Status
		hold string
	}{
		{rq(oB, fA, 0, 0, Shared), Denied, "X:X50+10"},
		{rq(oB, fA, 0, 0, Exclusive), Denied, "X:X50+10"},
		{rq(oB, fA, 60, 0, Shared), Granted, ""},
		{rq(oB, fA, 60, 0, Exclusive), Denied, "A:S100+10"},
		{rq(oA, fA, 100, 10, Exclusive), Granted, ""}, // its own lock
		{rq(oA, fA, 0, 0, Exclusive), Denied, "X:X50+10"},
		{rq(oB, fB, 0, 0, Exclusive), Granted, ""},
		{rq(oX, fA, 50, 10, Shared), Granted, ""},           // shared over own exclusive
		{rq(oX, fA, 50, 10, Exclusive), Denied, "X:X50+10"}, // exclusive over own lock
		{rq(oX, fA, max64, 2, Shared), InvalidRange, ""},
		{Request{File: fA, Owner: oA, Mode: 0}, Invalid, ""},
		{Request{File: fA, Owner: Owner{}, Mode: Shared}, Invalid, ""},
	}
	for i, tt := range tests {
		d := m.Test(tt.r)
		if d.Status != tt.want || fmtLock(d.Holder) != tt.hold {
			t.Errorf("%d: Test = %v %q, want %v %q", i, d.Status, fmtLock(d.Holder), tt.want, tt.hold)
		}
	}
	if got := dump(m, fA); got != "X:X50+10 A:S100+10" {
		t.Fatalf("Test changed the table: %q", got)
	}
}

func TestInvalidRequests(t *testing.T) {
	m, _ := newTest(Limits{})
	long := make([]byte, MaxOHLen+1)
	for i, r := range []Request{
		{File: fA, Owner: oA, Mode: 3},
		{File: fA, Owner: Owner{Proto: 9}, Mode: Shared},
		{File: fA, Owner: NLMOwner("h", 1, long), Mode: Shared},
		{File: fA, Owner: Owner{Proto: NLM, Host: string(make([]byte, MaxHostLen+1))}, Mode: Shared},
	} {
		if d := m.Lock(r); d.Status != Invalid {
			t.Errorf("%d: Lock = %v, want invalid", i, d.Status)
		}
	}
	if st, _ := m.Unlock(fA, Owner{}, Range{}); st != Invalid {
		t.Errorf("Unlock without owner = %v", st)
	}
	checkInvariants(t, m)
}
