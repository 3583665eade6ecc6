//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/vm"
)

// sh runs a bash script in the guest and returns its stdout; the test fails
// if the script exits non-zero.  Scripts run with `set -euo pipefail`.
func sh(t *testing.T, v *vm.VM, timeout time.Duration, script string) string {
	t.Helper()
	return string(v.MustExec(t, timeout, "set -euo pipefail\n"+script).Stdout)
}

// expectSh runs script like sh and fails the test unless its stdout is
// exactly want.
func expectSh(t *testing.T, v *vm.VM, timeout time.Duration, script, want string) {
	t.Helper()
	if got := sh(t, v, timeout, script); got != want {
		t.Fatalf("guest script output differs\n--- script ---\n%s\n--- got ---\n%s--- want ---\n%s", script, got, want)
	}
}

// probeOp is one tandemprobe operation (see test/guest/tandemprobe).
type probeOp map[string]any

// probeResult is one line of tandemprobe's report.
type probeResult struct {
	I      int      `json:"i"`
	ID     string   `json:"id"`
	Op     string   `json:"op"`
	OK     bool     `json:"ok"`
	Errno  string   `json:"errno"`
	Err    string   `json:"err"`
	T0     int64    `json:"t0"`
	T1     int64    `json:"t1"`
	N      int64    `json:"n"`
	Data   *string  `json:"data"`
	B64    []byte   `json:"b64"`
	Names  []string `json:"names"`
	Pid    int      `json:"pid"`
	Target string   `json:"target"`
	Lock   *struct {
		Type  string `json:"type"`
		Start int64  `json:"start"`
		Len   int64  `json:"len"`
		Pid   int32  `json:"pid"`
	} `json:"lock"`
	Stat *struct {
		Type  string `json:"type"`
		Mode  string `json:"mode"`
		Size  int64  `json:"size"`
		Nlink uint64 `json:"nlink"`
		UID   uint32 `json:"uid"`
		GID   uint32 `json:"gid"`
		Ino   uint64 `json:"ino"`
		Mtime int64  `json:"mtime_ns"`
	} `json:"stat"`
}

func (r probeResult) String() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// probe runs ops in one tandemprobe process in the guest and returns one
// result per operation.  It fails the test only if the probe itself could
// not run; each operation's outcome is for the caller to check.
func probe(ctx context.Context, t *testing.T, v *vm.VM, ops ...probeOp) []probeResult {
	t.Helper()
	res, err := runProbe(ctx, v, ops...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// runProbe is probe for goroutines: it returns errors instead of failing t.
func runProbe(ctx context.Context, v *vm.VM, ops ...probeOp) ([]probeResult, error) {
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, o := range ops {
		if err := enc.Encode(o); err != nil {
			return nil, err
		}
	}
	r, err := v.Exec(ctx, "tandemprobe", &vm.ExecOptions{Stdin: in.Bytes()})
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

// mustProbe is probe with a timeout that also insists every operation
// succeeded.
func mustProbe(t *testing.T, v *vm.VM, timeout time.Duration, ops ...probeOp) []probeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res := probe(ctx, t, v, ops...)
	for i, r := range res {
		if !r.OK {
			b, _ := json.Marshal(ops[i])
			t.Fatalf("probe operation %s failed: %s", b, r)
		}
	}
	return res
}

// lines joins its arguments as newline-terminated lines: expected output.
func lines(ls ...string) string {
	if len(ls) == 0 {
		return ""
	}
	return strings.Join(ls, "\n") + "\n"
}

func fmtBytes(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
