package server

import (
	"os"
	"testing"

	"github.com/tandemfs/tandem/internal/nfs3"
)

// TestNFSRenameDirUnderSMBOpen: an NFS client cannot rename a directory
// while an SMB client has a file open two levels below it, even one opened
// sharing delete (Windows refuses it: the open knows its file by a path
// through the directory); a sibling directory renames freely, and the
// directory too once the file is closed.
func TestNFSRenameDirUnderSMBOpen(t *testing.T) {
	s := startServer(t, Config{SMBPort: freePort(t)})
	sh := smbShare(t, s, "export")
	for _, d := range []string{"d", `d\sub`, "other"} {
		if err := sh.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := sh.WriteFile(`d\sub\f`, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := sh.OpenFile(`d\sub\f`, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	nfs := dialNFS(t, s)
	root := lookup(t, s, "export")
	if st := nfs.call(nfs3.ProcRename, renameArgs(root, "d", root, "d2")); st != nfs3.StatusAccess {
		t.Errorf("NFS RENAME of a directory with an SMB open below: %v, want NFS3ERR_ACCES", st)
	}
	if st := nfs.call(nfs3.ProcRename, renameArgs(root, "other", root, "other2")); st != nfs3.StatusOK {
		t.Errorf("NFS RENAME of a directory with nothing open below: %v", st)
	}
	if _, err := f.Write([]byte("more")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if st := nfs.call(nfs3.ProcRename, renameArgs(root, "d", root, "d2")); st != nfs3.StatusOK {
		t.Errorf("NFS RENAME once the SMB file is closed: %v", st)
	}
	if b, err := sh.ReadFile(`d2\sub\f`); err != nil || string(b) != "more" {
		t.Errorf("SMB read after the rename: %q %v", b, err)
	}
}
