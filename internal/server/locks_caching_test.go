package server

import (
	"strings"
	"testing"

	"github.com/tandemfs/tandem/internal/lock"
)

// TestLockEntriesCaching: `tandem locks` shows leases and oplocks with
// what they cache.
func TestLockEntriesCaching(t *testing.T) {
	l := &locks{mgr: lock.New(lock.Config{})}
	k := lock.FileKey{Share: 1, ID: 7}
	open := lock.SMBOwner("client", 3)
	lease := lock.LeaseOwner("client", [16]byte{0xab})
	if _, st := l.mgr.AddShare(k, open, lock.AccessRead, 7); st != lock.Granted {
		t.Fatal(st)
	}
	if _, st := l.mgr.GrantCaching(lock.CacheRequest{File: k, Open: open, Holder: lease, Lease: true, Want: 7}); st != lock.Granted {
		t.Fatal(st)
	}
	es := l.entries()
	if len(es) != 2 {
		t.Fatalf("entries %+v", es)
	}
	e := es[1]
	if e.Kind != "caching" || e.Mode != "RWH" || !strings.HasPrefix(e.Owner, "lease ab00") || e.Client != "client" || e.Proto != "smb" {
		t.Fatalf("caching entry %+v", e)
	}
}
