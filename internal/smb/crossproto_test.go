package smb_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	smb2 "github.com/cloudsoda/go-smb2"

	contentmem "github.com/tandemfs/tandem/internal/content/memory"
	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/identity"
	metamem "github.com/tandemfs/tandem/internal/meta/memory"
	"github.com/tandemfs/tandem/internal/mount"
	"github.com/tandemfs/tandem/internal/nfs3"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/smb"
	"github.com/tandemfs/tandem/test/testserver"
)

// TestCrossProtocol serves one file system over NFSv3 and SMB at once
// and checks that a file written through either protocol reads through
// the other with the same bytes, size, modification time (to SMB's
// 100 ns) and file id, at once.
func TestCrossProtocol(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := metamem.New()
	f, err := fs.New(m, contentmem.New(), fs.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.AddShare(ctx, fs.ShareConfig{Name: "export"}); err != nil {
		t.Fatal(err)
	}
	ids := identity.New(m)
	if err := ids.AddUser(ctx, "alice", "pw-Alice1", 1000, 1000); err != nil {
		t.Fatal(err)
	}

	rs := rpc.NewServer(rpc.ServerOptions{Logger: log})
	rs.Register(rpc.Program{Prog: mount.Program, Low: 1, High: 3, Name: "mount", Handler: mount.New(f, mount.Options{Logger: log})})
	rs.Register(rpc.Program{Prog: nfs3.Program, Low: 3, High: 3, Name: "nfs", Handler: nfs3.New(f, nfs3.Options{Logger: log})})
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go rs.ServeTCP(nl)
	ss := smb.New(f, ids, smb.Options{Logger: log})
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go ss.Serve(sl)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ss.Shutdown(ctx)
		rs.Shutdown(ctx)
	})

	nc, err := testserver.Dial(nl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetAuthSys(1000, 1000)
	root, err := nc.Mount("/export")
	if err != nil {
		t.Fatal(err)
	}
	d := &smb2.Dialer{Initiator: &smb2.NTLMInitiator{User: "alice", Password: "pw-Alice1"}}
	s, err := d.Dial(ctx, sl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Logoff()
	sh, err := s.Mount("export")
	if err != nil {
		t.Fatal(err)
	}

	data := make([]byte, 300_001)
	rand.Read(data)

	// NFS writes, SMB reads.
	fh, err := nc.Create(root, "from-nfs", 0o640)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data); off += 32768 {
		if _, err := nc.Write(fh, uint64(off), data[off:min(off+32768, len(data))], testserver.Unstable); err != nil {
			t.Fatal(err)
		}
	}
	na, err := nc.GetAttr(fh)
	if err != nil {
		t.Fatal(err)
	}
	got, err := sh.ReadFile("from-nfs")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("SMB read of the NFS file: %d bytes, %v", len(got), err)
	}
	sf, err := sh.Open("from-nfs")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := sf.Stat()
	sf.Close()
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*smb2.FileStat)
	if fi.Size() != int64(na.Size) || st.FileId != na.FileID || !sameTime(fi.ModTime(), na.Mtime) {
		t.Errorf("SMB sees size %d, file id %d, mtime %v; NFS: %d, %d, %v",
			fi.Size(), st.FileId, fi.ModTime(), na.Size, na.FileID, nfsTime(na.Mtime))
	}
	// The mode's write bits show as READONLY: 0640 is writable by the
	// owner; the owner may not write a 0440 file.
	if fi.Mode().Perm()&0o200 == 0 {
		t.Errorf("a 0640 file looks read-only over SMB: %v", fi.Mode())
	}

	// SMB writes, NFS reads.
	if err := sh.WriteFile("from-smb", data[:12345], 0o644); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2010, 11, 12, 13, 14, 15, 123456700, time.UTC)
	if err := sh.Chtimes("from-smb", mtime, mtime); err != nil {
		t.Fatal(err)
	}
	fh, err = nc.Lookup(root, "from-smb")
	if err != nil {
		t.Fatalf("NFS lookup of the SMB file: %v", err)
	}
	back, err := nc.ReadAll(fh, 4096)
	if err != nil || !bytes.Equal(back, data[:12345]) {
		t.Fatalf("NFS read of the SMB file: %d bytes, %v", len(back), err)
	}
	na, err = nc.GetAttr(fh)
	if err != nil {
		t.Fatal(err)
	}
	sf, err = sh.Open("from-smb")
	if err != nil {
		t.Fatal(err)
	}
	fi, _ = sf.Stat()
	sf.Close()
	if na.Size != 12345 || na.FileID != fi.Sys().(*smb2.FileStat).FileId || nfsTime(na.Mtime) != mtime || na.UID != 1000 {
		t.Errorf("NFS sees size %d, file id %d, mtime %v, uid %d; SMB: %d, %v",
			na.Size, na.FileID, nfsTime(na.Mtime), na.UID, fi.Sys().(*smb2.FileStat).FileId, mtime)
	}
	// Read-only over SMB is the write bits over NFS.
	if err := sh.Chmod("from-smb", 0o444); err != nil {
		t.Fatal(err)
	}
	if na, _ = nc.GetAttr(fh); na.Mode&0o222 != 0 {
		t.Errorf("NFS mode after SMB set READONLY: %o", na.Mode)
	}
}

func nfsTime(t uint64) time.Time { return time.Unix(int64(t>>32), int64(t&0xffffffff)).UTC() }

// sameTime compares an SMB time with an NFS one to SMB's 100 ns.
func sameTime(smbTime time.Time, nfs uint64) bool {
	n := nfsTime(nfs)
	return smbTime.Equal(n.Truncate(0).Add(-time.Duration(n.Nanosecond() % 100)))
}
