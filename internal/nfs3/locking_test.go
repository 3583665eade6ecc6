package nfs3

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/lock"
)

// TestUnixLockingShare: on a share whose locking is "unix", no SMB share
// mode or lock refuses an NFS request, nor SMB opens below a directory its
// rename, but SMB caching is still broken before NFS acts on the file.
func TestUnixLockingShare(t *testing.T) {
	const R, W = lock.AccessRead, lock.AccessWrite
	for _, op := range allOps {
		m := lock.New(lock.Config{})
		e := newEnv(t, Options{Locks: m})
		m.SetLocking(e.root.Share, lock.Unix)
		f := e.create(credUser, e.root, "f", 0o644)
		e.writeFile(credUser, f, 0, []byte("0123456789abcdefghijklmnopqrstuvwxyz"))
		e.create(credUser, e.root, "o", 0o644)
		k := lock.KeyOf(f)
		m.AddShare(k, smbOpen, R|W, 0)
		if d := m.Lock(lock.Request{File: k, Owner: smbOpen, Range: lock.Range{Length: 30}, Mode: lock.Exclusive}); d.Status != lock.Granted {
			t.Fatal(d.Status)
		}
		if _, st := e.call(op.proc, credUser, op.args(e, f)); st != StatusOK {
			t.Errorf("%s beside an SMB open denying all and an exclusive lock: %v", op.name, st)
		}
	}

	m := lock.New(lock.Config{})
	var breaks atomic.Int32
	e := newEnv(t, Options{Locks: m, BreakWait: 200 * time.Millisecond, Notices: func(ns []lock.Notice) {
		for _, n := range ns {
			if n.Status == lock.Breaking {
				breaks.Add(1)
				go m.AckBreak(n.Break.Holder, n.Break.To) // keeps its open
			}
		}
	}})
	m.SetLocking(e.root.Share, lock.Unix)
	tree := e.dirTree()
	k := lock.KeyOf(tree.f)
	open := lock.SMBOwner("client", 1)
	lease := lock.LeaseOwner("client", [16]byte{7})
	m.AddShare(k, open, R, lock.ShareRead)
	if g, st := m.GrantCaching(lock.CacheRequest{File: k, Open: open, Holder: lease, Lease: true, Want: lock.CacheRead | lock.CacheHandle}); st != lock.Granted || g.State == 0 {
		t.Fatalf("lease %v %v", g, st)
	}
	if _, st := e.call(ProcRename, credUser, renameCall(e.root, "d", e.root, "d2")); st != StatusOK {
		t.Errorf("RENAME of a directory with an SMB open below: %v", st)
	}
	// The client's cached handle knows the file by its old path.
	if breaks.Load() != 1 {
		t.Errorf("%d breaks of the handle caching below the directory renamed, want 1", breaks.Load())
	}
	m.GrantCaching(lock.CacheRequest{File: k, Open: open, Holder: lease, Lease: true, Want: lock.CacheRead | lock.CacheHandle})
	if _, st := e.call(ProcRemove, credUser, diropArg(tree.sub, "f")); st != StatusOK {
		t.Errorf("REMOVE of a file open without FILE_SHARE_DELETE: %v", st)
	}
	if breaks.Load() != 2 {
		t.Errorf("%d breaks once the file is removed, want 2", breaks.Load())
	}
}
