package server

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/admin"
	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/nlm"
	"github.com/tandemfs/tandem/internal/nsm"
	"github.com/tandemfs/tandem/internal/portmap"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// TestLockService: the server publishes NLM 1, 3, 4 and NSM 1 in its
// portmapper on the NFS port, over TCP and UDP, serves them there, and
// `tandem locks` (the admin method) lists what is held and waiting.
func TestLockService(t *testing.T) {
	ctx := context.Background()
	pmPort := freePort(t)
	s := startServer(t, Config{PortmapPort: pmPort})
	nfsPort := uint32(s.NFSAddr.(*net.TCPAddr).Port)
	for _, c := range []struct{ prog, vers, prot uint32 }{
		{nlm.Program, 1, portmap.ProtUDP}, {nlm.Program, 3, portmap.ProtTCP}, {nlm.Program, 4, portmap.ProtTCP},
		{nlm.Program, 4, portmap.ProtUDP}, {nsm.Program, 1, portmap.ProtUDP}, {nsm.Program, 1, portmap.ProtTCP},
	} {
		port, err := portmap.GetPort(ctx, "127.0.0.1", pmPort, c.prog, c.vers, c.prot)
		if err != nil || port != nfsPort {
			t.Fatalf("GETPORT %d/%d/%d: %d, %v; want %d", c.prog, c.vers, c.prot, port, err, nfsPort)
		}
	}

	root, _, _ := s.FS.Share("export")
	fh, _, _, err := s.FS.Create(ctx, &fs.Caller{}, root, "f", fs.CreateHow{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := rpc.Dial(ctx, "tcp", s.NFSAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lockCall := func(svid uint32, block bool, off, n uint64) uint32 {
		var st uint32
		err := c.Call(ctx, nlm.Program, 4, nlm.ProcLock, rpc.Cred{}, func(w *xdr.Writer) {
			w.Opaque([]byte("c"))
			w.Bool(block)
			w.Bool(true)
			w.String("client-" + strconv.Itoa(int(svid)))
			w.Opaque(fh.Bytes())
			w.Opaque([]byte("owner"))
			w.Uint32(svid)
			w.Uint64(off)
			w.Uint64(n)
			w.Bool(false)
			w.Int32(1)
		}, func(r *xdr.Reader) error {
			r.Opaque(1024)
			st = r.Uint32()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := lockCall(1, false, 10, 0); st != uint32(nlm.StatGranted) {
		t.Fatalf("lock: %d", st)
	}
	if st := lockCall(2, true, 0, 20); st != uint32(nlm.StatBlocked) {
		t.Fatalf("blocking lock: %d", st)
	}

	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var es []LockEntry
	if err := admin.Call(actx, s.cfg.Data, "locks", nil, &es); err != nil {
		t.Fatal(err)
	}
	file := strconv.FormatUint(uint64(fh.Share), 10) + ":" + strconv.FormatUint(fh.ID, 10)
	want := []LockEntry{
		{File: file, Share: "export", Locking: "unified", Kind: "range", Mode: "exclusive", Offset: 10, Length: 0, Proto: "nlm", Owner: "svid 1 oh owner", Client: "client-1"},
		{File: file, Share: "export", Locking: "unified", Kind: "range", Mode: "exclusive", Offset: 0, Length: 20, Proto: "nlm", Owner: "svid 2 oh owner", Client: "client-2", Waiting: true},
	}
	if len(es) != len(want) {
		t.Fatalf("locks: %+v", es)
	}
	for i := range es {
		if es[i].Age < 0 || es[i].Age > time.Minute {
			t.Errorf("entry %d: age %v", i, es[i].Age)
		}
		es[i].Age = 0
		if es[i] != want[i] {
			t.Errorf("entry %d: %+v, want %+v", i, es[i], want[i])
		}
	}
}
