//go:build e2e

package vm

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBootExecShare boots a VM and checks the harness's own promises: exit
// statuses and output come back separately and exactly, stdin and env get
// through, timeouts and cancellation kill the guest command, the share is
// the same directory on both sides, and a host process in the namespace
// reaches the guest.
func TestBootExecShare(t *testing.T) {
	ctx := context.Background()
	v, err := Start(ctx, Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	t.Logf("boot %v, milestones %v", v.BootTime(), v.BootMilestones())

	r, err := v.Exec(ctx, `printf out; printf err >&2; exit 3`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.RC != 3 || string(r.Stdout) != "out" || string(r.Stderr) != "err" {
		t.Fatalf("got %s", r)
	}

	r, err = v.Exec(ctx, `cat; echo "$X"; pwd`, &ExecOptions{Stdin: []byte("in\n"), Env: []string{"X=y z"}, Dir: "/tmp"})
	if err != nil {
		t.Fatal(err)
	}
	if r.RC != 0 || string(r.Stdout) != "in\ny z\n/tmp\n" {
		t.Fatalf("got %s", r)
	}

	r, err = v.Exec(ctx, `sleep 30`, &ExecOptions{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.RC != 124 || !r.TimedOut {
		t.Fatalf("timeout: got %s", r)
	}

	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(300 * time.Millisecond); cancel() }()
	if _, err := v.Exec(cctx, `sleep 30`, nil); err == nil {
		t.Fatal("cancelled exec returned no error")
	}
	// the timed-out and the cancelled sleeps are gone from the guest
	r = v.MustExec(t, 10*time.Second, `pgrep -cfx 'sleep 30' || true`)
	if got := strings.TrimSpace(string(r.Stdout)); got != "0" {
		t.Fatalf("sleep processes left after timeout and cancel: %s", got)
	}

	if err := os.WriteFile(filepath.Join(v.ShareDir(), "from-host"), []byte("h\x00st"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = v.MustExec(t, 10*time.Second, `od -An -c /host/from-host | tr -s ' '; printf 'g\x01' > /host/from-guest`)
	if got := string(r.Stdout); got != " h \\0 s t\n" {
		t.Fatalf("guest read %q", got)
	}
	b, err := os.ReadFile(filepath.Join(v.ShareDir(), "from-guest"))
	if err != nil || string(b) != "g\x01" {
		t.Fatalf("host read %q, %v", b, err)
	}

	// a listener in the namespace is reachable from the guest at HostIP
	var ln net.Listener
	if err := v.InNS(func() (err error) {
		ln, err = net.Listen("tcp", v.HostIP()+":0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			fmt.Fprintf(c, "hello %s\n", c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	r = v.MustExec(t, 20*time.Second, fmt.Sprintf(`exec 3<>/dev/tcp/%s/%d; cat <&3`, v.HostIP(), port))
	if want := "hello " + v.GuestIP() + "\n"; string(r.Stdout) != want {
		t.Fatalf("guest -> namespace: got %q, want %q", r.Stdout, want)
	}

	// a process started in the namespace sees the same network
	cmd := exec.Command("cat", "/proc/net/dev")
	out := new(strings.Builder)
	cmd.Stdout = out
	p, err := v.StartInNS(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "tap0:") {
		t.Fatalf("namespace process sees no tap0:\n%s", out)
	}
}
