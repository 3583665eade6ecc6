package server

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/nfs3"
	"github.com/tandemfs/tandem/test/smbclient"
)

// TestNFSChangesReachSMBNotify: an SMB client watching a directory hears
// of an NFS client's WRITE and SETATTR of a file in it, which no SMB
// client has open, as Windows reports another opener's changes:
// FILE_ACTION_MODIFIED with the file's name, to a watch whose filter
// has last write and size, or attributes.
func TestNFSChangesReachSMBNotify(t *testing.T) {
	s := startServer(t, Config{SMBPort: freePort(t)})
	ctx := context.Background()
	_, tree := connectAlice(t, s)
	alice := &fs.Caller{UID: 1000, GID: 1000}
	root := lookup(t, s, "export")
	w, _, _, err := s.FS.Mkdir(ctx, alice, root, "w", fs.SetAttr{})
	if err != nil {
		t.Fatal(err)
	}
	f, _, _, err := s.FS.Create(ctx, alice, w, "f", fs.CreateHow{Mode: fs.Guarded})
	if err != nil {
		t.Fatal(err)
	}
	nfs := dialNFS(t, s)
	for _, tc := range []struct {
		what   string
		filter uint32
		proc   uint32
	}{
		{"WRITE", smbclient.NotifyLastWrite | smbclient.NotifySize, nfs3.ProcWrite},
		{"SETATTR mode", smbclient.NotifyAttributes, nfs3.ProcSetAttr},
	} {
		// A watch's filter is the first request's, for the life of the
		// open: each case opens the directory anew.
		d, err := tree.Create("w", smbclient.CreateRequest{DesiredAccess: smbclient.AccessGenericRead,
			ShareAccess: smbclient.ShareAll, Disposition: smbclient.DispositionOpen, Options: smbclient.OptionDirectory})
		if err != nil || d.Status != smbclient.StatusSuccess {
			t.Fatalf("open w: %v %v", err, d)
		}
		type result struct {
			cs  []smbclient.NotifyChange
			st  smbclient.Status
			err error
		}
		got := make(chan result, 1)
		go func() {
			cs, st, err := tree.ChangeNotify(d.FileID, 0, tc.filter)
			got <- result{cs, st, err}
		}()
		// The change is made until the watch, set up by the request's
		// arrival, hears of it.
		mode := uint32(0o600)
		var r result
	wait:
		for try := 0; ; try++ {
			args := writeArgs(f, uint64(try), []byte("from NFS"))
			if tc.proc == nfs3.ProcSetAttr {
				args, mode = chmodArgs(f, mode), mode^0o040
			}
			if st := nfs.call(tc.proc, args); st != nfs3.StatusOK {
				t.Fatalf("NFS %s: %v", tc.what, st)
			}
			select {
			case r = <-got:
				break wait
			case <-time.After(100 * time.Millisecond):
				if try == 50 {
					t.Fatalf("no CHANGE_NOTIFY response after NFS %s", tc.what)
				}
			}
		}
		want := []smbclient.NotifyChange{{Action: smbclient.ActionModified, Name: "f"}}
		if r.err != nil || r.st != smbclient.StatusSuccess || !slices.Equal(r.cs, want) {
			t.Errorf("CHANGE_NOTIFY after NFS %s: %v %v %v, want %v", tc.what, r.cs, r.st, r.err, want)
		}
		if st, err := tree.Close(d.FileID); err != nil || st != smbclient.StatusSuccess {
			t.Fatalf("close w: %v %v", st, err)
		}
	}
}
