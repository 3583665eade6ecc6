//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/vm"
)

// The NLM tests need two lock clients that the server tells apart, as it
// would two machines, and one guest can be two such clients. The Linux
// NLM client keeps one lock-manager record per server address, and names
// itself in it (caller_name, and my_name to its status monitor) after the
// UTS host name of the process that mounted. So client A mounts the
// export at the server's address as the guest itself, and client B
// mounts it at a second address of the server (otherServerIP, added to
// the VM's link) from a UTS namespace named otherHost. Each has its own
// record in the guest's status monitor, so `sm-notify` run on A's record
// alone is a reboot of client A only; the server's GRANTED callbacks to B
// must leave from the address B mounted, or B's kernel ignores them.
const (
	otherHost     = "tandemclient-b"
	otherServerIP = "10.77.0.3"
)

// inOther wraps a guest command to run in a UTS namespace named otherHost.
func inOther(cmd string) string {
	return "unshare -u sh -c " + shWord("hostname "+otherHost+" && "+cmd)
}

// shWord makes s a single shell word.
func shWord(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// addServerAddr gives the VM's link on the server side a second address,
// otherServerIP, which the server (listening on every address) also
// answers on.
func addServerAddr(t *testing.T, v *vm.VM) {
	t.Helper()
	p, err := v.StartInNS(exec.Command("ip", "addr", "replace", otherServerIP+"/24", "dev", "tap0"))
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if !p.Cmd.ProcessState.Success() {
		t.Fatalf("ip addr replace %s: %v", otherServerIP, p.Cmd.ProcessState)
	}
}

// mountOtherCmd mounts the export at mnt as client B.
func mountOtherCmd(mnt string) string {
	return inOther(fmt.Sprintf("mkdir -p %[1]s && mount -t nfs -o vers=3,proto=tcp,port=%[2]d,mountport=%[2]d,mountproto=tcp,hard %[3]s:%[4]s %[1]s",
		mnt, nfsPort, otherServerIP, exportPath))
}

// smNotifyA announces a reboot of client A alone: sm-notify on a copy of
// the guest monitor's state directory that holds only A's record (the
// server at the VM's host address, with A's name), as the guest would
// after a reboot if A were all it ran.
func smNotifyA(v *vm.VM) string {
	d := "/tmp/nlm-sm-a"
	return fmt.Sprintf("rm -rf %[1]s && mkdir -p %[1]s/sm %[1]s/sm.bak && cp /var/lib/nfs/sm/%[2]s %[1]s/sm/ && "+
		"cp /var/lib/nfs/state %[1]s/state && sm-notify -f -d -P %[1]s 2>&1", d, v.HostIP())
}

// probeOn runs ops in one tandemprobe in the guest, as client A or, with
// other, as client B.
func probeOn(ctx context.Context, v *vm.VM, other bool, ops ...probeOp) ([]probeResult, error) {
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, o := range ops {
		if err := enc.Encode(o); err != nil {
			return nil, err
		}
	}
	cmd := "tandemprobe"
	if other {
		cmd = inOther("exec tandemprobe")
	}
	r, err := v.Exec(ctx, cmd, &vm.ExecOptions{Stdin: in.Bytes()})
	if err != nil {
		return nil, err
	}
	if r.RC != 0 {
		return nil, fmt.Errorf("tandemprobe failed: %s", r)
	}
	var out []probeResult
	dec := json.NewDecoder(bytes.NewReader(r.Stdout))
	for dec.More() {
		var pr probeResult
		if err := dec.Decode(&pr); err != nil {
			return nil, fmt.Errorf("tandemprobe report: %v\n%s", err, r.Stdout)
		}
		out = append(out, pr)
	}
	if len(out) != len(ops) {
		return nil, fmt.Errorf("tandemprobe reported %d of %d operations:\n%s", len(out), len(ops), r)
	}
	return out, nil
}

// probeRun is a probe running in the background.
type probeRun struct {
	done chan struct{}
	res  []probeResult
	err  error
}

func startProbe(v *vm.VM, timeout time.Duration, other bool, ops ...probeOp) *probeRun {
	p := &probeRun{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		p.res, p.err = probeOn(ctx, v, other, ops...)
	}()
	return p
}

// wait returns the probe's results, failing t if it did not run or did
// not end in time.
func (p *probeRun) wait(t *testing.T, timeout time.Duration) []probeResult {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("probe still running after %v", timeout)
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return p.res
}

// Lock operations for probes.
func lockOp(id, fd, cmd, typ string, start, n int64) probeOp {
	return probeOp{"op": "lock", "id": id, "fd": fd, "cmd": cmd, "type": typ, "start": start, "len": n}
}

func openOp(fd, path string) probeOp {
	return probeOp{"op": "open", "fd": fd, "path": path, "flags": "O_RDWR|O_CREAT", "mode": "0644"}
}

// byID finds a probe's result by operation id.
func byID(t *testing.T, rs []probeResult, id string) probeResult {
	t.Helper()
	for _, r := range rs {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no result %q in %v", id, rs)
	return probeResult{}
}

// wantOK and wantErrno check one operation's outcome.
func wantOK(t *testing.T, rs []probeResult, id string) probeResult {
	t.Helper()
	r := byID(t, rs, id)
	if !r.OK {
		t.Fatalf("%s failed: %s", id, r)
	}
	return r
}

func wantErrno(t *testing.T, rs []probeResult, id, errno string) {
	t.Helper()
	if r := byID(t, rs, id); r.OK || r.Errno != errno {
		t.Fatalf("%s: %s, want %s", id, r, errno)
	}
}

// lockEntry is one entry of `tandem locks --json`.
type lockEntry struct {
	File    string `json:"file"`
	Kind    string `json:"kind"`
	Mode    string `json:"mode"`
	Offset  uint64 `json:"offset"`
	Length  uint64 `json:"length"`
	Proto   string `json:"proto"`
	Owner   string `json:"owner"`
	Client  string `json:"client"`
	AgeNS   int64  `json:"age_ns"`
	Waiting bool   `json:"waiting"`
	// Unreclaimed: held before a restart, not yet reclaimed.
	Unreclaimed bool `json:"unreclaimed"`
}

// short is what the tests compare of an entry.
func (e lockEntry) short() string {
	s := fmt.Sprintf("%s %s %d+%d %s", e.Client, e.Mode, e.Offset, e.Length, e.Proto)
	if e.Waiting {
		s += " waiting"
	}
	return s
}

// locks runs `tandem locks --json` against the server, as an operator
// would, and returns its entries in short form.
func (s *tandemServer) locks(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command(s.bin, "locks", "--json", "--data", s.data).Output()
	if err != nil {
		t.Fatalf("tandem locks: %v", err)
	}
	var es []lockEntry
	if err := json.Unmarshal(out, &es); err != nil {
		t.Fatalf("tandem locks: %v\n%s", err, out)
	}
	var short []string
	for _, e := range es {
		short = append(short, e.short())
	}
	return short
}

// wantLocks fails t unless `tandem locks` shows exactly want.
func (s *tandemServer) wantLocks(t *testing.T, want ...string) {
	t.Helper()
	got := s.locks(t)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("tandem locks:\n got %q\nwant %q", got, want)
	}
}

// awaitLocks polls `tandem locks` until it shows exactly want.
func (s *tandemServer) awaitLocks(t *testing.T, timeout time.Duration, want ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := s.locks(t)
		if strings.Join(got, "\n") == strings.Join(want, "\n") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tandem locks after %v:\n got %q\nwant %q\nserver log:\n%s", timeout, got, want, s.lastLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
