package nlm

import (
	"bytes"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// TestStatusTable: every lock manager outcome and file system error has
// its nlm4_stats, and versions 1 and 3 get only the five they define.
func TestStatusTable(t *testing.T) {
	for s, want := range map[lock.Status]Stat{
		lock.Granted: StatGranted, lock.Queued: StatBlocked, lock.Denied: StatDenied,
		lock.Deadlock: StatDeadlock, lock.LimitExceeded: StatDeniedNoLocks, lock.InvalidRange: StatFBig,
		lock.NotLocked: StatDenied, lock.Cancelled: StatDenied, lock.Invalid: StatFailed, lock.Status(200): StatFailed,
	} {
		if got := statOf(s); got != want {
			t.Errorf("%v: %v, want %v", s, got, want)
		}
	}
	for err, want := range map[error]Stat{
		fs.ErrStale: StatStaleFH, fs.ErrBadHandle: StatStaleFH, fs.ErrAccess: StatDenied,
		fs.ErrROFS: StatROFS, fs.ErrIO: StatFailed, fs.ErrNoSpace: StatDeniedNoLocks,
	} {
		if got := statOfErr(err); got != want {
			t.Errorf("%v: %v, want %v", err, got, want)
		}
	}
	for s, want := range map[Stat]uint32{
		StatGranted: 0, StatDenied: 1, StatDeniedNoLocks: 2, StatBlocked: 3, StatDeniedGrace: 4,
		StatDeadlock: 1, StatROFS: 2, StatStaleFH: 2, StatFBig: 2, StatFailed: 2,
	} {
		if got := wireStat(Version3, s); got != want {
			t.Errorf("v3 %v: %d, want %d", s, got, want)
		}
		if got := wireStat(Version4, s); got != uint32(s) {
			t.Errorf("v4 %v: %d", s, got)
		}
	}
}

// TestWriteRange: 64-bit ranges in the 32-bit versions.
func TestWriteRange(t *testing.T) {
	for _, c := range []struct{ off, n, wantOff, wantN uint64 }{
		{0, 0, 0, 0},
		{10, 20, 10, 20},
		{0xffffffff, 1, 0xffffffff, 1},
		{0xffffffff, 2, 0xffffffff, 0},
		{0xfffffff0, 0x10, 0xfffffff0, 0x10},
		{0xfffffff0, 0x11, 0xfffffff0, 0},
		{1 << 32, 5, 0xffffffff, 0},
	} {
		w := xdr.NewWriter(nil)
		writeRange(w, false, c.off, c.n)
		r := xdr.NewReader(w.Bytes())
		if o, n := uint64(r.Uint32()), uint64(r.Uint32()); o != c.wantOff || n != c.wantN || r.Remaining() != 0 {
			t.Errorf("%#x+%#x: %#x+%#x, want %#x+%#x", c.off, c.n, o, n, c.wantOff, c.wantN)
		}
	}
}

func TestOverlap(t *testing.T) {
	for _, c := range []struct {
		a, b lock.Range
		want bool
	}{
		{lock.Range{Offset: 0, Length: 10}, lock.Range{Offset: 10, Length: 10}, false},
		{lock.Range{Offset: 0, Length: 11}, lock.Range{Offset: 10, Length: 10}, true},
		{lock.Range{Offset: 100, Length: 0}, lock.Range{Offset: 1 << 62, Length: 1}, true},
		{lock.Range{Offset: 100, Length: 0}, lock.Range{Offset: 0, Length: 100}, false},
		{lock.Range{Offset: 5, Length: ^uint64(0)}, lock.Range{Offset: ^uint64(0), Length: 1}, true},
	} {
		if got := overlap(c.a, c.b); got != c.want || overlap(c.b, c.a) != c.want {
			t.Errorf("%+v %+v: %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// TestLockClone: a waiter's copy of the lock does not alias the call's
// buffer, which the RPC layer reuses.
func TestLockClone(t *testing.T) {
	buf := []byte("hostFHxxOH")
	l := wireLock{caller: buf[0:4], fh: buf[4:8], oh: buf[8:10], svid: 3, offset: 1, length: 2}
	c := l.clone()
	copy(buf, "----------")
	if string(c.caller) != "host" || string(c.fh) != "FHxx" || string(c.oh) != "OH" || c.svid != 3 || c.offset != 1 || c.length != 2 {
		t.Fatalf("clone: %+v", c)
	}
	c.caller = append(c.caller, 'X')
	if !bytes.Equal(c.fh, []byte("FHxx")) {
		t.Fatal("appending to the caller name overwrote the handle")
	}
}
