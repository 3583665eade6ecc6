package smbclient

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestDialects: every dialect logs on, writes, reads back and closes,
// signed and unsigned; the server signs its answers to signed requests
// (checked by the client) and the 3.x final SESSION_SETUP response.
func TestDialects(t *testing.T) {
	addr := startServer(t)
	for _, d := range []Dialect{Dialect202, Dialect210, Dialect300, Dialect302, Dialect311} {
		for _, sign := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/signed=%v", d, sign), func(t *testing.T) {
				c, tree := connect(t, addr, Options{Dialects: []Dialect{d}, Sign: sign}, alice, alicePass)
				if c.Dialect() != d {
					t.Fatalf("negotiated %v, want %v", c.Dialect(), d)
				}
				if c.Signing() != sign {
					t.Fatalf("signing %v, want %v (the server does not require it)", c.Signing(), sign)
				}
				name := fmt.Sprintf("dialect-%04x-%v", uint16(d), sign)
				r := mustCreate(t, tree, name, rw())
				if r.CreateAction != ActionCreated {
					t.Errorf("CreateAction %d, want %d (created)", r.CreateAction, ActionCreated)
				}
				data := []byte("hello " + name)
				n, st, err := tree.Write(r.FileID, 3, data)
				expect(t, "WRITE", st, err, StatusSuccess)
				if n != uint32(len(data)) {
					t.Fatalf("WRITE count %d, want %d", n, len(data))
				}
				got, st, err := tree.Read(r.FileID, 0, 100)
				expect(t, "READ", st, err, StatusSuccess)
				if want := append([]byte{0, 0, 0}, data...); !bytes.Equal(got, want) {
					t.Fatalf("READ %q, want %q", got, want)
				}
				st, err = tree.Close(r.FileID)
				expect(t, "CLOSE", st, err, StatusSuccess)
				st, err = c.Logoff()
				expect(t, "LOGOFF", st, err, StatusSuccess)
			})
		}
	}
}

// TestNegotiateAndLogonRefusals: a dialect the server does not speak,
// a wrong password, an unknown share, and requests after LOGOFF.
func TestNegotiateAndLogonRefusals(t *testing.T) {
	addr := startServer(t)
	_, err := Dial(addr, Options{Dialects: []Dialect{0x0200}})
	var se *StatusError
	if !errors.As(err, &se) || se.Status != StatusNotSupported {
		t.Fatalf("NEGOTIATE of dialect 2.0.0: %v, want %v", err, StatusNotSupported)
	}

	c, err := Dial(addr, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.SessionSetup(Logon{User: alice, Password: "wrong"})
	expect(t, "SESSION_SETUP with a wrong password", st, err, StatusLogonFailure)
	if c.SessionID() != 0 {
		t.Fatalf("session id %#x after a failed logon", c.SessionID())
	}
	st, err = c.SessionSetup(Logon{User: alice, Password: alicePass})
	expect(t, "SESSION_SETUP", st, err, StatusSuccess)
	tree, st, err := c.TreeConnect(`\\127.0.0.1\nosuchshare`)
	expect(t, "TREE_CONNECT of a missing share", st, err, StatusBadNetworkName)
	if tree != nil {
		t.Fatal("a tree for a refused TREE_CONNECT")
	}
	tree, st, err = c.TreeConnect(`\\127.0.0.1\export`)
	expect(t, "TREE_CONNECT", st, err, StatusSuccess)
	st, err = tree.Disconnect()
	expect(t, "TREE_DISCONNECT", st, err, StatusSuccess)
	r, err := tree.Create("x", rw())
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "CREATE on a disconnected tree", r.Status, nil, StatusNetworkNameDeleted)

	tree, st, err = c.TreeConnect(`\\127.0.0.1\export`)
	expect(t, "TREE_CONNECT", st, err, StatusSuccess)
	st, err = c.Logoff()
	expect(t, "LOGOFF", st, err, StatusSuccess)
	r, err = tree.Create("x", rw())
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "CREATE after LOGOFF", r.Status, nil, StatusUserSessionDeleted)
}

