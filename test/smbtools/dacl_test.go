//go:build e2e

package smbtools

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/testserver"
)

var tandemBin string

func TestMain(m *testing.M) { testserver.Main(m, &tandemBin) }

const (
	alicePass = "alice-Pass1"
	bobPass   = "bob-Pass1"
	aliceUID  = 1000
	bobUID    = 1001
)

// server is a `tandem serve` alone in a network namespace, on port 445.
type server struct {
	t  *testing.T
	p  *testserver.Process
	ns string // nsenter's --net argument
}

func startServer(t *testing.T) *server {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("needs root: the server runs in a network namespace of its own, on port 445, the only one smbcacls reaches")
	}
	for _, tool := range []string{"smbcacls", "smbclient", "unshare", "nsenter", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (%v): ./test/install-deps.sh as root", tool, err)
		}
	}
	data := t.TempDir()
	for _, u := range []struct {
		name, pass string
		uid        int
	}{{"alice", alicePass, aliceUID}, {"bob", bobPass, bobUID}} {
		if err := testserver.AddUser(tandemBin, data, u.name, u.pass, u.uid); err != nil {
			t.Fatal(err)
		}
	}
	// The wrapper keeps the process id from unshare through to tandem
	// (unshare --net and sh exec, nothing forks), so that the server's
	// namespace is /proc/PID/ns/net and its signals reach it.
	wrapper := filepath.Join(t.TempDir(), "tandem-netns")
	script := fmt.Sprintf("#!/bin/sh\nexec unshare --net sh -c 'ip link set lo up && exec \"$0\" \"$@\"' %q \"$@\"\n", tandemBin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := testserver.Start(wrapper, data, "--smb-port", "445")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(30 * time.Second); err != nil {
			t.Errorf("server did not stop cleanly: %v", err)
		}
		if strings.Contains(p.Log(), "panic") {
			t.Errorf("the server logged a panic:\n%s", p.Log())
		}
	})
	if p.SMBAddr != "127.0.0.1:445" {
		t.Fatalf("SMB listens on %q, want 127.0.0.1:445; log:\n%s", p.SMBAddr, p.Log())
	}
	return &server{t: t, p: p, ns: fmt.Sprintf("--net=/proc/%d/ns/net", p.Pid())}
}

