//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/vm"
)

// The SMB port `tandem serve` listens on by default, and the password of
// the SMB users the tests add.
const (
	smbPort     = 12445
	smbPassword = "cifs-e2e-Pw1"
)

// addSMBUser adds an SMB user with uid and gid id to the server's data
// directory (before the server starts, the command edits it directly).
func addSMBUser(t *testing.T, s *tandemServer, name, id string) {
	t.Helper()
	cmd := exec.Command(s.bin, "user", "add", name, "--uid", id, "--gid", id, "--password-stdin", "--data", s.data)
	cmd.Stdin = strings.NewReader(smbPassword + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tandem user add %s: %v\n%s", name, err, out)
	}
}

// waitSMB waits until the server accepts SMB connections.
func waitSMB(t *testing.T, s *tandemServer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.v.WaitListening(ctx, fmt.Sprintf("%s:%d", s.v.HostIP(), smbPort), s.proc); err != nil {
		t.Fatalf("tandem serve SMB: %v\n%s", err, s.lastLog())
	}
}

// cifsMountCmd mounts the export at mnt with the kernel's CIFS client as
// user "tester"; opts are added to the mount options (vers=..., seal, sign).
func cifsMountCmd(v *vm.VM, mnt, opts string) string {
	o := fmt.Sprintf("port=%d,username=tester,password=%s", smbPort, smbPassword)
	if opts != "" {
		o += "," + opts
	}
	return fmt.Sprintf("mkdir -p %[1]s && mount -t cifs //%[2]s/export %[1]s -o %[3]s", mnt, v.HostIP(), o)
}
