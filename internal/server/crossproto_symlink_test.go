package server

import (
	"strings"
	"testing"

	"github.com/tandemfs/tandem/internal/nfs3"
	"github.com/tandemfs/tandem/test/smbclient"
)

// TestSymlinksAcrossProtocols: a symbolic link made over NFS is a
// symbolic link to an SMB client (the CREATE stops on it with the
// target, relative or absolute, which the Linux client takes with "\"
// as "/" for its readlink; the link itself is a reparse point), and one
// an SMB client makes with FSCTL_SET_REPARSE_POINT is a symlink over NFS
// with the target it gave.
func TestSymlinksAcrossProtocols(t *testing.T) {
	s := startServer(t, Config{SMBPort: freePort(t)})
	_, tree := connectAlice(t, s)
	n := dialNFS(t, s)
	open := func(name string, options uint32) *smbclient.CreateResponse {
		t.Helper()
		r, err := tree.Create(name, smbclient.CreateRequest{DesiredAccess: smbclient.AccessReadAttrs | smbclient.AccessWriteAttrs,
			ShareAccess: smbclient.ShareAll, Disposition: smbclient.DispositionOpen, Options: options})
		if err != nil {
			t.Fatalf("CREATE %s: %v", name, err)
		}
		return r
	}
	const openReparsePoint = 0x00200000

	for _, target := range []string{"d/target", "/export/d/target", "../outside"} {
		name := "l" + strings.ReplaceAll(target, "/", "_")
		if st := n.symlink(name, target); st != nfs3.StatusOK {
			t.Fatalf("NFS SYMLINK %s: %v", target, st)
		}
		r := open(name, 0)
		if r.Status != smbclient.StatusStoppedOnSymlink || r.Symlink == nil {
			t.Fatalf("SMB CREATE of a link to %s: %v %+v", target, r.Status, r.Symlink)
		}
		relative := r.Symlink.Flags&smbclient.SymlinkFlagRelative != 0
		if got := strings.ReplaceAll(r.Symlink.SubstituteName, `\`, "/"); got != target || relative == strings.HasPrefix(target, "/") {
			t.Errorf("link to %s seen over SMB as %q, flags %#x", target, r.Symlink.SubstituteName, r.Symlink.Flags)
		}
		r = open(name, openReparsePoint)
		if r.Status != smbclient.StatusSuccess || r.FileAttributes&smbclient.AttributeReparse == 0 {
			t.Fatalf("the link to %s itself: %v, attributes %#x", target, r.Status, r.FileAttributes)
		}
		out, st, err := tree.Ioctl(r.FileID, smbclient.FsctlGetReparsePoint, nil, 4096)
		if err != nil || st != smbclient.StatusSuccess {
			t.Fatalf("FSCTL_GET_REPARSE_POINT: %v %v", st, err)
		}
		if l, err := smbclient.ParseSymlinkReparseData(out); err != nil || strings.ReplaceAll(l.SubstituteName, `\`, "/") != target {
			t.Errorf("reparse point of the link to %s: %+v %v", target, l, err)
		}
		tree.Close(r.FileID)
	}

	for _, tc := range []struct {
		substitute string
		flags      uint32
		target     string
	}{
		{`x\y`, smbclient.SymlinkFlagRelative, "x/y"},
		{`\srv\data`, 0, "/srv/data"},
	} {
		name := "made" + strings.ReplaceAll(tc.target, "/", "_")
		r, err := tree.Create(name, smbclient.CreateRequest{DesiredAccess: smbclient.AccessReadWrite, ShareAccess: smbclient.ShareAll,
			Disposition: smbclient.DispositionCreate, Options: openReparsePoint})
		if err != nil || r.Status != smbclient.StatusSuccess {
			t.Fatalf("create %s: %v %v", name, r, err)
		}
		_, st, err := tree.Ioctl(r.FileID, smbclient.FsctlSetReparsePoint, smbclient.SymlinkReparseData(tc.substitute, tc.substitute, tc.flags), 0)
		if err != nil || st != smbclient.StatusSuccess {
			t.Fatalf("FSCTL_SET_REPARSE_POINT %s: %v %v", tc.substitute, st, err)
		}
		tree.Close(r.FileID)
		if got, st := n.readlink(name); st != nfs3.StatusOK || got != tc.target {
			t.Errorf("NFS READLINK of the link SMB made to %s: %v %q, want %q", tc.substitute, st, got, tc.target)
		}
	}
}
