package server

import (
	"context"
	"errors"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/nfs3"
	"github.com/tandemfs/tandem/test/smbclient"
)

// TestNFSRemoveUnderSMBOpen: NFS REMOVE of a file an SMB client has open
// with FILE_SHARE_DELETE takes the name at once, as POSIX does; the SMB
// handle still writes, reads and flushes the file until it closes, and
// the name may be made again meanwhile, through either protocol (the SMB
// client asking with the lease key it had for the name, as the Linux
// client does).
func TestNFSRemoveUnderSMBOpen(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, Config{SMBPort: freePort(t)})
	c, tree := connectAlice(t, s)
	ackBreaks(tree, c)
	key := [16]byte{1}
	q := smbclient.CreateRequest{DesiredAccess: smbclient.AccessReadWrite, ShareAccess: smbclient.ShareAll,
		Disposition: smbclient.DispositionOpenIf, OplockLevel: smbclient.OplockLease,
		Lease: &smbclient.LeaseRequest{Key: key, State: smbclient.LeaseRead | smbclient.LeaseHandle | smbclient.LeaseWrite}}
	r, err := tree.Create("f", q)
	if err != nil || r.Status != smbclient.StatusSuccess {
		t.Fatalf("create: %v %v", r, err)
	}
	old := r.FileID
	if _, st, err := tree.Write(old, 0, []byte("hello")); err != nil || st != smbclient.StatusSuccess {
		t.Fatalf("write: %v %v", st, err)
	}
	root, _, _ := s.FS.Share("export")
	h, _, _, err := s.FS.Lookup(ctx, &fs.Caller{}, root, "f")
	if err != nil {
		t.Fatal(err)
	}

	n := dialNFS(t, s)
	if st := n.remove("f"); st != nfs3.StatusOK {
		t.Fatalf("NFS REMOVE under an SMB open sharing delete: %v", st)
	}
	if st := n.lookup("f"); st != nfs3.StatusNoEnt {
		t.Fatalf("NFS LOOKUP of the removed name: %v", st)
	}
	if _, st, err := tree.Write(old, 5, []byte(" world")); err != nil || st != smbclient.StatusSuccess {
		t.Fatalf("SMB WRITE after the NFS REMOVE: %v %v", st, err)
	}
	if b, st, err := tree.Read(old, 0, 100); err != nil || st != smbclient.StatusSuccess || string(b) != "hello world" {
		t.Fatalf("SMB READ after the NFS REMOVE: %v %q %v", st, b, err)
	}
	if st, err := tree.Flush(old); err != nil || st != smbclient.StatusSuccess {
		t.Fatalf("SMB FLUSH after the NFS REMOVE: %v %v", st, err)
	}

	// The name again, by SMB with the old lease key, then by NFS.
	r, err = tree.Create("f", q)
	if err != nil || r.Status != smbclient.StatusSuccess || r.FileID == old {
		t.Fatalf("SMB create of the removed name with the open's lease key: %v %v", r, err)
	}
	if b, st, _ := tree.Read(r.FileID, 0, 100); st != smbclient.StatusEndOfFile {
		t.Fatalf("the new file reads %v %q, want it empty", st, b)
	}
	tree.Close(r.FileID)
	if st := n.remove("f"); st != nfs3.StatusOK {
		t.Fatalf("NFS REMOVE of the new file: %v", st)
	}
	if st := n.create("f"); st != nfs3.StatusOK {
		t.Fatalf("NFS CREATE of the name: %v", st)
	}

	if st, err := tree.Close(old); err != nil || st != smbclient.StatusSuccess {
		t.Fatalf("close: %v %v", st, err)
	}
	if _, err := s.FS.GetAttr(ctx, h); !errors.Is(err, fs.ErrStale) {
		t.Fatalf("the removed file after its last SMB close: %v, want it gone", err)
	}
}
