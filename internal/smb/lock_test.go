package smb

import (
	"testing"

	"github.com/tandemfs/tandem/internal/lock"
)

// Element shorthands: offset, length, flags.
func excl(off, n uint64) [3]uint64   { return [3]uint64{off, n, lockExclusive | lockFailImmediately} }
func shared(off, n uint64) [3]uint64 { return [3]uint64{off, n, lockShared | lockFailImmediately} }
func unlock(off, n uint64) [3]uint64 { return [3]uint64{off, n, lockUnlock} }

func TestLock(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	d := e.connect("export")
	a := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate})
	c.write(a, 0, make([]byte, 200))
	b := d.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispOpen})

	if st := c.lock(a, excl(0, 10)); st != StatusSuccess {
		t.Fatal(st)
	}
	for _, tc := range []struct {
		what string
		st   Status
		want Status
	}{
		{"overlapping exclusive of another open", d.lock(b, excl(5, 10)), StatusLockNotGranted},
		{"overlapping shared of another open", d.lock(b, shared(9, 1)), StatusLockNotGranted},
		{"adjacent exclusive", d.lock(b, excl(10, 10)), StatusSuccess},
		{"exclusive over the open's own", c.lock(a, excl(5, 2)), StatusLockNotGranted},
		{"shared over the open's own exclusive", c.lock(a, shared(5, 2)), StatusSuccess},
		{"unlock of a different range", c.lock(a, unlock(0, 9)), StatusRangeNotLocked},
		{"range past 2^64", c.lock(a, excl(^uint64(0)-1, 10)), StatusInvalidLockRange},
		{"unlock mixed with a lock", c.lock(a, unlock(5, 2), excl(50, 1)), StatusInvalidParameter},
		{"the unlock before the bad element stays done", c.lock(a, unlock(5, 2)), StatusRangeNotLocked},
		{"lock mixed with an unlock", c.lock(a, excl(50, 1), unlock(0, 10)), StatusInvalidParameter},
		{"the lock before the bad element is undone", d.lock(b, excl(50, 1)), StatusSuccess},
		{"shared over the open's own exclusive again", c.lock(a, shared(5, 2)), StatusSuccess},
		{"several locks that may wait", c.lock(a, [3]uint64{50, 1, lockExclusive}, excl(60, 1)), StatusInvalidParameter},
		{"shared and exclusive", c.lock(a, [3]uint64{50, 1, lockExclusive | lockShared | lockFailImmediately}), StatusInvalidParameter},
	} {
		if tc.st != tc.want {
			t.Errorf("%s: %v, want %v", tc.what, tc.st, tc.want)
		}
	}
	// Mandatory for I/O: the other open can neither read nor write 0-9,
	// the holder can.
	if _, st := d.read(b, 0, 5); st != StatusFileLockConflict {
		t.Errorf("read under another's exclusive lock: %v", st)
	}
	if st := d.write(b, 8, []byte("xx")); st != StatusFileLockConflict {
		t.Errorf("write under another's exclusive lock: %v", st)
	}
	if _, st := c.read(a, 0, 5); st != StatusSuccess {
		t.Errorf("read under the open's own lock: %v", st)
	}
	// A failing element undoes the ones before it.
	if st := c.lock(a, excl(100, 1), excl(15, 1)); st != StatusLockNotGranted {
		t.Errorf("second element conflicting: %v", st)
	}
	if st := d.lock(b, excl(100, 1)); st != StatusSuccess {
		t.Errorf("the first element was not undone: %v", st)
	}
	// Unlocks: exact ranges, the exclusive first.
	if st := c.lock(a, unlock(5, 2), unlock(0, 10)); st != StatusSuccess {
		t.Errorf("unlocks: %v", st)
	}
	if st := d.lock(b, excl(0, 10)); st != StatusSuccess {
		t.Errorf("after the unlocks: %v", st)
	}
	// Closing releases: a's closing leaves nothing of a.
	c.close(a)
	for _, en := range e.srv.locks().Snapshot() {
		if en.Owner.Proto == lock.SMB && en.Kind == lock.KindRange && en.Range.Offset == 5 {
			t.Errorf("lock of a closed open: %+v", en)
		}
	}
	noData := c.mustCreate(createReq{name: "f", access: fileReadAttributes, share: shareAll, disp: dispOpen})
	if st := c.lock(noData, excl(500, 1)); st != StatusAccessDenied {
		t.Errorf("lock without data access: %v", st)
	}
}

