package nfs3

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

var (
	smbOpen  = lock.SMBOwner("smb-client", 0x51)
	nlmOwner = lock.NLMOwner("nfs-client", 7, []byte("oh"))
)

// nfsOp is one NFS request against the file "f" (or its name).
type nfsOp struct {
	name string
	proc uint32
	args func(e *env, f fs.Handle) func(w *xdr.Writer)
}

func renameCall(from fs.Handle, fromName string, to fs.Handle, toName string) func(w *xdr.Writer) {
	return func(w *xdr.Writer) {
		diropArg(from, fromName)(w)
		diropArg(to, toName)(w)
	}
}

var (
	opRead = nfsOp{"READ 0+4", ProcRead, func(e *env, f fs.Handle) func(*xdr.Writer) { return readArgs(f, 0, 4) }}
	// READ 20+4 and WRITE 20+4 miss the locks at 0-9.
	opReadFar  = nfsOp{"READ 20+4", ProcRead, func(e *env, f fs.Handle) func(*xdr.Writer) { return readArgs(f, 20, 4) }}
	opWrite    = nfsOp{"WRITE 8+4", ProcWrite, func(e *env, f fs.Handle) func(*xdr.Writer) { return writeArgsOf(f, 8, 4, 0, []byte("abcd")) }}
	opWriteFar = nfsOp{"WRITE 20+4", ProcWrite, func(e *env, f fs.Handle) func(*xdr.Writer) { return writeArgsOf(f, 20, 4, 0, []byte("abcd")) }}
	opTrunc    = nfsOp{"SETATTR size", ProcSetAttr, func(e *env, f fs.Handle) func(*xdr.Writer) {
		return sattrArgs(f, clientSattr{size: u64(30)}, nil)
	}}
	opChmod = nfsOp{"SETATTR mode", ProcSetAttr, func(e *env, f fs.Handle) func(*xdr.Writer) {
		return sattrArgs(f, clientSattr{mode: u32(0o644)}, nil)
	}}
	opCreateTrunc = nfsOp{"CREATE f size 0", ProcCreate, func(e *env, f fs.Handle) func(*xdr.Writer) {
		return createArgsOf(e.root, "f", fs.Unchecked, clientSattr{size: u64(0)}, "")
	}}
	opCreateKeep = nfsOp{"CREATE f", ProcCreate, func(e *env, f fs.Handle) func(*xdr.Writer) {
		return createArgsOf(e.root, "f", fs.Unchecked, clientSattr{mode: u32(0o644)}, "")
	}}
	opRemove   = nfsOp{"REMOVE", ProcRemove, func(e *env, f fs.Handle) func(*xdr.Writer) { return diropArg(e.root, "f") }}
	opRenameTo = nfsOp{"RENAME f to g", ProcRename, func(e *env, f fs.Handle) func(*xdr.Writer) {
		return renameCall(e.root, "f", e.root, "g")
	}}
	opRenameOver = nfsOp{"RENAME o over f", ProcRename, func(e *env, f fs.Handle) func(*xdr.Writer) {
		return renameCall(e.root, "o", e.root, "f")
	}}
)

var allOps = []nfsOp{opRead, opReadFar, opWrite, opWriteFar, opTrunc, opChmod, opCreateTrunc, opCreateKeep, opRemove, opRenameTo, opRenameOver}

