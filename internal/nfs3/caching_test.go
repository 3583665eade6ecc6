package nfs3

import (
	"sync"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
)

// smbLease gives an SMB open of f an RWH lease in m, as an SMB CREATE does.
func smbLease(t *testing.T, m *lock.Manager, f fs.Handle, open, lease lock.Owner) {
	t.Helper()
	k := lock.KeyOf(f)
	if _, st := m.AddShare(k, open, lock.AccessRead|lock.AccessWrite, 7); st != lock.Granted {
		t.Fatal(st)
	}
	g, st := m.GrantCaching(lock.CacheRequest{File: k, Open: open, Holder: lease, Lease: true, Want: 7})
	if st != lock.Granted || g.State != 7 {
		t.Fatalf("lease %v %v", g, st)
	}
}

// TestWriteBreaksLease: an NFS WRITE breaks an SMB client's RWH lease to
// none and waits for its acknowledgment; an NFS READ breaks only W.
func TestWriteBreaksLease(t *testing.T) {
	m := lock.New(lock.Config{})
	open := lock.SMBOwner("client", 1)
	lease := lock.LeaseOwner("client", [16]byte{9})
	var mu sync.Mutex
	var breaks []lock.Break
	e := newEnv(t, Options{Locks: m, BreakWait: 2 * time.Second, Notices: func(ns []lock.Notice) {
		for _, n := range ns {
			if n.Status != lock.Breaking {
				continue
			}
			mu.Lock()
			breaks = append(breaks, n.Break)
			mu.Unlock()
			// The SMB client flushes and acknowledges a moment later.
			go func(b lock.Break) {
				time.Sleep(20 * time.Millisecond)
				m.AckBreak(b.Holder, b.To)
			}(n.Break)
		}
	}})
	f := e.create(credUser, e.root, "f", 0644)
	smbLease(t, m, f, open, lease)

	if _, st := e.call(ProcRead, credUser, readArgs(f, 0, 10)); st != StatusOK {
		t.Fatalf("READ: %v", st)
	}
	if g, _ := m.Caching(lock.KeyOf(f), lease); g.State != lock.CacheRead|lock.CacheHandle {
		t.Fatalf("after READ the lease is %v, want RH", g.State)
	}
	if _, st := e.call(ProcWrite, credUser, writeArgsOf(f, 0, 3, fs.FileSync, []byte("abc"))); st != StatusOK {
		t.Fatalf("WRITE: %v", st)
	}
	if g, _ := m.Caching(lock.KeyOf(f), lease); g.State != 0 {
		t.Fatalf("after WRITE the lease is %v, want none", g.State)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(breaks) != 2 || breaks[0].To != lock.CacheRead|lock.CacheHandle || breaks[1].To != 0 || !breaks[1].AckRequired {
		t.Fatalf("breaks %+v", breaks)
	}
}

// TestWriteJukeboxWhileBreaking: a WRITE whose break is not acknowledged
// within the inline bound is NFS3ERR_JUKEBOX; once the break times out it
// goes through.
func TestWriteJukeboxWhileBreaking(t *testing.T) {
	m := lock.New(lock.Config{})
	open := lock.SMBOwner("client", 1)
	lease := lock.LeaseOwner("client", [16]byte{9})
	e := newEnv(t, Options{Locks: m, BreakWait: 50 * time.Millisecond, BreakTimeout: 300 * time.Millisecond})
	f := e.create(credUser, e.root, "f", 0644)
	smbLease(t, m, f, open, lease)

	if _, st := e.call(ProcWrite, credUser, writeArgsOf(f, 0, 3, fs.FileSync, []byte("abc"))); st != StatusJukebox {
		t.Fatalf("WRITE during the break: %v, want NFS3ERR_JUKEBOX", st)
	}
	time.Sleep(300 * time.Millisecond)
	if _, st := e.call(ProcWrite, credUser, writeArgsOf(f, 0, 3, fs.FileSync, []byte("abc"))); st != StatusOK {
		t.Fatalf("WRITE after the break timed out: %v", st)
	}
	if g, _ := m.Caching(lock.KeyOf(f), lease); g.State != 0 || g.Breaking {
		t.Fatalf("lease after revoke %+v", g)
	}
}
