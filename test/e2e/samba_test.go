//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/vm"
)

const sambaPassword = "tandem-e2e-pw"

// startSamba runs a private smbd in the VM's namespace on port 445 sharing
// a fresh directory as [share], and returns that directory.  Every Samba
// directory and the password database are under the test's temp dir:
// nothing in /etc/samba or /var/lib/samba is read or written.
func startSamba(t *testing.T, v *vm.VM) string {
	t.Helper()
	w := t.TempDir()
	for _, d := range []string{"share", "run", "lock", "state", "cache", "private", "ncalrpc", "log"} {
		if err := os.MkdirAll(filepath.Join(w, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(w, "smb.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`[global]
	server role = standalone server
	smb ports = 445
	disable netbios = yes
	bind interfaces only = no
	pid directory = %[1]s/run
	lock directory = %[1]s/lock
	state directory = %[1]s/state
	cache directory = %[1]s/cache
	private dir = %[1]s/private
	ncalrpc dir = %[1]s/ncalrpc
	passdb backend = tdbsam:%[1]s/private/passdb.tdb
	log file = %[1]s/log/log.%%m
	log level = 1
	load printers = no
	printing = bsd
	printcap name = /dev/null
	disable spoolss = yes
	map to guest = never
	server min protocol = SMB2_02
[share]
	path = %[1]s/share
	read only = no
`, w)), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	pw := exec.Command("smbpasswd", "-c", conf, "-a", "-s", "root")
	pw.Stdin = strings.NewReader(sambaPassword + "\n" + sambaPassword + "\n")
	if out, err := pw.CombinedOutput(); err != nil {
		t.Fatalf("smbpasswd: %v\n%s", err, out)
	}

	logPath := filepath.Join(w, "log", "smbd.out")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	// --no-process-group: smbd would otherwise call setsid() itself, which
	// fails in the session StartInNS gives it.
	cmd := exec.Command("smbd", "-F", "--no-process-group", "-s", conf, "--debug-stdout", "-d1")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	p, err := v.StartInNS(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(5 * time.Second) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := v.WaitListening(ctx, v.HostIP()+":445", p); err != nil {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("smbd: %v\n%s", err, b)
	}
	return filepath.Join(w, "share")
}

// TestSambaCIFSSelfCheck proves the SMB half of the harness with a server
// nobody here wrote: the guest's kernel CIFS client mounts Samba over SMB
// 3.1.1, and bytes written on either side arrive unchanged on the other.
func TestSambaCIFSSelfCheck(t *testing.T) {
	v := client(t)
	share := startSamba(t, v)

	const mnt = "/mnt/samba"
	sh(t, v, time.Minute, fmt.Sprintf(`mkdir -p %[1]s
mount -t cifs //%[2]s/share %[1]s -o vers=3.1.1,port=445,username=root,password=%[3]s,cache=none`,
		mnt, v.HostIP(), sambaPassword))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = v.Exec(ctx, "umount "+mnt+" || umount -l "+mnt, nil)
	})
	expectSh(t, v, 10*time.Second, `grep ' /mnt/samba ' /proc/mounts | grep -o 'vers=3.1.1' `, "vers=3.1.1\n")

	// guest -> server: a binary file made on the host, copied through the
	// mount, must land byte for byte in Samba's share directory
	payload := make([]byte, 1<<20+4097)
	for i := range payload {
		payload[i] = byte(i*7 + i>>11)
	}
	if err := os.WriteFile(filepath.Join(v.ShareDir(), "payload"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, v, time.Minute, `cp /host/payload /mnt/samba/from-guest && sync /mnt/samba/from-guest`)
	got, err := os.ReadFile(filepath.Join(share, "from-guest"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("server received %d bytes, want the %d written (first difference at %d)", len(got), len(payload), firstDiff(got, payload))
	}

	// server -> guest: a file Samba's side has, read through the mount
	text := []byte("written on the server\x00\xff\n")
	if err := os.WriteFile(filepath.Join(share, "from-server"), text, 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, v, time.Minute, `cat /mnt/samba/from-server > /host/readback`)
	got, err = os.ReadFile(filepath.Join(v.ShareDir(), "readback"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, text) {
		t.Fatalf("guest read %q, want %q", got, text)
	}
	expectSh(t, v, 10*time.Second, `cd /mnt/samba && ls && stat -c '%n %s' from-guest from-server`,
		lines("from-guest", "from-server", fmt.Sprintf("from-guest %d", len(payload)), fmt.Sprintf("from-server %d", len(text))))
}

func firstDiff(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
