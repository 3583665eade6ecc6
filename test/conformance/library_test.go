package conformance

import (
	"bytes"
	"io"
	"os"
	"slices"
	"testing"

	"github.com/willscott/go-nfs-client/nfs"
)

// TestLibraryClient drives the server through go-nfs-client's own
// high-level API, whose encoders are the library's rather than this
// package's.
func TestLibraryClient(t *testing.T) {
	ts := startServer(t)
	c := dial(t, ts.addr())
	m := &nfs.Mount{Client: c.rc}
	v, err := m.Mount("/export", authSys(0, 0))
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}

	if _, err := v.Mkdir("dir", 0o755); err != nil {
		t.Fatalf("Mkdir: %v", err)
	}
	f, err := v.OpenFile("dir/file", 0o644)
	if err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 100000) // 1.6 MB: several WRITEs
	if n, err := f.Write(data); err != nil || n != len(data) {
		t.Fatalf("Write: %d, %v", n, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close (COMMIT): %v", err)
	}

	r, err := v.Open("dir/file")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes (%v), want the %d written", len(got), err, len(data))
	}

	attr, err := v.Getattr("dir/file")
	if err != nil || attr.Size() != int64(len(data)) || attr.Type != typeReg {
		t.Fatalf("Getattr: %+v, %v", attr, err)
	}
	if mode, err := v.Access("dir/file", nfs.ACCESS3_READ|nfs.ACCESS3_MODIFY); err != nil || mode != nfs.ACCESS3_READ|nfs.ACCESS3_MODIFY {
		t.Errorf("Access: %#x, %v", mode, err)
	}
	if err := v.Setattr("dir/file", nfs.Sattr3{Mode: nfs.SetMode{SetIt: true, Mode: 0o600}}); err != nil {
		t.Errorf("Setattr (guarded by the current ctime): %v", err)
	}
	if err := v.Symlink("file", "dir/link"); err != nil {
		t.Errorf("Symlink: %v", err)
	}
	if err := v.Rename("dir/file", "dir/renamed"); err != nil {
		t.Errorf("Rename: %v", err)
	}

	entries, err := v.ReadDirPlus("dir")
	if err != nil {
		t.Fatalf("ReadDirPlus: %v", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"link", "renamed"}) {
		t.Errorf("ReadDirPlus: %q, want [link renamed]", names)
	}

	if err := v.RmDir("dir"); !nfs.IsNotEmptyError(err) {
		t.Errorf("RmDir of a non-empty directory: %v, want NFS3ERR_NOTEMPTY", err)
	}
	if err := v.RemoveAll("dir"); err != nil {
		t.Errorf("RemoveAll: %v", err)
	}
	if _, _, err := v.Lookup("dir"); !os.IsNotExist(err) {
		t.Errorf("Lookup after RemoveAll: %v, want not exist", err)
	}
	if err := m.Unmount(); err != nil {
		t.Errorf("Unmount: %v", err)
	}
}
