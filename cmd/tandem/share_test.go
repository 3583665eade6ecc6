package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"

	smb2 "github.com/cloudsoda/go-smb2"

	"github.com/tandemfs/tandem/internal/mount"
	"github.com/tandemfs/tandem/internal/nfs3"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
	"github.com/tandemfs/tandem/internal/server"
)

// startServer runs a whole server on loopback in a fresh data directory.
func startServer(t *testing.T) *server.Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	smbPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := server.Defaults()
	cfg.Data, cfg.Listen, cfg.NFSPort, cfg.SMBPort, cfg.PortmapPort, cfg.MetricsAddr = t.TempDir(), "127.0.0.1", 0, smbPort, 0, ""
	s, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var alice = rpc.Cred{Flavor: rpc.AuthSys, UID: 1000, GID: 1000, GIDs: []uint32{1000}}

// mnt asks MOUNT for path's root handle; status 0 is MNT3_OK.
func mnt(t *testing.T, c *rpc.Client, path string) ([]byte, uint32) {
	t.Helper()
	var st uint32
	var fh []byte
	err := c.Call(context.Background(), mount.Program, 3, mount.ProcMnt, alice,
		func(w *xdr.Writer) { w.String(path) },
		func(r *xdr.Reader) error {
			if st = r.Uint32(); st == 0 {
				fh = append([]byte(nil), r.Opaque(64)...)
			}
			return r.Err()
		})
	if err != nil {
		t.Fatal(err)
	}
	return fh, st
}

// nfsCreate makes name in dir (UNCHECKED, no attributes) and returns its handle.
func nfsCreate(t *testing.T, c *rpc.Client, dir []byte, name string) ([]byte, nfs3.Status) {
	t.Helper()
	var st nfs3.Status
	var fh []byte
	err := c.Call(context.Background(), nfs3.Program, 3, nfs3.ProcCreate, alice, func(w *xdr.Writer) {
		w.Opaque(dir)
		w.String(name)
		w.Uint32(0) // UNCHECKED
		for range 6 {
			w.Uint32(0) // sattr3: set nothing
		}
	}, func(r *xdr.Reader) error {
		if st = nfs3.Status(r.Uint32()); st == nfs3.StatusOK && r.Bool() {
			fh = append([]byte(nil), r.Opaque(64)...)
		}
		return r.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return fh, st
}

func nfsWrite(t *testing.T, c *rpc.Client, fh []byte, data string) nfs3.Status {
	t.Helper()
	var st nfs3.Status
	err := c.Call(context.Background(), nfs3.Program, 3, nfs3.ProcWrite, alice, func(w *xdr.Writer) {
		w.Opaque(fh)
		w.Uint64(0)
		w.Uint32(uint32(len(data)))
		w.Uint32(2) // FILE_SYNC
		w.Opaque([]byte(data))
	}, func(r *xdr.Reader) error { st = nfs3.Status(r.Uint32()); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestShareOnline adds a share with `tandem share add` while the server
// runs, uses it over NFS (MOUNT, CREATE, WRITE) and SMB (tree connect,
// write), makes it read-only with `tandem share set` and sees writes
// refused over both, then removes it with `tandem share del` and sees it
// gone for both.
func TestShareOnline(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	data := s.Status().Data
	if _, err := server.UserOp(ctx, s.Identities(), "user.add", server.UserRequest{Name: "alice", Password: "pw-Alice1", UID: 1000, GID: 1000}); err != nil {
		t.Fatal(err)
	}
	if err := share([]string{"add", "team", "--data", data, "--comment", "the team"}); err != nil {
		t.Fatal(err)
	}
	if err := share([]string{"add", "team", "--data", data}); err == nil {
		t.Fatal("adding an existing share succeeded")
	}

	c, err := rpc.Dial(ctx, "tcp", s.NFSAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	root, st := mnt(t, c, "/team")
	if st != 0 {
		t.Fatalf("MNT /team = %d, want MNT3_OK", st)
	}
	fh, nst := nfsCreate(t, c, root, "from-nfs")
	if nst != nfs3.StatusOK || fh == nil {
		t.Fatalf("CREATE over NFS = %v", nst)
	}
	if nst := nfsWrite(t, c, fh, "nfs"); nst != nfs3.StatusOK {
		t.Fatalf("WRITE over NFS = %v", nst)
	}

	d := &smb2.Dialer{Initiator: &smb2.NTLMInitiator{User: "alice", Password: "pw-Alice1"}}
	ss, err := d.Dial(ctx, s.SMBAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Logoff()
	sh, err := ss.Mount("team")
	if err != nil {
		t.Fatalf("SMB tree connect to the new share: %v", err)
	}
	if err := sh.WriteFile("from-smb", []byte("smb"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := sh.ReadFile("from-nfs"); err != nil || string(b) != "nfs" {
		t.Fatalf("SMB reads the NFS file: %q, %v", b, err)
	}

	if err := share([]string{"set", "team", "--read-only", "--data", data}); err != nil {
		t.Fatal(err)
	}
	if nst := nfsWrite(t, c, fh, "again"); nst != nfs3.StatusROFS {
		t.Fatalf("NFS WRITE to a read-only share = %v, want NFS3ERR_ROFS", nst)
	}
	if _, nst := nfsCreate(t, c, root, "new"); nst != nfs3.StatusROFS {
		t.Fatalf("NFS CREATE in a read-only share = %v, want NFS3ERR_ROFS", nst)
	}
	sh2, err := ss.Mount("team")
	if err != nil {
		t.Fatal(err)
	}
	defer sh2.Umount()
	if err := sh2.WriteFile("from-smb", []byte("changed"), 0o644); err == nil {
		t.Fatal("SMB write to a read-only share (new tree connect) succeeded")
	}
	if err := sh.WriteFile("from-smb", []byte("changed"), 0o644); err == nil {
		t.Fatal("SMB write to a read-only share (tree connected before) succeeded")
	}
	if b, err := sh2.ReadFile("from-smb"); err != nil || string(b) != "smb" {
		t.Fatalf("SMB read of a read-only share: %q, %v", b, err)
	}
	sh.Umount()

	if err := share([]string{"del", "team", "--data", data}); err != nil {
		t.Fatal(err)
	}
	if _, st := mnt(t, c, "/team"); st != 2 {
		t.Fatalf("MNT of a removed share = %d, want MNT3ERR_NOENT", st)
	}
	if nst := nfsWrite(t, c, fh, "gone"); nst != nfs3.StatusStale {
		t.Fatalf("NFS WRITE into a removed share = %v, want NFS3ERR_STALE", nst)
	}
	if _, err := ss.Mount("team"); err == nil {
		t.Fatal("SMB tree connect to a removed share succeeded")
	}
	if _, err := ss.Mount("export"); err != nil {
		t.Fatalf("the other share after a removal: %v", err)
	}
}
