package smb

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// smbclient runs Samba's smbclient against the server with an empty
// configuration and returns its combined output and exit code. The test
// fails, not skips, when smbclient is missing: it is a required
// conformance peer (Debian package smbclient).
func (e *env) smbclient(args ...string) (string, int) {
	e.t.Helper()
	bin, err := exec.LookPath("smbclient")
	if err != nil {
		e.t.Fatalf("smbclient not installed (apt-get install -y smbclient): %v", err)
	}
	dir := e.t.TempDir()
	conf := filepath.Join(dir, "smb.conf")
	if err := os.WriteFile(conf, []byte("[global]\n"), 0o644); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	full := append([]string{"-s", conf, "-p", e.port}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	e.t.Fatalf("smbclient %q: %v\n%s", args, err, out)
	return "", -1
}

func TestSmbclientListShares(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	want := []string{
		"\tSharename       Type      Comment",
		"\t---------       ----      -------",
		"\texport          Disk      the export",
		"\tpublic          Disk      for everyone",
		"\tsecret          Disk      encrypted",
		"\tIPC$            IPC       IPC Service (TANDEM)",
	}
	for _, auth := range [][]string{
		{"-U", "alice%" + alicePass}, {"-N"},
		{"-U", "bob%" + bobPass, "--option=client max protocol=SMB2_02"},
		{"-U", "bob%" + bobPass, "--option=client max protocol=SMB3_00", "--client-protection=encrypt"},
	} {
		out, rc := e.smbclient(append([]string{"-L", "//127.0.0.1"}, auth...)...)
		if rc != 0 || !strings.Contains(out, strings.Join(want, "\n")+"\n") {
			t.Errorf("smbclient -L %v: exit %d\n%s", auth, rc, out)
		}
	}
}

func TestSmbclientLogonFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	out, rc := e.smbclient("//127.0.0.1/export", "-U", "alice%wrong", "-c", "ls")
	if rc != 1 || !strings.Contains(out, "session setup failed: NT_STATUS_LOGON_FAILURE") {
		t.Fatalf("wrong password: exit %d\n%s", rc, out)
	}
}

// TestSmbclientDialects connects at each dialect, plain, with signing
// required and with encryption, and sends an ECHO on the tree.
func TestSmbclientDialects(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	user := "alice%" + alicePass
	for _, p := range []struct{ name, dialect string }{
		{"SMB2_02", "SMB2_02"}, {"SMB2_10", "SMB2_10"}, {"SMB3_00", "SMB3_00"}, {"SMB3_02", "SMB3_02"}, {"SMB3_11", "SMB3_11"},
	} {
		modes := [][]string{nil, {"--option=client signing=required"}}
		if strings.HasPrefix(p.name, "SMB3") {
			modes = append(modes, []string{"--client-protection=encrypt"})
		}
		for _, mode := range modes {
			args := append([]string{"//127.0.0.1/export", "-U", user, "-d", "4",
				"--option=client min protocol=SMB2_02", "--option=client max protocol=" + p.name}, mode...)
			args = append(args, "-c", "echo 2 tandem")
			out, rc := e.smbclient(args...)
			if rc != 0 || !strings.Contains(out, "negotiated dialect["+p.dialect+"]") {
				t.Errorf("%s %v: exit %d\n%s", p.name, mode, rc, out)
			}
		}
	}
}

func TestSmbclientEncryptedShare(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	user := "alice%" + alicePass
	if out, rc := e.smbclient("//127.0.0.1/secret", "-U", user, "-c", "echo 1 x"); rc != 0 {
		t.Errorf("3.1.1 on the encrypted share: exit %d\n%s", rc, out)
	}
	out, rc := e.smbclient("//127.0.0.1/secret", "-U", user, "--option=client max protocol=SMB2_10", "-c", "echo 1 x")
	if rc != 1 || !strings.Contains(out, "tree connect failed: NT_STATUS_ACCESS_DENIED") {
		t.Errorf("2.1 on the encrypted share: exit %d\n%s", rc, out)
	}
}

// TestSmbclientSMB1Upgrade lets smbclient open with an SMB1 NEGOTIATE that
// offers SMB2 too: the server answers with the SMB2 wildcard dialect and
// the client continues in SMB2.
func TestSmbclientSMB1Upgrade(t *testing.T) {
	t.Parallel()
	var log logBuffer
	e := newEnv(t, Options{Logger: log.logger()})
	out, rc := e.smbclient("//127.0.0.1/export", "-U", "bob%"+bobPass, "-d", "4",
		"--option=client min protocol=NT1", "-c", "echo 1 x")
	if rc != 0 || !strings.Contains(out, "negotiated dialect[SMB3_11]") {
		t.Errorf("exit %d\n%s", rc, out)
	}
	if !strings.Contains(log.String(), `msg="smb: SMB1 NEGOTIATE answered in SMB2" remote=127.0.0.1 dialect=767`) {
		t.Errorf("the SMB1 NEGOTIATE was not upgraded:\n%s", log.String())
	}
}

// logBuffer collects a server's log.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestSmbclientGuest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	if out, rc := e.smbclient("//127.0.0.1/public", "-N", "-c", "echo 1 x"); rc != 0 {
		t.Errorf("anonymous on the guest share: exit %d\n%s", rc, out)
	}
	out, rc := e.smbclient("//127.0.0.1/export", "-N", "-c", "echo 1 x")
	if rc != 1 || !strings.Contains(out, "tree connect failed: NT_STATUS_ACCESS_DENIED") {
		t.Errorf("anonymous on a share without guests: exit %d\n%s", rc, out)
	}
}

// TestSmbclientAlgorithms has smbclient 3.1.1 ask for each cipher and
// signing algorithm in turn and checks the server chose it and the
// session works with it.
func TestSmbclientAlgorithms(t *testing.T) {
	t.Parallel()
	var log logBuffer
	e := newEnv(t, Options{Logger: log.logger()})
	user := "alice%" + alicePass
	for _, c := range []struct {
		option, value string
		protect       string
		want          string
	}{
		{"client smb3 encryption algorithms", "AES-128-GCM", "encrypt", "cipher=2"},
		{"client smb3 encryption algorithms", "AES-128-CCM", "encrypt", "cipher=1"},
		{"client smb3 encryption algorithms", "AES-256-GCM", "encrypt", "cipher=4"},
		{"client smb3 encryption algorithms", "AES-256-CCM", "encrypt", "cipher=3"},
		{"client smb3 signing algorithms", "AES-128-GMAC", "sign", "signing=2"},
		{"client smb3 signing algorithms", "AES-128-CMAC", "sign", "signing=1"},
		{"client smb3 signing algorithms", "HMAC-SHA256", "sign", "signing=0"},
	} {
		before := len(log.String())
		out, rc := e.smbclient("//127.0.0.1/export", "-U", user, "--client-protection="+c.protect,
			"--option="+c.option+"="+c.value, "-c", "echo 3 algorithms")
		got := log.String()[before:]
		if rc != 0 || !strings.Contains(got, "dialect=785 ") || !strings.Contains(got, c.want) {
			t.Errorf("%s=%s: exit %d, server log:\n%s\nclient:\n%s", c.option, c.value, rc, got, out)
		}
	}
}
