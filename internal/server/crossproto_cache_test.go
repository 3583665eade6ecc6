package server

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/nfs3"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// nfsAttr is what the tests below read of an NFSv3 fattr3.
type nfsAttr struct {
	size, fileid uint64
	mtime        time.Time
}

func readFattr3(r *xdr.Reader) nfsAttr {
	var a nfsAttr
	r.Uint32() // type
	r.Uint32() // mode
	r.Uint32() // nlink
	r.Uint32() // uid
	r.Uint32() // gid
	a.size = r.Uint64()
	r.Uint64() // used
	r.Uint64() // rdev
	r.Uint64() // fsid
	a.fileid = r.Uint64()
	r.Uint64() // atime
	sec, nsec := r.Uint32(), r.Uint32()
	a.mtime = time.Unix(int64(sec), int64(nsec))
	r.Uint64() // ctime
	return a
}

func (n *nfsClient) getattr(fh fs.Handle) (nfsAttr, nfs3.Status) {
	n.t.Helper()
	var a nfsAttr
	st := n.callRetry(nfs3.ProcGetAttr, func(w *xdr.Writer) { w.Opaque(fh.Bytes()) }, func(r *xdr.Reader) { a = readFattr3(r) })
	return a, st
}

func (n *nfsClient) read(fh fs.Handle, count uint32) ([]byte, nfs3.Status) {
	n.t.Helper()
	var data []byte
	st := n.callRetry(nfs3.ProcRead, func(w *xdr.Writer) { w.Opaque(fh.Bytes()); w.Uint64(0); w.Uint32(count) }, func(r *xdr.Reader) {
		if r.Bool() {
			readFattr3(r)
		}
		r.Uint32() // count
		r.Bool()   // eof
		data = bytes.Clone(r.Opaque(1 << 20))
	})
	return data, st
}

func (n *nfsClient) lookupAttr(name string) (nfsAttr, nfs3.Status) {
	n.t.Helper()
	var a nfsAttr
	st := n.callRetry(nfs3.ProcLookup, n.dirop(name), func(r *xdr.Reader) {
		r.Opaque(64)
		if r.Bool() {
			a = readFattr3(r)
		}
	})
	return a, st
}

// TestNFSSeesSMBChanges: NFS requests answer from the server's in-memory
// inode cache once a file was read; an SMB write, SETINFO (end of file,
// times) and rename made in between are each seen by the next NFS GETATTR,
// READ and LOOKUP.
func TestNFSSeesSMBChanges(t *testing.T) {
	s := startServer(t, Config{SMBPort: freePort(t)})
	sh := smbShare(t, s, "export")
	n := dialNFS(t, s)

	if err := sh.WriteFile("f", []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	fh := lookup(t, s, "export", "f")
	// Twice each, so that the second answer comes from the cache.
	for range 2 {
		if a, st := n.getattr(fh); st != nfs3.StatusOK || a.size != 10 {
			t.Fatalf("GETATTR before: %v, size %d", st, a.size)
		}
		if d, st := n.read(fh, 100); st != nfs3.StatusOK || string(d) != "0123456789" {
			t.Fatalf("READ before: %v, %q", st, d)
		}
	}

	// An SMB write that extends the file.
	f, err := sh.OpenFile("f", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("abcdefghij"), 10); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if a, st := n.getattr(fh); st != nfs3.StatusOK || a.size != 20 {
		t.Errorf("GETATTR after the SMB write: %v, size %d, want 20", st, a.size)
	}
	if d, st := n.read(fh, 100); st != nfs3.StatusOK || string(d) != "0123456789abcdefghij" {
		t.Errorf("READ after the SMB write: %v, %q", st, d)
	}

	// SETINFO: end of file, then the times.
	f, err = sh.OpenFile("f", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(4); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if a, st := n.getattr(fh); st != nfs3.StatusOK || a.size != 4 {
		t.Errorf("GETATTR after the SMB truncate: %v, size %d, want 4", st, a.size)
	}
	if d, st := n.read(fh, 100); st != nfs3.StatusOK || string(d) != "0123" {
		t.Errorf("READ after the SMB truncate: %v, %q", st, d)
	}
	mtime := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := sh.Chtimes("f", mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if a, st := n.getattr(fh); st != nfs3.StatusOK || !a.mtime.Equal(mtime) {
		t.Errorf("GETATTR after the SMB SETINFO of the times: %v, mtime %v, want %v", st, a.mtime, mtime)
	}

	// A rename: the old name is gone, the new one is the same file, and
	// the handle still reads it.
	before, _ := n.getattr(fh)
	for range 2 {
		if a, st := n.lookupAttr("f"); st != nfs3.StatusOK || a.fileid != before.fileid {
			t.Fatalf("LOOKUP before the SMB rename: %v, fileid %d, want %d", st, a.fileid, before.fileid)
		}
	}
	if err := sh.Rename("f", "g"); err != nil {
		t.Fatal(err)
	}
	if _, st := n.lookupAttr("f"); st != nfs3.StatusNoEnt {
		t.Errorf("LOOKUP of the old name after the SMB rename: %v, want NFS3ERR_NOENT", st)
	}
	if a, st := n.lookupAttr("g"); st != nfs3.StatusOK || a.fileid != before.fileid || a.size != 4 {
		t.Errorf("LOOKUP of the new name after the SMB rename: %v, fileid %d size %d, want %d size 4", st, a.fileid, a.size, before.fileid)
	}
	if d, st := n.read(fh, 100); st != nfs3.StatusOK || string(d) != "0123" {
		t.Errorf("READ through the handle after the SMB rename: %v, %q", st, d)
	}

	// And an SMB delete: the handle goes stale.
	if err := sh.Remove("g"); err != nil {
		t.Fatal(err)
	}
	if _, st := n.lookupAttr("g"); st != nfs3.StatusNoEnt {
		t.Errorf("LOOKUP after the SMB delete: %v, want NFS3ERR_NOENT", st)
	}
	if _, st := n.getattr(fh); st != nfs3.StatusStale {
		t.Errorf("GETATTR after the SMB delete: %v, want NFS3ERR_STALE", st)
	}
}