func TestLockWait(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	d := e.connect("export")
	a := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate})
	b := d.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispOpen})
	c.lock(a, excl(0, 10))

	// A lock that may wait goes asynchronous and is granted when the
	// holder unlocks.
	d.send(d.msg(CmdLock, lockBody(b, [3]uint64{0, 10, lockExclusive}), nil))
	interim := d.recv()[0]
	if interim.Status != StatusPending || interim.Flags&FlagAsync == 0 {
		t.Fatalf("interim: %+v", interim.Header)
	}
	if st := c.lock(a, unlock(0, 10)); st != StatusSuccess {
		t.Fatal(st)
	}
	final := d.recv()[0]
	if final.Status != StatusSuccess || final.AsyncID != interim.AsyncID || final.Command != CmdLock {
		t.Fatalf("final: %+v", final.Header)
	}
	if st := c.lock(a, excl(5, 1)); st != StatusLockNotGranted {
		t.Errorf("the granted waiter does not hold the lock: %v", st)
	}

	// Cancelled by CANCEL.
	c.send(c.msg(CmdLock, lockBody(a, [3]uint64{0, 10, lockShared}), nil))
	id := c.next - 1
	interim = c.recv()[0]
	c.send(c.msg(CmdCancel, echoBody, func(h *Header) {
		h.MessageID, h.Flags, h.AsyncID = id, h.Flags|FlagAsync, interim.AsyncID
	}))
	c.next = id + 1
	if final := c.recv()[0]; final.Status != StatusCancelled {
		t.Fatalf("cancelled: %+v", final.Header)
	}

	// Granted when the holder closes; and across protocols: an NLM
	// owner's lock blocks the SMB waiter until NLM unlocks.
	c.send(c.msg(CmdLock, lockBody(a, [3]uint64{0, 10, lockShared}), nil))
	if r := c.recv()[0]; r.Status != StatusPending {
		t.Fatal(r.Status)
	}
	d.close(b)
	if r := c.recv()[0]; r.Status != StatusSuccess {
		t.Fatalf("after the holder's close: %v", r.Status)
	}
	c.lock(a, unlock(0, 10))
	key := lockKey(t, e, "f")
	nlm := lock.NLMOwner("client", 42, []byte("oh"))
	if dd := e.srv.locks().Lock(lock.Request{File: key, Owner: nlm, Range: lock.Range{Offset: 0, Length: 100}, Mode: lock.Exclusive}); dd.Status != lock.Granted {
		t.Fatal(dd.Status)
	}
	if st := c.lock(a, excl(50, 1)); st != StatusLockNotGranted {
		t.Errorf("against an NLM lock: %v", st)
	}
	if st := c.write(a, 0, []byte("x")); st != StatusFileLockConflict {
		t.Errorf("write under an NLM lock: %v", st)
	}
	c.send(c.msg(CmdLock, lockBody(a, [3]uint64{50, 1, lockExclusive}), nil))
	if r := c.recv()[0]; r.Status != StatusPending {
		t.Fatal(r.Status)
	}
	_, ns := e.srv.locks().Unlock(key, nlm, lock.Range{Offset: 0, Length: 0})
	e.srv.Deliver(ns) // what the server's router does
	if r := c.recv()[0]; r.Status != StatusSuccess {
		t.Fatalf("after the NLM unlock: %v", r.Status)
	}
}

// A waiting lock whose own open is closed is answered
// STATUS_RANGE_NOT_LOCKED; a tree disconnect closes its opens oldest
// first, so a waiter of a younger open is granted by the older holder's
// close before its own open goes.
func TestLockWaitEndsWithItsOpen(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	a := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate})
	b := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispOpen})
	c.lock(a, excl(0, 10))
	c.send(c.msg(CmdLock, lockBody(b, [3]uint64{0, 10, lockExclusive}), nil))
	if r := c.recv()[0]; r.Status != StatusPending {
		t.Fatal(r.Status)
	}
	c.send(c.msg(CmdClose, closeBody(b), nil))
	for _, want := range []Status{StatusRangeNotLocked, StatusSuccess} {
		if r := c.recv()[0]; r.Status != want {
			t.Errorf("%v: %v, want %v", r.Command, r.Status, want)
		}
	}

	b = c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispOpen})
	c.send(c.msg(CmdLock, lockBody(b, [3]uint64{0, 10, lockExclusive}), nil))
	if r := c.recv()[0]; r.Status != StatusPending {
		t.Fatal(r.Status)
	}
	c.send(c.msg(CmdTreeDisconnect, echoBody, nil))
	got := map[Command]Status{}
	for range 2 {
		r := c.recv()[0]
		got[r.Command] = r.Status
	}
	if got[CmdLock] != StatusSuccess || got[CmdTreeDisconnect] != StatusSuccess {
		t.Errorf("tree disconnect under a waiting lock: %v", got)
	}
}

// The FileId is checked before the lock elements.
func TestLockUnknownFileBeforeBadFlags(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	if st := c.lock(FileID{1, 2}, [3]uint64{0, 0, 0}); st != StatusFileClosed {
		t.Errorf("LOCK with no lock flags on an unknown FileId: %v", st)
	}
}

// A waiting lock whose session logs off is answered, as Windows and Samba
// answer it, rather than left without a final response.
func TestLockWaitAnsweredAtLogoff(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	a := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate})
	b := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispOpen})
	c.lock(a, excl(0, 10))
	c.send(c.msg(CmdLock, lockBody(b, [3]uint64{0, 10, lockExclusive}), nil))
	if r := c.recv()[0]; r.Status != StatusPending {
		t.Fatal(r.Status)
	}
	c.send(c.msg(CmdLogoff, echoBody, nil))
	got := map[Command]Status{}
	for range 2 {
		r := c.recv()[0]
		got[r.Command] = r.Status
	}
	if st, ok := got[CmdLock]; !ok || st != StatusRangeNotLocked && st != StatusSuccess {
		t.Errorf("waiting lock at logoff: %v", got)
	}
	if got[CmdLogoff] != StatusSuccess {
		t.Errorf("logoff: %v", got)
	}
}
