//go:build e2e

// Package ops drives the operator's commands of a real `tandem serve`
// with clients nobody here wrote: libnfs's nfs-cp/nfs-cat and Samba's
// smbclient.
package ops

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/testserver"
)

var tandemBin string

func TestMain(m *testing.M) { testserver.Main(m, &tandemBin) }

func tool(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user's smb.conf or credentials
	out, err := cmd.CombinedOutput()
	t.Logf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	return string(out), err
}

// TestShareLifecycle: `tandem share add` on the running server makes a
// share that libnfs and smbclient use at once; `tandem share set
// --read-only` makes both refuse writes while reads go on; `tandem share
// del` makes both refuse the share, and the other share stays served.
func TestShareLifecycle(t *testing.T) {
	for _, c := range []string{"nfs-cp", "nfs-cat", "smbclient"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Fatalf("%s is needed (test/install-deps.sh installs it): %v", c, err)
		}
	}
	data := t.TempDir()
	smbPort, err := testserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p, err := testserver.Start(tandemBin, data, "--smb-port", strconv.Itoa(smbPort))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(30 * time.Second)
	if err := testserver.AddUser(tandemBin, data, "alice", "pw-Alice1", 1000); err != nil {
		t.Fatal(err)
	}
	if out, err := p.Command("share", "add", "team", "--comment", "the team"); err != nil {
		t.Fatalf("share add: %v %s", err, out)
	}
	nfsURL := func(share, name string) string {
		return fmt.Sprintf("nfs://127.0.0.1/%s/%s?nfsport=%d&mountport=%d&uid=1000&gid=1000", share, name, p.Port, p.Port)
	}
	smb := func(share, command string) (string, error) {
		return tool(t, "smbclient", "//127.0.0.1/"+share, "-p", strconv.Itoa(smbPort), "-U", "alice%pw-Alice1", "-m", "SMB3", "-c", command)
	}
	local := filepath.Join(t.TempDir(), "local")
	if err := os.WriteFile(local, []byte("from a client\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	if _, err := tool(t, "nfs-cp", local, nfsURL("team", "by-nfs")); err != nil {
		t.Fatalf("nfs-cp into the new share: %v", err)
	}
	if _, err := smb("team", "put "+local+" by-smb"); err != nil {
		t.Fatalf("smbclient put into the new share: %v", err)
	}
	if out, err := tool(t, "nfs-cat", nfsURL("team", "by-smb")); err != nil || out != "from a client\n" {
		t.Fatalf("nfs-cat of the SMB file: %q %v", out, err)
	}
	if out, err := smb("team", "ls"); err != nil || !strings.Contains(out, "by-nfs") {
		t.Fatalf("smbclient ls does not show the NFS file: %v\n%s", err, out)
	}

	if out, err := p.Command("share", "set", "team", "--read-only"); err != nil {
		t.Fatalf("share set: %v %s", err, out)
	}
	if out, err := tool(t, "nfs-cp", local, nfsURL("team", "refused-nfs")); err == nil || !strings.Contains(out, "NFS3ERR_ROFS") {
		t.Fatalf("nfs-cp into a read-only share: %v, want NFS3ERR_ROFS\n%s", err, out)
	}
	if out, err := smb("team", "put "+local+" refused-smb"); err == nil || !strings.Contains(out, "NT_STATUS_MEDIA_WRITE_PROTECTED") {
		t.Fatalf("smbclient put into a read-only share: %v, want NT_STATUS_MEDIA_WRITE_PROTECTED\n%s", err, out)
	}
	if out, err := tool(t, "nfs-cat", nfsURL("team", "by-nfs")); err != nil || out != "from a client\n" {
		t.Fatalf("nfs-cat of a read-only share: %q %v", out, err)
	}
	if out, err := smb("team", "ls"); err != nil || strings.Contains(out, "refused-") {
		t.Fatalf("smbclient ls of a read-only share: %v\n%s", err, out)
	}

	if out, err := p.Command("share", "del", "team"); err != nil {
		t.Fatalf("share del: %v %s", err, out)
	}
	if _, err := tool(t, "nfs-cat", nfsURL("team", "by-nfs")); err == nil {
		t.Fatal("nfs-cat of a removed share succeeded")
	}
	if out, err := smb("team", "ls"); err == nil || !strings.Contains(out, "NT_STATUS_BAD_NETWORK_NAME") {
		t.Fatalf("smbclient of a removed share: %v\n%s", err, out)
	}
	if out, err := p.Command("share", "list", "--json"); err != nil || strings.Contains(string(out), `"team"`) {
		t.Fatalf("share list after del: %v %s", err, out)
	}
	if _, err := smb("export", "put "+local+" still-served"); err != nil {
		t.Fatalf("the other share after a removal: %v", err)
	}
}
