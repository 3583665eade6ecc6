package server

import (
	"context"
	"errors"
	"testing"

	smb2 "github.com/cloudsoda/go-smb2"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/identity"
	"github.com/tandemfs/tandem/internal/nfs3"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// nfsClient calls NFSv3 procedures of a whole server as alice (uid 1000);
// root is the share "export"'s root. call reads only the status of each
// reply; callRetry (nfsclient_test.go) reads the rest too and retries
// NFS3ERR_JUKEBOX.
type nfsClient struct {
	t    *testing.T
	c    *rpc.Client
	root fs.Handle
}

func dialNFS(t *testing.T, s *Server) *nfsClient {
	t.Helper()
	c, err := rpc.Dial(context.Background(), "tcp", s.NFSAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	root, _, _ := s.FS.Share("export")
	return &nfsClient{t: t, c: c, root: root}
}

func (n *nfsClient) call(proc uint32, args func(*xdr.Writer)) nfs3.Status {
	n.t.Helper()
	var st nfs3.Status
	cred := rpc.Cred{Flavor: rpc.AuthSys, UID: 1000, GID: 1000, GIDs: []uint32{1000}}
	err := n.c.Call(context.Background(), nfs3.Program, 3, proc, cred, args, func(r *xdr.Reader) error {
		st = nfs3.Status(r.Uint32())
		return nil
	})
	if err != nil {
		n.t.Fatalf("NFS %d: %v", proc, err)
	}
	return st
}

func dirop(dir fs.Handle, name string) func(*xdr.Writer) {
	return func(w *xdr.Writer) { w.Opaque(dir.Bytes()); w.String(name) }
}

func renameArgs(from fs.Handle, fromName string, to fs.Handle, toName string) func(*xdr.Writer) {
	return func(w *xdr.Writer) { dirop(from, fromName)(w); dirop(to, toName)(w) }
}

// smbShare logs alice (made here if need be) on to a whole server's SMB port and
// mounts share.
func smbShare(t *testing.T, s *Server, share string) *smb2.Share {
	t.Helper()
	ctx := context.Background()
	if err := s.ids.AddUser(ctx, "alice", "pw-Alice1", 1000, 1000); err != nil && !errors.Is(err, identity.ErrExists) {
		t.Fatal(err)
	}
	d := &smb2.Dialer{Initiator: &smb2.NTLMInitiator{User: "alice", Password: "pw-Alice1"}}
	ss, err := d.Dial(ctx, s.SMBAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Logoff() })
	sh, err := ss.Mount(share)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Umount() })
	return sh
}

// lookup finds path (slash-separated from the share's root) in the file
// system, as root.
func lookup(t *testing.T, s *Server, share string, names ...string) fs.Handle {
	t.Helper()
	h, _, ok := s.FS.Share(share)
	if !ok {
		t.Fatalf("no share %s", share)
	}
	for _, n := range names {
		var err error
		if h, _, _, err = s.FS.Lookup(context.Background(), &fs.Caller{}, h, n); err != nil {
			t.Fatalf("lookup %s: %v", n, err)
		}
	}
	return h
}

func writeArgs(fh fs.Handle, off uint64, data []byte) func(*xdr.Writer) {
	return func(w *xdr.Writer) {
		w.Opaque(fh.Bytes())
		w.Uint64(off)
		w.Uint32(uint32(len(data)))
		w.Uint32(2) // FILE_SYNC
		w.Opaque(data)
	}
}

// chmodArgs is SETATTR of the mode alone, without a guard.
func chmodArgs(fh fs.Handle, mode uint32) func(*xdr.Writer) {
	return func(w *xdr.Writer) {
		w.Opaque(fh.Bytes())
		w.Bool(true)
		w.Uint32(mode)
		w.Bool(false) // uid
		w.Bool(false) // gid
		w.Bool(false) // size
		w.Uint32(0)   // atime: don't change
		w.Uint32(0)   // mtime: don't change
		w.Bool(false) // no guard
	}
}