// run runs a client tool in the server's namespace and returns what it
// printed, standard error included.
func (s *server) run(tool string, args ...string) (string, error) {
	cmd := exec.Command("nsenter", append([]string{s.ns, tool}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+s.t.TempDir()) // no user's smb.conf or credentials
	out, err := cmd.CombinedOutput()
	s.t.Logf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	return string(out), err
}

func (s *server) smbclient(user, pass, command string) (string, error) {
	return s.run("smbclient", "//127.0.0.1/export", "-U", user+"%"+pass, "-c", command)
}

func (s *server) smbcacls(user, pass, file string, args ...string) (string, error) {
	return s.run("smbcacls", append([]string{"//127.0.0.1/export", file, "-U", user + "%" + pass}, args...)...)
}

var ownerLine = regexp.MustCompile(`(?m)^OWNER:(S-1-5-21-\d+-\d+-\d+)-(\d+)$`)

// TestSmbcaclsDACL: a DACL set with smbcacls that denies bob reading a
// file alice owns stops bob's smbclient and not alice's, and generic
// rights set with smbcacls read back mapped to file rights.
func TestSmbcaclsDACL(t *testing.T) {
	s := startServer(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src.txt")
	const content = "alice's secret\n"
	if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"f.txt", "g.txt", "h.txt"} {
		if _, err := s.smbclient("alice", alicePass, fmt.Sprintf("put %s %s", src, name)); err != nil {
			t.Fatalf("alice puts %s: %v", name, err)
		}
	}
	out, err := s.smbcacls("alice", alicePass, "f.txt", "--numeric")
	if err != nil {
		t.Fatalf("smbcacls reads f.txt: %v", err)
	}
	m := ownerLine.FindStringSubmatch(out)
	if m == nil || m[2] != "3000" {
		t.Fatalf("f.txt's owner is not alice's SID (uid 1000, RID 3000):\n%s", out)
	}
	// identity maps uid u to RID 1000+2u of the server's machine domain.
	domain := m[1]
	bob := fmt.Sprintf("%s-%d", domain, 1000+2*bobUID)
	alice := fmt.Sprintf("%s-%d", domain, 1000+2*aliceUID)

	// Before the DACL bob reads it (Everyone may).
	if out, err := s.smbclient("bob", bobPass, fmt.Sprintf("get f.txt %s", filepath.Join(dir, "before.txt"))); err != nil {
		t.Fatalf("bob gets f.txt before the DACL: %v\n%s", err, out)
	}
	if _, err := s.smbcacls("alice", alicePass, "f.txt", "-a", "ACL:"+bob+":DENIED/0x0/READ"); err != nil {
		t.Fatalf("smbcacls adds the deny entry: %v", err)
	}
	out, _ = s.smbcacls("alice", alicePass, "f.txt", "--numeric")
	if !strings.Contains(out, "ACL:"+bob+":1/0x0/0x001200a9") {
		t.Fatalf("the deny entry for bob is not in the DACL:\n%s", out)
	}
	out, err = s.smbclient("bob", bobPass, fmt.Sprintf("get f.txt %s", filepath.Join(dir, "bob.txt")))
	if err == nil || !strings.Contains(out, "NT_STATUS_ACCESS_DENIED") {
		t.Errorf("bob gets f.txt he is denied: %v, want NT_STATUS_ACCESS_DENIED in:\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "bob.txt")); err == nil {
		if b, _ := os.ReadFile(filepath.Join(dir, "bob.txt")); len(b) > 0 {
			t.Errorf("bob got %q", b)
		}
	}
	got := filepath.Join(dir, "alice.txt")
	if out, err := s.smbclient("alice", alicePass, "get f.txt "+got); err != nil {
		t.Fatalf("alice gets f.txt: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(got); err != nil || string(b) != content {
		t.Errorf("alice got %q (%v), want %q", b, err, content)
	}

	// Denied READ_CONTROL, bob cannot read the descriptor, though an open
	// for READ_CONTROL alone looks at nothing else.
	if _, err := s.smbcacls("alice", alicePass, "h.txt", "-a", "ACL:"+bob+":DENIED/0x0/0x00020000"); err != nil {
		t.Fatalf("smbcacls adds the deny entry: %v", err)
	}
	out, err = s.smbcacls("bob", bobPass, "h.txt")
	if err == nil || !strings.Contains(out, "NT_STATUS_ACCESS_DENIED") {
		t.Errorf("bob reads h.txt's descriptor he is denied: %v, want NT_STATUS_ACCESS_DENIED in:\n%s", err, out)
	}
	if out, err := s.smbcacls("alice", alicePass, "h.txt"); err != nil || !strings.Contains(out, "ACL:"+bob+":DENIED/0x0/") {
		t.Errorf("alice reads h.txt's descriptor: %v\n%s", err, out)
	}

	// Generic rights are stored as the file rights they stand for:
	// GENERIC_READ|GENERIC_EXECUTE is READ (0x1200a9), GENERIC_ALL FULL.
	set := fmt.Sprintf("ACL:S-1-1-0:ALLOWED/0x0/0xa0000000,ACL:%s:ALLOWED/0x0/0x10000000", alice)
	if _, err := s.smbcacls("alice", alicePass, "g.txt", "-S", set); err != nil {
		t.Fatalf("smbcacls sets g.txt's DACL: %v", err)
	}
	out, _ = s.smbcacls("alice", alicePass, "g.txt", "--numeric")
	for _, want := range []string{"ACL:S-1-1-0:0/0x0/0x001200a9", "ACL:" + alice + ":0/0x0/0x001f01ff"} {
		if !strings.Contains(out, want) {
			t.Errorf("g.txt's DACL lacks %s (generic rights not mapped):\n%s", want, out)
		}
	}
	out, _ = s.smbcacls("alice", alicePass, "g.txt")
	for _, want := range []string{"ACL:S-1-1-0:ALLOWED/0x0/READ", "ACL:" + alice + ":ALLOWED/0x0/FULL"} {
		if !strings.Contains(out, want) {
			t.Errorf("smbcacls does not show %s:\n%s", want, out)
		}
	}
	// bob reads g.txt through Everyone, and may do no more than READ
	// (and DELETE, which the share's root, 0777, gives everyone).
	out, _ = s.smbcacls("bob", bobPass, "g.txt", "-x")
	if !strings.Contains(out, "Maximum access: 0x1300a9") {
		t.Errorf("bob's maximum access to g.txt, want 0x1300a9:\n%s", out)
	}
	if out, err := s.smbclient("bob", bobPass, fmt.Sprintf("get g.txt %s", filepath.Join(dir, "bobg.txt"))); err != nil {
		t.Errorf("bob gets g.txt: %v\n%s", err, out)
	}
	if out, err := s.smbclient("bob", bobPass, fmt.Sprintf("put %s g.txt", src)); err == nil || !strings.Contains(out, "NT_STATUS_ACCESS_DENIED") {
		t.Errorf("bob overwrites g.txt: %v, want NT_STATUS_ACCESS_DENIED in:\n%s", err, out)
	}
}
