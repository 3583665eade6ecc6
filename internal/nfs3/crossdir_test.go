package nfs3

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
)

// dirTree is d/sub/f and d/g beside other/h, made over NFS.
type dirTree struct {
	d, sub, f, g, other, h fs.Handle
}

func (e *env) dirTree() dirTree {
	e.t.Helper()
	var t dirTree
	t.d = e.mkdir(credUser, e.root, "d", 0o755)
	t.sub = e.mkdir(credUser, t.d, "sub", 0o755)
	t.f = e.create(credUser, t.sub, "f", 0o644)
	t.g = e.create(credUser, t.d, "g", 0o644)
	t.other = e.mkdir(credUser, e.root, "other", 0o755)
	t.h = e.create(credUser, t.other, "h", 0o644)
	return t
}

// TestRenameDirWithOpensBelow: a directory with an SMB open anywhere
// below it is not renamed over NFS (MS-FSA 2.1.4.2, 2.1.5.14.11: Windows
// refuses renaming a directory that has open files below it, whatever
// their share modes, once the handles cached for oplocks and leases are
// given up). The directory's own opens are judged by their share modes,
// as for a file; opens elsewhere do not matter.
func TestRenameDirWithOpensBelow(t *testing.T) {
	const R, W, D = lock.AccessRead, lock.AccessWrite, lock.AccessDelete
	const SR, SW, SD = lock.ShareRead, lock.ShareWrite, lock.ShareDelete
	for _, tc := range []struct {
		name  string
		open  func(dirTree) fs.Handle
		a     lock.Access
		s     lock.ShareAccess
		want  Status
		wantE Status // RENAME of other to d2: unaffected by opens below d
	}{
		{"file two levels below, sharing everything", func(t dirTree) fs.Handle { return t.f }, R | W, SR | SW | SD, StatusAccess, StatusOK},
		{"file in it, not sharing delete", func(t dirTree) fs.Handle { return t.g }, R, SR, StatusAccess, StatusOK},
		{"attribute-only open below", func(t dirTree) fs.Handle { return t.f }, 0, 0, StatusAccess, StatusOK},
		{"directory below", func(t dirTree) fs.Handle { return t.sub }, R, SR | SW | SD, StatusAccess, StatusOK},
		{"the directory itself, sharing delete", func(t dirTree) fs.Handle { return t.d }, R, SR | SW | SD, StatusOK, StatusOK},
		{"the directory itself, not sharing delete", func(t dirTree) fs.Handle { return t.d }, R, SR | SW, StatusAccess, StatusOK},
		{"a file elsewhere", func(t dirTree) fs.Handle { return t.h }, R | W, 0, StatusOK, StatusAccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := lock.New(lock.Config{})
			e := newEnv(t, Options{Locks: m})
			tree := e.dirTree()
			if _, st := m.AddShare(lock.KeyOf(tc.open(tree)), smbOpen, tc.a, tc.s); st != lock.Granted {
				t.Fatal(st)
			}
			r, st := e.call(ProcRename, credUser, renameCall(e.root, "d", e.root, "d2"))
			if st != tc.want {
				t.Fatalf("RENAME d: %v, want %v", st, tc.want)
			}
			decWcc(r)
			decWcc(r)
			done(t, r)
			if _, st := e.call(ProcRename, credUser, renameCall(e.root, "other", e.root, "other2")); st != tc.wantE {
				t.Errorf("RENAME other: %v, want %v", st, tc.wantE)
			}
			m.ReleaseOwner(smbOpen)
			if st == StatusOK {
				return
			}
			// Once the open is gone the rename goes through.
			if _, st := e.call(ProcRename, credUser, renameCall(e.root, "d", e.root, "d2")); st != StatusOK {
				t.Errorf("RENAME d after the close: %v", st)
			}
		})
	}
}

// TestRmdirOpenDir: RMDIR of a directory an SMB open holds without
// sharing delete is refused, as REMOVE of such a file is.
func TestRmdirOpenDir(t *testing.T) {
	m := lock.New(lock.Config{})
	e := newEnv(t, Options{Locks: m})
	d := e.mkdir(credUser, e.root, "d", 0o755)
	m.AddShare(lock.KeyOf(d), smbOpen, lock.AccessRead, lock.ShareRead|lock.ShareWrite)
	if _, st := e.call(ProcRmdir, credUser, diropArg(e.root, "d")); st != StatusAccess {
		t.Fatalf("RMDIR of a directory open without FILE_SHARE_DELETE: %v", st)
	}
	m.ReleaseOwner(smbOpen)
	if _, st := e.call(ProcRmdir, credUser, diropArg(e.root, "d")); st != StatusOK {
		t.Fatalf("RMDIR after the close: %v", st)
	}
}

// TestRenameDirBreaksHandleCachingBelow: before it judges the opens below
// a directory, RENAME breaks the handle caching of those opens' clients,
// which keep opens their applications closed. A client that then closes
// lets the rename through; one that keeps its open gets NFS3ERR_ACCES;
// one that does not answer in time NFS3ERR_JUKEBOX. Unreclaimed opens
// after a restart make it retry too.
func TestRenameDirBreaksHandleCachingBelow(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client func(m *lock.Manager, open lock.Owner, b lock.Break)
		want   Status
	}{
		{"closes its cached handle", func(m *lock.Manager, open lock.Owner, b lock.Break) { m.ReleaseOwner(open) }, StatusOK},
		{"keeps the file open", func(m *lock.Manager, open lock.Owner, b lock.Break) { m.AckBreak(b.Holder, b.To) }, StatusAccess},
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
			tree := e.dirTree()
			k := lock.KeyOf(tree.f)
			if _, st := m.AddShare(k, open, lock.AccessRead, lock.ShareRead|lock.ShareWrite|lock.ShareDelete); st != lock.Granted {
				t.Fatal(st)
			}
			if g, st := m.GrantCaching(lock.CacheRequest{File: k, Open: open, Holder: lease, Lease: true, Want: lock.CacheRead | lock.CacheHandle}); st != lock.Granted || g.State != lock.CacheRead|lock.CacheHandle {
				t.Fatalf("lease %v %v", g, st)
			}
			if _, st := e.call(ProcRename, credUser, renameCall(e.root, "d", e.root, "d2")); st != tc.want {
				t.Errorf("RENAME d: %v, want %v", st, tc.want)
			}
			if breaks.Load() != 1 {
				t.Errorf("%d breaks sent, want 1", breaks.Load())
			}
		})
	}
	t.Run("unreclaimed open", func(t *testing.T) {
		m := lock.New(lock.Config{})
		e := newEnv(t, Options{Locks: m})
		tree := e.dirTree()
		rec := lock.Record{Kind: lock.KindShare, File: lock.KeyOf(tree.f), Owner: smbOpen, Access: lock.AccessRead, ShareAccess: 7}
		if err := m.Recover([]lock.Record{rec}, nil, time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if _, st := e.call(ProcRename, credUser, renameCall(e.root, "d", e.root, "d2")); st != StatusJukebox {
			t.Errorf("RENAME d above an unreclaimed open: %v, want NFS3ERR_JUKEBOX", st)
		}
	})
}
