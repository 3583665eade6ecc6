package smb

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSmbclientFiles has smbclient make a directory, put a file, list,
// rename, get it back and remove everything, at each dialect family, and
// checks the bytes and what the file system holds after each step.
func TestSmbclientFiles(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	local := t.TempDir()
	data := make([]byte, 3<<20+12345) // several READs and WRITEs
	rand.Read(data)
	src := filepath.Join(local, "src.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	user := "alice%" + alicePass
	for _, p := range []struct{ name string }{{"SMB2_02"}, {"SMB2_10"}, {"SMB3_11"}} {
		dst := filepath.Join(local, "back-"+p.name)
		script := strings.Join([]string{
			"mkdir dir",
			"cd dir",
			"put " + src + " file.bin",
			"ls",
			"rename file.bin renamed.bin",
			"get renamed.bin " + dst,
			"ls",
		}, "; ")
		out, rc := e.smbclient("//127.0.0.1/export", "-U", user, "--option=client max protocol="+p.name, "-c", script)
		if rc != 0 {
			t.Fatalf("%s: exit %d\n%s", p.name, rc, out)
		}
		if !strings.Contains(out, "file.bin                            A  3158073") ||
			!strings.Contains(out, "renamed.bin                         A  3158073") {
			t.Errorf("%s: listing\n%s", p.name, out)
		}
		got, err := os.ReadFile(dst)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: got back %d bytes (%v), want the %d put", p.name, len(got), err, len(data))
		}
		ctx := context.Background()
		root, _, _ := e.fs.Share("export")
		dir, _, _, err := e.fs.Lookup(ctx, nil, root, "dir")
		if err != nil {
			t.Fatalf("%s: dir: %v", p.name, err)
		}
		_, a, _, err := e.fs.Lookup(ctx, nil, dir, "renamed.bin")
		if err != nil || a.Size != uint64(len(data)) || a.UID != 1000 {
			t.Fatalf("%s: renamed.bin: %+v %v", p.name, a, err)
		}

		out, rc = e.smbclient("//127.0.0.1/export", "-U", user, "--option=client max protocol="+p.name,
			"-c", "del dir\\renamed.bin; rmdir dir; ls")
		if rc != 0 || strings.Contains(out, "dir") {
			t.Fatalf("%s: del/rmdir: exit %d\n%s", p.name, rc, out)
		}
		if _, _, _, err := e.fs.Lookup(ctx, nil, root, "dir"); err == nil {
			t.Fatalf("%s: dir still exists", p.name)
		}
	}
}

// TestSmbclientErrors checks what smbclient reports for the usual
// mistakes, in one session (smbclient goes on after a failed command).
func TestSmbclientErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	user := "alice%" + alicePass
	cases := []struct{ cmd, want string }{
		{"get nosuch /dev/null", "NT_STATUS_OBJECT_NAME_NOT_FOUND opening remote file \\nosuch"},
		{"cd nosuch", "cd \\nosuch\\: NT_STATUS_OBJECT_NAME_NOT_FOUND"},
		{"del nosuch", "NT_STATUS_NO_SUCH_FILE listing \\nosuch"},
		{"rmdir nosuch", "NT_STATUS_OBJECT_NAME_NOT_FOUND removing remote directory file \\nosuch"},
		{"mkdir d; mkdir d", "NT_STATUS_OBJECT_NAME_COLLISION making remote directory \\d"},
		{"mkdir e; mkdir e\\f; rmdir e", "NT_STATUS_DIRECTORY_NOT_EMPTY removing remote directory file \\e"},
		{"get nodir\\x /dev/null", "NT_STATUS_OBJECT_PATH_NOT_FOUND opening remote file \\nodir\\x"},
	}
	var script []string
	for _, c := range cases {
		script = append(script, c.cmd)
	}
	out, _ := e.smbclient("//127.0.0.1/export", "-U", user, "-c", strings.Join(script, "; "))
	for _, c := range cases {
		if !strings.Contains(out, c.want) {
			t.Errorf("%s: want %q in\n%s", c.cmd, c.want, out)
		}
	}
}
