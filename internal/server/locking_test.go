package server

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/admin"
	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/nfs3"
)

// TestShareLocking: a share configured with locking = "unix" makes locks
// and share modes advisory across protocols, another keeps the unified
// rules, and `tandem locks` (the admin methods) says which applies to
// each share and to each entry.
func TestShareLocking(t *testing.T) {
	s := startServer(t, Config{SMBPort: freePort(t), Shares: []ShareConfig{
		{Name: "export"}, {Name: "posix", Locking: "unix"},
	}})
	for _, tc := range []struct {
		share string
		want  nfs3.Status
	}{{"export", nfs3.StatusAccess}, {"posix", nfs3.StatusOK}} {
		t.Run(tc.share, func(t *testing.T) {
			sh := smbShare(t, s, tc.share)
			if err := sh.WriteFile("f", []byte("0123456789"), 0o644); err != nil {
				t.Fatal(err)
			}
			// go-smb2 opens share read and write, not delete.
			f, err := sh.OpenFile("f", os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fh := lookup(t, s, tc.share, "f")
			root := lookup(t, s, tc.share)
			nfs := dialNFS(t, s)
			if st := nfs.call(nfs3.ProcRename, renameArgs(root, "f", root, "g")); st != tc.want {
				t.Errorf("NFS RENAME of a file SMB has open without FILE_SHARE_DELETE: %v, want %v", st, tc.want)
			}
			if tc.want == nfs3.StatusOK {
				nfs.call(nfs3.ProcRename, renameArgs(root, "g", root, "f"))
			}
			// An NLM lock: advisory to SMB I/O on a unix share only.
			nlmOwner := lock.NLMOwner("nfs-client", 1, []byte("oh"))
			if d := s.locks.mgr.Lock(lock.Request{File: lock.KeyOf(fh), Owner: nlmOwner, Range: lock.Range{Offset: 0, Length: 4}, Mode: lock.Exclusive}); d.Status != lock.Granted {
				t.Fatal(d.Status)
			}
			_, err = f.WriteAt([]byte("xx"), 0)
			if (err == nil) != (tc.want == nfs3.StatusOK) {
				t.Errorf("SMB write under an NLM lock: %v", err)
			}
			s.locks.mgr.ReleaseOwner(nlmOwner)

			actx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var es []LockEntry
			if err := admin.Call(actx, s.cfg.Data, "locks", nil, &es); err != nil {
				t.Fatal(err)
			}
			wantLocking := map[string]string{"export": "unified", "posix": "unix"}[tc.share]
			if len(es) == 0 || es[0].Share != tc.share || es[0].Locking != wantLocking {
				t.Errorf("lock entries: %+v", es)
			}
		})
	}
	var ls []ShareLocking
	if err := admin.Call(context.Background(), s.cfg.Data, "locking", nil, &ls); err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 || ls[0] != (ShareLocking{"export", "unified"}) || ls[1] != (ShareLocking{"posix", "unix"}) {
		t.Errorf("share lockings: %+v", ls)
	}
}
