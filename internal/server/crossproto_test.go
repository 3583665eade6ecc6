package server

import (
	"context"
	"os"
	"testing"

	smb2 "github.com/cloudsoda/go-smb2"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/nfs3"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// TestNFSUnderSMBOpen: the server gives NFS and SMB one lock manager, so
// an SMB client's open binds NFS clients. An open that shares read and
// write but not delete (what most Windows programs ask) lets NFS read and
// write the file but refuses REMOVE and RENAME of it, as source and as the
// target replaced, with NFS3ERR_ACCES, until it closes.
func TestNFSUnderSMBOpen(t *testing.T) {
	ctx := context.Background()
	smbPort := freePort(t)
	s := startServer(t, Config{SMBPort: smbPort})
	if err := s.ids.AddUser(ctx, "alice", "pw-Alice1", 1000, 1000); err != nil {
		t.Fatal(err)
	}

	d := &smb2.Dialer{Initiator: &smb2.NTLMInitiator{User: "alice", Password: "pw-Alice1"}}
	ss, err := d.Dial(ctx, s.SMBAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Logoff()
	sh, err := ss.Mount("export")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"f", "other"} {
		if err := sh.WriteFile(name, []byte("0123456789"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := sh.OpenFile("f", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	c, err := rpc.Dial(ctx, "tcp", s.NFSAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	root, _, _ := s.FS.Share("export")
	call := func(proc uint32, args func(*xdr.Writer)) nfs3.Status {
		t.Helper()
		var st nfs3.Status
		cred := rpc.Cred{Flavor: rpc.AuthSys, UID: 1000, GID: 1000, GIDs: []uint32{1000}}
		err := c.Call(ctx, nfs3.Program, 3, proc, cred, args, func(r *xdr.Reader) error {
			st = nfs3.Status(r.Uint32())
			return nil
		})
		if err != nil {
			t.Fatalf("NFS %d: %v", proc, err)
		}
		return st
	}
	dirop := func(name string) func(*xdr.Writer) {
		return func(w *xdr.Writer) { w.Opaque(root.Bytes()); w.String(name) }
	}
	rename := func(from, to string) func(*xdr.Writer) {
		return func(w *xdr.Writer) { dirop(from)(w); dirop(to)(w) }
	}
	fh, _, _, err := s.FS.Lookup(ctx, &fs.Caller{}, root, "f")
	if err != nil {
		t.Fatal(err)
	}
	read := func(w *xdr.Writer) { w.Opaque(fh.Bytes()); w.Uint64(0); w.Uint32(10) }
	write := func(w *xdr.Writer) {
		w.Opaque(fh.Bytes())
		w.Uint64(0)
		w.Uint32(2)
		w.Uint32(2)
		w.Opaque([]byte("ab"))
	}

	for _, tc := range []struct {
		what string
		proc uint32
		args func(*xdr.Writer)
		want nfs3.Status
	}{
		{"READ", nfs3.ProcRead, read, nfs3.StatusOK},
		{"WRITE", nfs3.ProcWrite, write, nfs3.StatusOK},
		{"REMOVE", nfs3.ProcRemove, dirop("f"), nfs3.StatusAccess},
		{"RENAME from", nfs3.ProcRename, rename("f", "g"), nfs3.StatusAccess},
		{"RENAME over", nfs3.ProcRename, rename("other", "f"), nfs3.StatusAccess},
	} {
		if st := call(tc.proc, tc.args); st != tc.want {
			t.Errorf("NFS %s while SMB has f open: %v, want %v", tc.what, st, tc.want)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if st := call(nfs3.ProcRename, rename("other", "f")); st != nfs3.StatusOK {
		t.Errorf("NFS RENAME over f after the SMB close: %v", st)
	}
	if st := call(nfs3.ProcRemove, dirop("f")); st != nfs3.StatusOK {
		t.Errorf("NFS REMOVE after the SMB close: %v", st)
	}
}
