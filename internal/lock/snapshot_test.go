package lock

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

func fmtEntry(e Entry) string {
	s := fmt.Sprintf("%v %v %s", e.Kind, e.File, nameOf(e.Owner))
	switch e.Kind {
	case KindRange:
		s += fmt.Sprintf(" %s%d+%d", modeChar(e.Mode), e.Range.Offset, e.Range.Length)
	case KindShare:
		s += fmt.Sprintf(" a=%d s=%d", e.Access, e.ShareAccess)
	}
	if e.Waiting {
		s += fmt.Sprintf(" waiting#%d", e.Waiter)
		if !e.Deadline.IsZero() {
			s += " until " + e.Deadline.UTC().Format(time.TimeOnly)
		}
	}
	return s + fmt.Sprintf(" since %s age %v", e.Since.UTC().Format(time.TimeOnly), e.Age)
}

func TestSnapshot(t *testing.T) {
	m, c := newTest(Limits{})
	mustLock(t, m, rq(oA, fB, 0, 10, Shared), Granted)
	c.Advance(time.Minute)
	m.AddShare(fA, oX, AccessRead|AccessWrite, ShareRead)
	mustLock(t, m, rq(oX, fA, 100, 0, Exclusive), Granted)
	mustLock(t, m, rq(oA, fB, 10, 10, Shared), Granted) // merges, keeps the older age
	c.Advance(time.Minute)
	r := wq(oB, fB, 5, 1, Exclusive)
	r.Deadline = c.Now().Add(30 * time.Second)
	mustLock(t, m, r, Queued)
	mustLock(t, m, wq(oC, fB, 0, 0, Shared), Queued) // behind B
	c.Advance(10 * time.Second)
	var got []string
	for _, e := range m.Snapshot() {
		got = append(got, fmtEntry(e))
	}
	want := []string{
		"share 1:100 X a=3 s=1 since 12:01:00 age 1m10s",
		"range 1:100 X X100+0 since 12:01:00 age 1m10s",
		"range 1:200 A S0+20 since 12:00:00 age 2m10s",
		"range 1:200 B X5+1 waiting#1 until 12:02:30 since 12:02:00 age 10s",
		"range 1:200 C S0+0 waiting#2 since 12:02:00 age 10s",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("snapshot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if m.FileRecords(fC) != nil {
		t.Fatal("records of a file with nothing")
	}
}

func encodeAll(recs []Record) []byte { return AppendRecords(nil, recs) }

func TestRecordsRestore(t *testing.T) {
	m, c := newTest(Limits{})
	mustLock(t, m, rq(oA, fA, 0, 100, Shared), Granted)
	mustLock(t, m, rq(oA, fA, 40, 10, Exclusive), Granted)
	c.Advance(time.Second)
	mustLock(t, m, rq(oX, fB, 5, 0, Shared), Granted)
	mustLock(t, m, rq(oX, fB, 5, 0, Shared), Granted)
	mustLock(t, m, rq(oX, fB, 6, 10, Exclusive), Granted) // past its zero-length locks
	mustLock(t, m, rq(oY, fB, 20, 1, Shared), Granted)
	mustLock(t, m, rq(oL, fC, 1<<63, 0, Exclusive), Granted)
	m.AddShare(fB, oX, AccessRead, ShareRead|ShareWrite|ShareDelete)
	m.AddShare(fB, oY, AccessRead|AccessDelete, ShareRead|ShareDelete)
	mustLock(t, m, wq(oB, fA, 0, 1, Exclusive), Queued) // not a record
	recs := m.Records()
	if len(recs) != 10 {
		t.Fatalf("%d records", len(recs))
	}
	var n int
	for _, k := range []FileKey{fA, fB, fC} {
		n += len(m.FileRecords(k))
	}
	if n != len(recs) {
		t.Fatalf("FileRecords give %d, Records %d", n, len(recs))
	}

	decoded, err := DecodeRecords(encodeAll(recs))
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := newTest(Limits{})
	mustLock(t, m2, rq(oC, fC, 0, 1, Exclusive), Granted) // replaced by Restore
	if err := m2.Restore(decoded); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(encodeAll(m2.Records()), encodeAll(recs)) {
		t.Fatalf("restored:\n%v\nwant:\n%v", m2.Records(), recs)
	}
	checkInvariants(t, m2)
	// The restored table decides as the original did.
	mustLock(t, m2, rq(oB, fA, 45, 1, Shared), Denied)
	mustLock(t, m2, rq(oB, fB, 20, 1, Shared), Granted)
	if _, st := m2.AddShare(fB, oC, AccessWrite, ShareRead|ShareWrite|ShareDelete); st != Denied {
		t.Fatalf("AddShare after restore = %v", st)
	}
	if st, _ := m2.Unlock(fB, oX, Range{Offset: 5}); st != Granted {
		t.Fatalf("SMB unlock after restore = %v", st)
	}
}

func TestRestoreRefusesBadRecords(t *testing.T) {
	lockRec := func(o Owner, off, n uint64, mode Mode) Record {
		return Record{Kind: KindRange, File: fA, Owner: o, Mode: mode, Range: Range{Offset: off, Length: n}, Since: t0}
	}
	tests := []struct {
		name string
		recs []Record
	}{
		{"conflicting locks", []Record{lockRec(oA, 0, 10, Exclusive), lockRec(oB, 5, 1, Shared)}},
		{"SMB exclusive over own lock", []Record{lockRec(oX, 0, 10, Shared), lockRec(oX, 0, 10, Exclusive)}},
		{"conflicting reservations", []Record{
			{Kind: KindShare, File: fA, Owner: oX, Access: AccessRead, ShareAccess: 0},
			{Kind: KindShare, File: fA, Owner: oY, Access: AccessRead, ShareAccess: ShareRead},
		}},
		{"caching grant", []Record{{Kind: KindCaching, File: fA, Owner: oX}}},
		{"no mode", []Record{lockRec(oA, 0, 10, 0)}},
		{"no owner", []Record{lockRec(Owner{}, 0, 10, Shared)}},
		{"invalid SMB range", []Record{lockRec(oX, 2, max64, Shared)}},
		{"share with a range", []Record{{Kind: KindShare, File: fA, Owner: oX, Range: Range{Length: 1}}}},
	}
	for _, tt := range tests {
		m, _ := newTest(Limits{})
		mustLock(t, m, rq(oC, fC, 0, 1, Exclusive), Granted)
		if err := m.Restore(tt.recs); err == nil {
			t.Errorf("%s: restored", tt.name)
		}
		if got := dump(m, fC); got != "C:X0+1" || len(m.files) != 1 {
			t.Errorf("%s: state changed to %q", tt.name, got)
		}
	}
}