// TestCrossProtocolGuard: what SMB holds on a file, in the lock manager
// NFS shares with SMB, against each NFS request: exactly the requests the
// cross-protocol rules name are NFS3ERR_ACCES, with a well-formed reply,
// and the rest go through.
func TestCrossProtocolGuard(t *testing.T) {
	const R, W, D = lock.AccessRead, lock.AccessWrite, lock.AccessDelete
	const SR, SW, SD = lock.ShareRead, lock.ShareWrite, lock.ShareDelete
	type lk struct {
		owner lock.Owner
		mode  lock.Mode
	}
	type share struct {
		a lock.Access
		s lock.ShareAccess
	}
	tests := []struct {
		name    string
		lock    *lk
		share   *share
		nlm     *share // an NLM share reservation
		refused []nfsOp
	}{
		{name: "nothing"},
		{name: "SMB exclusive lock", lock: &lk{smbOpen, lock.Exclusive}, refused: []nfsOp{opRead, opWrite}},
		{name: "SMB shared lock", lock: &lk{smbOpen, lock.Shared}, refused: []nfsOp{opWrite}},
		{name: "NLM exclusive lock is advisory", lock: &lk{nlmOwner, lock.Exclusive}},
		{name: "SMB open sharing all", share: &share{R | W | D, SR | SW | SD}},
		{name: "SMB open denying write", share: &share{R, SR | SD}, refused: []nfsOp{opWrite, opWriteFar, opTrunc, opCreateTrunc}},
		{name: "SMB open denying read", share: &share{W, SW | SD}, refused: []nfsOp{opRead, opReadFar}},
		{name: "SMB open not sharing delete", share: &share{R, SR | SW}, refused: []nfsOp{opRemove, opRenameTo, opRenameOver}},
		{name: "SMB open denying all", share: &share{R | W, 0}, refused: []nfsOp{opRead, opReadFar, opWrite, opWriteFar, opTrunc, opCreateTrunc, opRemove, opRenameTo, opRenameOver}},
		// MS-FSA 2.1.5.1.2.2: an open without data access denies nothing.
		{name: "SMB attribute-only open", share: &share{0, 0}},
		{name: "NLM share reservation", nlm: &share{R | W, 0}},
	}
	for _, tt := range tests {
		for _, op := range allOps {
			m := lock.New(lock.Config{})
			e := newEnv(t, Options{Locks: m})
			f := e.create(credUser, e.root, "f", 0o644)
			e.writeFile(credUser, f, 0, []byte("0123456789abcdefghijklmnopqrstuvwxyz"))
			e.create(credUser, e.root, "o", 0o644)
			k := lock.KeyOf(f)
			if tt.lock != nil {
				d := m.Lock(lock.Request{File: k, Owner: tt.lock.owner, Range: lock.Range{Offset: 0, Length: 10}, Mode: tt.lock.mode})
				if d.Status != lock.Granted {
					t.Fatal(d.Status)
				}
			}
			if tt.share != nil {
				if _, st := m.AddShare(k, smbOpen, tt.share.a, tt.share.s); st != lock.Granted {
					t.Fatal(st)
				}
			}
			if tt.nlm != nil {
				if _, st := m.AddShare(k, nlmOwner, tt.nlm.a, tt.nlm.s); st != lock.Granted {
					t.Fatal(st)
				}
			}
			want := StatusOK
			for _, o := range tt.refused {
				if o.name == op.name {
					want = StatusAccess
				}
			}
			before := e.attr(f)
			r, st := e.call(op.proc, credUser, op.args(e, f))
			if st != want {
				t.Errorf("%s: %s = %v, want %v", tt.name, op.name, st, want)
				continue
			}
			if st == StatusOK {
				continue
			}
			// The refusal is a complete reply of the procedure's shape,
			// and nothing changed.
			switch op.proc {
			case ProcRead:
				decPostOpAttr(r)
			case ProcWrite, ProcSetAttr, ProcRemove, ProcCreate:
				decWcc(r)
			case ProcRename:
				decWcc(r)
				decWcc(r)
			}
			done(t, r)
			if a := e.attr(f); a != before {
				t.Errorf("%s: %s changed the file: %+v, was %+v", tt.name, op.name, a, before)
			}
			for _, name := range []string{"f", "o"} {
				if _, st := e.call(ProcLookup, credUser, diropArg(e.root, name)); st != StatusOK {
					t.Errorf("%s: %s: %s is gone", tt.name, op.name, name)
				}
			}
		}
	}
}

// Once the SMB side lets go, the same requests go through.
func TestCrossProtocolGuardReleased(t *testing.T) {
	m := lock.New(lock.Config{})
	e := newEnv(t, Options{Locks: m})
	f := e.create(credUser, e.root, "f", 0o644)
	k := lock.KeyOf(f)
	m.AddShare(k, smbOpen, lock.AccessRead|lock.AccessWrite, 0)
	m.Lock(lock.Request{File: k, Owner: smbOpen, Range: lock.Range{Length: 10}, Mode: lock.Exclusive})
	for _, op := range []nfsOp{opWrite, opRemove} {
		if _, st := e.call(op.proc, credUser, op.args(e, f)); st != StatusAccess {
			t.Fatalf("%s while SMB holds the file: %v", op.name, st)
		}
	}
	m.ReleaseOwner(smbOpen)
	for _, op := range []nfsOp{opWrite, opRead, opRemove} {
		if _, st := e.call(op.proc, credUser, op.args(e, f)); st != StatusOK {
			t.Errorf("%s after SMB closed: %v", op.name, st)
		}
	}
}

// The guard of a file without lock state allocates nothing, with other
// files locked.
func TestCrossProtocolGuardAllocs(t *testing.T) {
	m := lock.New(lock.Config{})
	e := newEnv(t, Options{Locks: m})
	f := e.create(credUser, e.root, "f", 0o644)
	busy := e.create(credUser, e.root, "busy", 0o644)
	m.AddShare(lock.KeyOf(busy), smbOpen, lock.AccessRead, 0)
	g := &e.h.cross
	sa := fs.SetAttr{Mask: fs.SetSize}
	n := testing.AllocsPerRun(100, func() {
		r, err1 := g.read(f, 0, 4096)
		w, err2 := g.write(f, 0, 4096)
		s, err3 := g.setattr(f, &sa)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatal("refused")
		}
		g.end(&r)
		g.end(&w)
		g.end(&s)
	})
	if n != 0 {
		t.Errorf("%v allocations per guarded READ, WRITE and SETATTR", n)
	}
}

