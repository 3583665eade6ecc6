//go:build e2e

// Package pkg builds the Debian package, installs it on this machine with
// dpkg, checks what it set up and that systemd accepts its unit, runs the
// installed binary with the unit's command line (systemd may not be PID 1
// here, so no service is started) and asks it `tandem status`; then it
// removes everything it installed.
package pkg

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// freePrivilegedPort finds a port below 1024 nothing listens on, so that
// binding it proves the capability the unit grants.
func freePrivilegedPort(t *testing.T) int {
	t.Helper()
	for p := 900; p < 1024; p++ {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
		l.Close()
		if err != nil {
			continue
		}
		u.Close()
		return p
	}
	t.Fatal("no free port below 1024")
	return 0
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestDebianPackage(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("installing a package needs root")
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", "tandem").Output(); err == nil && strings.Contains(string(out), "installed") {
		t.Fatal("a tandem package is installed already; this test installs and removes its own")
	}
	_, userErr := user.Lookup("tandem")
	hadUser := userErr == nil
	hadData, hadEtc := exists("/var/lib/tandem"), exists("/etc/tandem")

	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	cmd := exec.Command("./deploy/debian/build.sh", "0.0.0~e2e")
	cmd.Dir, cmd.Env = root, append(os.Environ(), "DIST="+dist)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dist, "tandem_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("packages built: %v", debs)
	}

	t.Cleanup(func() {
		if out, err := exec.Command("dpkg", "--purge", "tandem").CombinedOutput(); err != nil {
			t.Errorf("dpkg --purge: %v\n%s", err, out)
		}
		if !hadUser {
			exec.Command("userdel", "tandem").Run()
			exec.Command("groupdel", "tandem").Run()
		}
		if !hadData {
			os.RemoveAll("/var/lib/tandem")
		}
		if !hadEtc {
			os.RemoveAll("/etc/tandem")
		}
	})
	run(t, "dpkg", "-i", debs[0])

	// What the package set up.
	u, err := user.Lookup("tandem")
	if err != nil {
		t.Fatalf("no tandem user after install: %v", err)
	}
	if u.HomeDir != "/var/lib/tandem" {
		t.Fatalf("tandem's home is %s, want /var/lib/tandem", u.HomeDir)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if uid >= 1000 {
		t.Fatalf("tandem is uid %d, want a system user", uid)
	}
	for _, c := range []struct {
		path     string
		mode     os.FileMode
		uid, gid int
	}{
		{"/usr/bin/tandem", 0o755, 0, 0},
		{"/var/lib/tandem", os.ModeDir | 0o750, uid, gid},
		{"/etc/tandem/tandem.toml", 0o640, 0, gid},
		{"/lib/systemd/system/tandem.service", 0o644, 0, 0},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != c.mode || int(st.Uid) != c.uid || int(st.Gid) != c.gid {
			t.Errorf("%s: %v %d:%d, want %v %d:%d", c.path, fi.Mode(), st.Uid, st.Gid, c.mode, c.uid, c.gid)
		}
	}

	// systemd accepts the unit (and its binary and user exist now).
	if out, err := exec.Command("systemd-analyze", "verify", "/lib/systemd/system/tandem.service").CombinedOutput(); err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	} else if strings.Contains(string(out), "tandem.service") {
		t.Fatalf("systemd-analyze verify complains about the unit:\n%s", out)
	}

	// The unit's command line, as its user with its capability, on a data
	// directory and ports of this test. The NFS port is below 1024.
	unit, err := os.ReadFile("/lib/systemd/system/tandem.service")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ExecStart=(.*)$`).FindSubmatch(unit)
	if m == nil {
		t.Fatal("no ExecStart in the unit")
	}
	argv := strings.Fields(string(m[1]))
	if !strings.Contains(string(unit), "AmbientCapabilities=CAP_NET_BIND_SERVICE") || !strings.Contains(string(unit), "User=tandem") {
		t.Fatal("the unit does not run as tandem with CAP_NET_BIND_SERVICE")
	}
	// The server runs as tandem: its directory must be reachable by it.
	work, err := os.MkdirTemp("", "tandem-pkg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	if err := os.Chmod(work, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(work, "data")
	run(t, "install", "-d", "-o", "tandem", "-g", "tandem", "-m", "0750", data)
	conf, err := os.ReadFile("/etc/tandem/tandem.toml")
	if err != nil {
		t.Fatal(err)
	}
	nfsPort, smbPort := freePrivilegedPort(t), freePort(t)
	var b strings.Builder
	for _, line := range strings.Split(string(conf), "\n") {
		key, _, _ := strings.Cut(line, "=")
		switch strings.TrimSpace(key) {
		case "data", "listen", "nfs_port", "smb_port", "portmap_port", "metrics_addr":
			continue // ours below
		}
		b.WriteString(line + "\n")
	}
	cfg := fmt.Sprintf("data = %q\nlisten = \"127.0.0.1\"\nnfs_port = %d\nsmb_port = %d\nportmap_port = 0\nmetrics_addr = \"\"\n%s",
		data, nfsPort, smbPort, b.String())
	cfgPath := filepath.Join(work, "tandem.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, a := range argv {
		if a == "/etc/tandem/tandem.toml" {
			argv[i] = cfgPath
		}
	}
	srv := exec.Command("setpriv", append([]string{"--reuid=tandem", "--regid=tandem", "--init-groups",
		"--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service", "--"}, argv...)...)
	stderr, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- srv.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			srv.Process.Kill()
			t.Error("the server did not stop on SIGTERM within 30 s")
		}
	}()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var log strings.Builder
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "service=smb") {
				ready <- ""
			}
		}
		ready <- log.String()
	}()
	select {
	case l := <-ready:
		if l != "" {
			t.Fatalf("the installed server exited:\n%s", l)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the installed server did not come up in 30 s")
	}

	out := run(t, "runuser", "-u", "tandem", "--", "/usr/bin/tandem", "status", "--json", "--data", data)
	var st struct {
		PID       int `json:"pid"`
		Listeners []struct {
			Service, Addr, Proto string
		} `json:"listeners"`
		Shares []string `json:"shares"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("tandem status --json: %v\n%s", err, out)
	}
	want := []string{
		fmt.Sprintf("nfs+mount+nlm+nsm 127.0.0.1:%d tcp,udp", nfsPort),
		fmt.Sprintf("smb 127.0.0.1:%d tcp", smbPort),
	}
	var got []string
	for _, l := range st.Listeners {
		got = append(got, l.Service+" "+l.Addr+" "+l.Proto)
	}
	if st.PID == 0 || strings.Join(got, "|") != strings.Join(want, "|") || strings.Join(st.Shares, ",") != "export" {
		t.Fatalf("status of the installed server: pid %d, listeners %q, shares %v; want listeners %q and share export", st.PID, got, st.Shares, want)
	}
	if owner := fileOwner(t, filepath.Join(data, "meta")); owner != uid {
		t.Fatalf("the data directory's store is owned by uid %d, want tandem's %d", owner, uid)
	}
}

func fileOwner(t *testing.T, p string) int {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}