// TestFileOperations: CREATE dispositions, WRITE, READ (and its end of
// file), FLUSH and CLOSE, with their exact statuses and bytes.
func TestFileOperations(t *testing.T) {
	addr := startServer(t)
	_, tree := connect(t, addr, Options{}, alice, alicePass)

	open := func(name string, disp uint32) *CreateResponse {
		t.Helper()
		q := rw()
		q.Disposition = disp
		r, err := tree.Create(name, q)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := open("missing", DispositionOpen); r.Status != StatusObjectNameNotFound {
		t.Fatalf("FILE_OPEN of a missing file: %v, want %v", r.Status, StatusObjectNameNotFound)
	}
	r := open("f", DispositionCreate)
	expect(t, "FILE_CREATE", r.Status, nil, StatusSuccess)
	if r.CreateAction != ActionCreated || r.EndOfFile != 0 || r.OplockLevel != OplockNone || r.Lease != nil || r.Durable || r.DurableV2 != nil {
		t.Fatalf("new file: %+v", r)
	}
	if r2 := open("f", DispositionCreate); r2.Status != StatusObjectNameCollision {
		t.Fatalf("FILE_CREATE of an existing file: %v, want %v", r2.Status, StatusObjectNameCollision)
	}
	fid := r.FileID

	payload := bytes.Repeat([]byte("0123456789abcdef"), 8192) // 128 KiB: two credits
	n, st, err := tree.WriteFlags(fid, 0, payload, WriteThrough)
	expect(t, "WRITE", st, err, StatusSuccess)
	if n != uint32(len(payload)) {
		t.Fatalf("WRITE count %d, want %d", n, len(payload))
	}
	st, err = tree.Flush(fid)
	expect(t, "FLUSH", st, err, StatusSuccess)
	got, st, err := tree.Read(fid, 0, uint32(len(payload)))
	expect(t, "READ", st, err, StatusSuccess)
	if !bytes.Equal(got, payload) {
		t.Fatalf("READ of %d bytes differs from what was written", len(got))
	}
	got, st, err = tree.Read(fid, uint64(len(payload))-4, 100)
	expect(t, "READ across the end", st, err, StatusSuccess)
	if string(got) != "cdef" {
		t.Fatalf("READ across the end: %q, want %q", got, "cdef")
	}
	_, st, err = tree.Read(fid, uint64(len(payload)), 1)
	expect(t, "READ at the end", st, err, StatusEndOfFile)

	r2 := open("f", DispositionOpen)
	expect(t, "FILE_OPEN", r2.Status, nil, StatusSuccess)
	if r2.CreateAction != ActionOpened || r2.EndOfFile != uint64(len(payload)) || r2.FileID == fid {
		t.Fatalf("second open: action %d, size %d, FileId %v (first %v)", r2.CreateAction, r2.EndOfFile, r2.FileID, fid)
	}
	st, err = tree.Close(fid)
	expect(t, "CLOSE", st, err, StatusSuccess)
	st, err = tree.Close(fid)
	expect(t, "second CLOSE", st, err, StatusFileClosed)
	_, _, err = tree.Write(fid, 0, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	_, st, err = tree.Read(fid, 0, 1)
	expect(t, "READ of a closed open", st, err, StatusFileClosed)
	st, err = tree.Flush(fid)
	expect(t, "FLUSH of a closed open", st, err, StatusFileClosed)

	r3 := open("f", DispositionOverwriteIf)
	expect(t, "FILE_OVERWRITE_IF", r3.Status, nil, StatusSuccess)
	if r3.CreateAction != ActionOverwritten || r3.EndOfFile != 0 {
		t.Fatalf("overwrite: action %d, size %d", r3.CreateAction, r3.EndOfFile)
	}

	// Share access: an open without FILE_SHARE_WRITE keeps writers out.
	q := rw()
	q.ShareAccess = ShareRead
	q.Disposition = DispositionCreate
	excl := mustCreate(t, tree, "g", q)
	if r := open("g", DispositionOpen); r.Status != StatusSharingViolation {
		t.Fatalf("opening for write a file open without FILE_SHARE_WRITE: %v, want %v", r.Status, StatusSharingViolation)
	}
	st, err = tree.Close(excl.FileID)
	expect(t, "CLOSE", st, err, StatusSuccess)

	// The replay flag on a CREATE of a 3.x client.
	q = rw()
	q.Replay = true
	if r := open("g", DispositionOpen); r.Status != StatusSuccess {
		t.Fatalf("reopen: %v", r.Status)
	}
	rr, err := tree.Create("replayed", q)
	if err != nil {
		t.Fatal(err)
	}
	expect(t, "CREATE with the replay flag", rr.Status, nil, StatusSuccess)
}

// TestLocks: byte-range locks between two clients: a conflict refused at
// once, I/O into a locked range, unlocking what is not locked, a lock
// sequence, and a waiting lock granted when the holder unlocks.
func TestLocks(t *testing.T) {
	addr := startServer(t)
	_, a := connect(t, addr, Options{}, alice, alicePass)
	_, b := connect(t, addr, Options{}, alice, alicePass)
	fa := mustCreate(t, a, "locked", rw()).FileID
	fb := mustCreate(t, b, "locked", rw()).FileID
	if _, st, err := a.Write(fa, 0, make([]byte, 100)); st != StatusSuccess || err != nil {
		t.Fatalf("WRITE: %v %v", st, err)
	}

	excl := LockElement{Offset: 10, Length: 10, Flags: LockExclusive | LockFailImmediately}
	st, err := a.Lock(fa, excl)
	expect(t, "LOCK", st, err, StatusSuccess)
	st, err = b.Lock(fb, excl)
	expect(t, "conflicting LOCK", st, err, StatusLockNotGranted)
	st, err = b.Lock(fb, LockElement{Offset: 15, Length: 1, Flags: LockShared | LockFailImmediately})
	expect(t, "overlapping shared LOCK", st, err, StatusLockNotGranted)
	_, st, err = b.Write(fb, 12, []byte("x"))
	expect(t, "WRITE into a range another open locked", st, err, StatusFileLockConflict)
	_, st, err = b.Read(fb, 12, 1)
	expect(t, "READ of a range another open locked exclusively", st, err, StatusFileLockConflict)
	_, st, err = a.Write(fa, 12, []byte("y"))
	expect(t, "WRITE into its own lock", st, err, StatusSuccess)
	st, err = b.Lock(fb, LockElement{Offset: 10, Length: 10, Flags: LockUnlock})
	expect(t, "unlocking another open's lock", st, err, StatusRangeNotLocked)
	st, err = b.LockSeq(fb, LockSequence{Number: 1, Index: 1}, LockElement{Offset: 20, Length: 5, Flags: LockExclusive | LockFailImmediately})
	expect(t, "LOCK with a lock sequence next to the held range", st, err, StatusSuccess)

	// A waiting lock: b asks without FAIL_IMMEDIATELY, a unlocks.
	done := make(chan Status, 1)
	go func() {
		st, err := b.Lock(fb, LockElement{Offset: 10, Length: 10, Flags: LockExclusive})
		if err != nil {
			t.Error(err)
		}
		done <- st
	}()
	select {
	case st := <-done:
		t.Fatalf("waiting LOCK answered %v while the range is held", st)
	case <-time.After(300 * time.Millisecond):
	}
	st, err = a.Lock(fa, LockElement{Offset: 10, Length: 10, Flags: LockUnlock})
	expect(t, "unlock", st, err, StatusSuccess)
	select {
	case st := <-done:
		expect(t, "waiting LOCK", st, nil, StatusSuccess)
	case <-time.After(10 * time.Second):
		t.Fatal("waiting LOCK not granted after the unlock")
	}
	st, err = a.Lock(fa, excl)
	expect(t, "LOCK of the range b now holds", st, err, StatusLockNotGranted)
}

// TestAbruptClose: a connection dropped without LOGOFF or CLOSE (a
// network failure) loses its opens, so another client gets the lock.
func TestAbruptClose(t *testing.T) {
	addr := startServer(t)
	ca, a := connect(t, addr, Options{}, alice, alicePass)
	_, b := connect(t, addr, Options{}, alice, alicePass)
	fa := mustCreate(t, a, "dropped", rw()).FileID
	fb := mustCreate(t, b, "dropped", rw()).FileID
	excl := LockElement{Offset: 0, Length: 1, Flags: LockExclusive | LockFailImmediately}
	st, err := a.Lock(fa, excl)
	expect(t, "LOCK", st, err, StatusSuccess)
	st, err = b.Lock(fb, excl)
	expect(t, "conflicting LOCK", st, err, StatusLockNotGranted)
	ca.Close()
	if _, st, err := a.Read(fa, 0, 1); err == nil {
		t.Fatalf("READ on a closed connection answered %v", st)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err = b.Lock(fb, excl)
		if err != nil {
			t.Fatal(err)
		}
		if st == StatusSuccess {
			break
		}
		if st != StatusLockNotGranted || time.Now().After(deadline) {
			t.Fatalf("LOCK after the holder's connection dropped: %v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConcurrentCalls: calls from several goroutines share one
// connection's credits and are matched to their responses.
func TestConcurrentCalls(t *testing.T) {
	addr := startServer(t)
	_, tree := connect(t, addr, Options{}, alice, alicePass)
	fid := mustCreate(t, tree, "many", rw()).FileID
	errs := make(chan error, 32)
	for i := range 32 {
		go func() {
			data := bytes.Repeat([]byte{byte(i)}, 4096+i)
			off := uint64(i) * 8192
			if _, st, err := tree.Write(fid, off, data); err != nil || st != StatusSuccess {
				errs <- fmt.Errorf("WRITE %d: %v %v", i, st, err)
				return
			}
			got, st, err := tree.Read(fid, off, uint32(len(data)))
			if err != nil || st != StatusSuccess || !bytes.Equal(got, data) {
				errs <- fmt.Errorf("READ %d: %v %v (%d bytes)", i, st, err, len(got))
				return
			}
			errs <- nil
		}()
	}
	for range 32 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