// BenchmarkRead64KGuarded is BenchmarkRead64K with the lock manager of a
// server whose SMB clients hold another file.
func BenchmarkRead64KGuarded(b *testing.B) {
	m := lock.New(lock.Config{})
	e := newEnv(b, Options{Locks: m})
	f := e.create(credUser, e.root, "f", 0644)
	busy := e.create(credUser, e.root, "busy", 0o644)
	m.AddShare(lock.KeyOf(busy), smbOpen, lock.AccessRead, 0)
	e.writeFile(credUser, f, 0, make([]byte, 64<<10))
	b.SetBytes(64 << 10)
	benchCall(b, e, ProcRead, readArgs(f, 0, 64<<10))
}

// TestRemoveBreaksHandleCaching: before it judges share modes, REMOVE
// breaks the handle caching of SMB clients, which keep opens their
// applications closed while they cache handles. A client that then closes
// its open lets the REMOVE through; one whose open stays, without
// FILE_SHARE_DELETE, gets NFS3ERR_ACCES; one that does not answer within
// the inline bound NFS3ERR_JUKEBOX.
func TestRemoveBreaksHandleCaching(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client func(m *lock.Manager, open lock.Owner, b lock.Break)
		want   Status
	}{
		{"closes its cached handle", func(m *lock.Manager, open lock.Owner, b lock.Break) {
			m.ReleaseOwner(open)
		}, StatusOK},
		{"keeps the file open", func(m *lock.Manager, open lock.Owner, b lock.Break) {
			m.AckBreak(b.Holder, b.To)
		}, StatusAccess},
		{"does not answer", nil, StatusJukebox},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := lock.New(lock.Config{})
			open := lock.SMBOwner("client", 1)
			lease := lock.LeaseOwner("client", [16]byte{7})
			var breaks atomic.Int32
			e := newEnv(t, Options{Locks: m, BreakWait: 200 * time.Millisecond, Notices: func(ns []lock.Notice) {
				for _, n := range ns {
					if n.Status == lock.Breaking {
						breaks.Add(1)
						if tc.client != nil {
							go tc.client(m, open, n.Break)
						}
					}
				}
			}})
			f := e.create(credUser, e.root, "f", 0o644)
			k := lock.KeyOf(f)
			if _, st := m.AddShare(k, open, lock.AccessRead|lock.AccessWrite, lock.ShareRead|lock.ShareWrite); st != lock.Granted {
				t.Fatal(st)
			}
			if g, st := m.GrantCaching(lock.CacheRequest{File: k, Open: open, Holder: lease, Lease: true, Want: 7}); st != lock.Granted || g.State != 7 {
				t.Fatalf("lease %v %v", g, st)
			}
			if _, st := e.call(ProcRemove, credUser, diropArg(e.root, "f")); st != tc.want {
				t.Errorf("REMOVE: %v, want %v", st, tc.want)
			}
			if breaks.Load() != 1 {
				t.Errorf("%d breaks sent, want 1", breaks.Load())
			}
		})
	}
}

// TestCrossProtocolGuardPrior: after a restart, SMB state not yet
// reclaimed makes the NFS requests it would refuse retry
// (NFS3ERR_JUKEBOX): it may be released when the grace period ends, or
// reclaimed; once reclaimed they are refused as before.
func TestCrossProtocolGuardPrior(t *testing.T) {
	m := lock.New(lock.Config{})
	e := newEnv(t, Options{Locks: m})
	f := e.create(credUser, e.root, "f", 0o644)
	k := lock.KeyOf(f)
	recs := []lock.Record{
		{Kind: lock.KindShare, File: k, Owner: smbOpen, Access: lock.AccessRead, ShareAccess: lock.ShareRead},
		{Kind: lock.KindRange, File: k, Owner: smbOpen, Range: lock.Range{Length: 10}, Mode: lock.Exclusive},
	}
	if err := m.Recover(recs, nil, time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	for _, op := range []nfsOp{opRead, opWrite, opRemove} {
		if _, st := e.call(op.proc, credUser, op.args(e, f)); st != StatusJukebox {
			t.Errorf("%s beside unreclaimed SMB state: %v, want NFS3ERR_JUKEBOX", op.name, st)
		}
	}
	if _, st := e.call(opReadFar.proc, credUser, opReadFar.args(e, f)); st != StatusOK {
		t.Errorf("%s outside the lock: %v", opReadFar.name, st)
	}
	if _, ok := m.ReclaimOwner(smbOpen); !ok {
		t.Fatal("reclaim refused")
	}
	for _, op := range []nfsOp{opRead, opWrite, opRemove} {
		if _, st := e.call(op.proc, credUser, op.args(e, f)); st != StatusAccess {
			t.Errorf("%s once reclaimed: %v, want NFS3ERR_ACCES", op.name, st)
		}
	}
}
