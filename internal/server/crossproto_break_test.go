package server

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/nfs3"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
	"github.com/tandemfs/tandem/test/smbclient"
)

// cachingClient is an SMB client that caches writes under its leases as
// the Linux client does: the bytes of pending reach the server only when
// a break takes its write caching, before it acknowledges.
type cachingClient struct {
	tree *smbclient.Tree

	mu      sync.Mutex
	pending map[smbclient.FileID][]byte
	breaks  []smbclient.Break
}

func newCachingClient(t *testing.T, s *Server) *cachingClient {
	t.Helper()
	c, tree, err := smbclient.Connect(s.SMBAddr.String(), smbclient.Options{}, "alice", "pw-Alice1", "export")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cc := &cachingClient{tree: tree, pending: map[smbclient.FileID][]byte{}}
	go func() {
		for b := range c.Breaks() {
			cc.mu.Lock()
			cc.breaks = append(cc.breaks, b)
			if b.NewState&smbclient.LeaseWrite == 0 {
				for fid, data := range cc.pending {
					tree.Write(fid, 0, data)
					delete(cc.pending, fid)
				}
			}
			cc.mu.Unlock()
			if b.Lease && b.AckRequired {
				tree.AckLeaseBreak(b.LeaseKey, b.NewState)
			}
		}
	}()
	return cc
}

// open creates name with an RWH lease of key k.
func (cc *cachingClient) open(t *testing.T, name string, k byte) smbclient.FileID {
	t.Helper()
	r, err := cc.tree.Create(name, smbclient.CreateRequest{DesiredAccess: smbclient.AccessReadWrite | smbclient.AccessDelete,
		ShareAccess: smbclient.ShareAll, Disposition: smbclient.DispositionOpenIf, OplockLevel: smbclient.OplockLease,
		Lease: &smbclient.LeaseRequest{Key: [16]byte{k}, State: smbclient.LeaseRWH}})
	if err != nil || r.Status != smbclient.StatusSuccess || r.Lease == nil || r.Lease.State != smbclient.LeaseRWH {
		t.Fatalf("create %s with an RWH lease: %v %v", name, r, err)
	}
	return r.FileID
}

// cache keeps data as written to fid and not yet sent.
func (cc *cachingClient) cache(fid smbclient.FileID, data []byte) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.pending[fid] = data
}

// lastBreak returns the last break received, as "current->new".
func (cc *cachingClient) lastBreak() string {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if len(cc.breaks) == 0 {
		return "none"
	}
	b := cc.breaks[len(cc.breaks)-1]
	return b.CurrentState.String() + "->" + b.NewState.String()
}

// sizeIn reads the size of the fattr3 r is at.
func sizeIn(r *xdr.Reader) uint64 {
	return binary.BigEndian.Uint64(r.FixedOpaque(84)[20:])
}

// TestNFSAttributesFlushWriteCaching: the size an NFS client reads up to
// is the one in the attributes of LOOKUP and GETATTR. While another
// client caches writes of the file under a lease, those attributes would
// miss its bytes, and the NFS client would read nothing of them; so both
// break the write caching first (to RH), and answer once the client
// flushed.
func TestNFSAttributesFlushWriteCaching(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, Config{SMBPort: freePort(t)})
	if err := s.ids.AddUser(ctx, "alice", "pw-Alice1", 1000, 1000); err != nil {
		t.Fatal(err)
	}
	cc := newCachingClient(t, s)
	n := dialNFS(t, s)
	data := []byte("cached by the SMB client")

	f := cc.open(t, "f", 1)
	cc.cache(f, data)
	var size uint64
	if st := n.callRetry(nfs3.ProcLookup, n.dirop("f"), func(r *xdr.Reader) {
		r.Opaque(fs.HandleSize)
		if r.Bool() {
			size = sizeIn(r)
		}
	}); st != nfs3.StatusOK {
		t.Fatalf("LOOKUP: %v", st)
	}
	if size != uint64(len(data)) || cc.lastBreak() != "RWH->RH" {
		t.Fatalf("LOOKUP of a file with cached writes: size %d (want %d), break %s (want RWH->RH)", size, len(data), cc.lastBreak())
	}

	g := cc.open(t, "g", 2)
	cc.cache(g, data)
	root, _, _ := s.FS.Share("export")
	h, _, _, err := s.FS.Lookup(ctx, &fs.Caller{}, root, "g")
	if err != nil {
		t.Fatal(err)
	}
	size = 0
	if st := n.callRetry(nfs3.ProcGetAttr, func(w *xdr.Writer) { w.Opaque(h.Bytes()) }, func(r *xdr.Reader) {
		size = sizeIn(r)
	}); st != nfs3.StatusOK {
		t.Fatalf("GETATTR: %v", st)
	}
	if size != uint64(len(data)) || cc.lastBreak() != "RWH->RH" {
		t.Fatalf("GETATTR of a file with cached writes: size %d (want %d), break %s (want RWH->RH)", size, len(data), cc.lastBreak())
	}
}
