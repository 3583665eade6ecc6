package nfs3

import (
	"testing"

	contentmem "github.com/tandemfs/tandem/internal/content/memory"
	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// during runs act once inside the next NFS request that changes a file
// or reads one, after its change committed (the file system tells
// watchers in the caller's goroutine) or while it reads the data, and
// before the request answers. What act sees of the lock manager there is
// what an SMB request arriving while the NFS request is in progress sees.
func (e *env) during(act func()) (stop func()) {
	done := false
	once := func() {
		if !done {
			done = true
			act()
		}
	}
	if r, ok := e.content.(*hookedContent); ok {
		r.onRead = once
	}
	return e.fs.Watch(func(*fs.Event) { once() })
}

// hookedContent calls onRead inside every read of file data.
type hookedContent struct {
	*contentmem.Store
	onRead func()
}

func (c *hookedContent) ReadAt(id uint64, p []byte, off int64) (int, error) {
	if c.onRead != nil {
		c.onRead()
	}
	return c.Store.ReadAt(id, p, off)
}

// TestSMBDuringNFSWrite: the guard of an NFS WRITE and the write are one
// step as SMB sees them. While the write is in progress, an SMB open that
// denies write is refused (and one that would wait for breaks waits for
// the write), a byte-range lock over the bytes written fails at once or
// waits until the write is done, a lock elsewhere is granted, and a lease
// caches nothing of data being changed.
func TestSMBDuringNFSWrite(t *testing.T) {
	var routed []lock.Notice
	m := lock.New(lock.Config{})
	e := newEnv(t, Options{Locks: m, Notices: func(ns []lock.Notice) { routed = append(routed, ns...) }})
	f := e.create(credUser, e.root, "f", 0o644)
	k := lock.KeyOf(f)
	other := lock.SMBOwner("smb-client", 0x52)
	var (
		denyWrite, shareAll  lock.Status
		prepare              lock.OpenDecision
		lockNow, lockFar     lock.Decision
		lockWait             lock.Decision
		lease                lock.CacheGrant
		waiterGrantedInWrite bool
	)
	stop := e.during(func() {
		_, denyWrite = m.AddShare(k, smbOpen, lock.AccessRead, lock.ShareRead)
		prepare = m.PrepareOpen(lock.CacheRequest{File: k, Open: smbOpen, Holder: smbOpen, Access: lock.AccessRead, Share: lock.ShareRead})
		_, shareAll = m.AddShare(k, other, lock.AccessRead|lock.AccessWrite, lock.ShareRead|lock.ShareWrite|lock.ShareDelete)
		lease, _ = m.GrantCaching(lock.CacheRequest{File: k, Open: other, Holder: other, Want: lock.CacheRead | lock.CacheWrite})
		lockNow = m.Lock(lock.Request{File: k, Owner: other, Range: lock.Range{Offset: 10, Length: 1}, Mode: lock.Shared})
		lockFar = m.Lock(lock.Request{File: k, Owner: other, Range: lock.Range{Offset: 100, Length: 10}, Mode: lock.Exclusive})
		lockWait = m.Lock(lock.Request{File: k, Owner: other, Range: lock.Range{Offset: 0, Length: 4}, Mode: lock.Exclusive, Wait: true})
		for _, n := range routed {
			waiterGrantedInWrite = waiterGrantedInWrite || n.Status == lock.Granted
		}
	})
	defer stop()
	if _, st := e.call(ProcWrite, credUser, writeArgsOf(f, 0, 16, 0, []byte("0123456789abcdef"))); st != StatusOK {
		t.Fatalf("WRITE: %v", st)
	}
	if denyWrite != lock.Denied {
		t.Errorf("SMB open denying write during the WRITE: %v, want denied", denyWrite)
	}
	if !prepare.Wait {
		t.Errorf("SMB open denying write, before its breaks, during the WRITE: %+v, want to wait", prepare)
	}
	if shareAll != lock.Granted {
		t.Errorf("SMB open sharing everything during the WRITE: %v", shareAll)
	}
	if lease.State&(lock.CacheRead|lock.CacheWrite) != 0 {
		t.Errorf("lease granted during the WRITE caches %v", lease.State)
	}
	if lockNow.Status != lock.Denied {
		t.Errorf("SMB lock failing at once over the bytes written: %v, want denied", lockNow.Status)
	}
	if lockFar.Status != lock.Granted {
		t.Errorf("SMB lock beyond the bytes written: %v", lockFar.Status)
	}
	if lockWait.Status != lock.Queued || waiterGrantedInWrite {
		t.Errorf("SMB lock that waits, over the bytes written: %v (granted during the write: %v)", lockWait.Status, waiterGrantedInWrite)
	}
	granted, doneBreak := false, false
	for _, n := range routed {
		granted = granted || n.Status == lock.Granted && n.Waiter == lockWait.Waiter
		doneBreak = doneBreak || n.Status == lock.BreakDone && n.Lock.File == k
	}
	if !granted || !doneBreak {
		t.Errorf("after the WRITE: waiter granted %v, waiting opens told %v; notices %+v", granted, doneBreak, routed)
	}
	// Once the write is done, nothing of it is left to see.
	if _, st := m.AddShare(k, lock.SMBOwner("smb-client", 0x53), lock.AccessRead, lock.ShareRead|lock.ShareWrite); st != lock.Granted {
		t.Errorf("SMB open after the WRITE: %v", st)
	}
}

// TestSMBDuringNFSRead: while an NFS READ is in progress an SMB open
// denying read is refused and an exclusive lock over the bytes read fails,
// while a shared one is granted.
func TestSMBDuringNFSRead(t *testing.T) {
	m := lock.New(lock.Config{})
	e := newEnvContent(t, &hookedContent{Store: contentmem.New()}, Options{Locks: m})
	f := e.create(credUser, e.root, "f", 0o644)
	e.writeFile(credUser, f, 0, []byte("0123456789"))
	k := lock.KeyOf(f)
	other := lock.SMBOwner("smb-client", 0x52)
	var denyRead lock.Status
	var excl, shared lock.Decision
	stop := e.during(func() {
		_, denyRead = m.AddShare(k, smbOpen, lock.AccessWrite, lock.ShareWrite)
		m.AddShare(k, other, lock.AccessRead, lock.ShareRead|lock.ShareWrite)
		excl = m.Lock(lock.Request{File: k, Owner: other, Range: lock.Range{Offset: 2, Length: 2}, Mode: lock.Exclusive})
		shared = m.Lock(lock.Request{File: k, Owner: other, Range: lock.Range{Offset: 2, Length: 2}, Mode: lock.Shared})
	})
	defer stop()
	if _, st := e.call(ProcRead, credUser, readArgs(f, 0, 10)); st != StatusOK {
		t.Fatalf("READ: %v", st)
	}
	if denyRead != lock.Denied || excl.Status != lock.Denied || shared.Status != lock.Granted {
		t.Errorf("during the READ: open denying read %v, exclusive lock %v, shared lock %v", denyRead, excl.Status, shared.Status)
	}
}

// TestSMBDuringNFSRemove: while an NFS REMOVE, RENAME or SETATTR of the
// size is in progress, an SMB open of the file that does not share what
// the request does (delete; write) is refused.
func TestSMBDuringNFSRemove(t *testing.T) {
	for _, tc := range []struct {
		name  string
		proc  uint32
		args  func(e *env, f fs.Handle) func(*xdr.Writer)
		share lock.ShareAccess
	}{
		{"REMOVE", ProcRemove, func(e *env, f fs.Handle) func(*xdr.Writer) { return diropArg(e.root, "f") }, lock.ShareRead | lock.ShareWrite},
		{"RENAME", ProcRename, func(e *env, f fs.Handle) func(*xdr.Writer) { return renameCall(e.root, "f", e.root, "g") }, lock.ShareRead | lock.ShareWrite},
		{"RENAME over", ProcRename, func(e *env, f fs.Handle) func(*xdr.Writer) { return renameCall(e.root, "o", e.root, "f") }, lock.ShareRead | lock.ShareWrite},
		{"SETATTR size", ProcSetAttr, func(e *env, f fs.Handle) func(*xdr.Writer) { return sattrArgs(f, clientSattr{size: u64(3)}, nil) }, lock.ShareRead | lock.ShareDelete},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := lock.New(lock.Config{})
			e := newEnv(t, Options{Locks: m})
			f := e.create(credUser, e.root, "f", 0o644)
			e.writeFile(credUser, f, 0, []byte("0123456789"))
			e.create(credUser, e.root, "o", 0o644)
			var st lock.Status
			stop := e.during(func() {
				_, st = m.AddShare(lock.KeyOf(f), smbOpen, lock.AccessRead, tc.share)
			})
			defer stop()
			if _, s := e.call(tc.proc, credUser, tc.args(e, f)); s != StatusOK {
				t.Fatalf("%s: %v", tc.name, s)
			}
			if st != lock.Denied {
				t.Errorf("SMB open during %s: %v, want denied", tc.name, st)
			}
		})
	}
}
