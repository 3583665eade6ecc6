package vm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/vm/agentproto"
)

// ExecOptions adjust one Exec.  A nil *ExecOptions means the defaults.
type ExecOptions struct {
	Stdin []byte   // the command's standard input (default: empty)
	Env   []string // KEY=VALUE, on top of PATH, HOME=/root, LANG=C.UTF-8
	Dir   string   // working directory in the guest (default /root)
	// Timeout kills the command's process group in the guest and yields
	// RC 124.  Zero: bounded by ctx only (ctx's deadline, if any, is passed
	// on the same way).
	Timeout time.Duration
}

// Result is what a guest command did.
type Result struct {
	RC       int // exit status; 128+N if killed by signal N; 124 on timeout
	Stdout   []byte
	Stderr   []byte
	Elapsed  time.Duration // as measured in the guest
	TimedOut bool
}

// String summarises r for test failure messages.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "rc=%d after %v", r.RC, r.Elapsed.Round(time.Millisecond))
	if r.TimedOut {
		b.WriteString(" (timed out)")
	}
	if len(r.Stdout) > 0 {
		fmt.Fprintf(&b, "\n--- stdout ---\n%s", clip(r.Stdout))
	}
	if len(r.Stderr) > 0 {
		fmt.Fprintf(&b, "\n--- stderr ---\n%s", clip(r.Stderr))
	}
	return b.String()
}

func clip(b []byte) string {
	const max = 8 << 10
	if len(b) > max {
		return fmt.Sprintf("%s\n... (%d more bytes)", b[:max], len(b)-max)
	}
	return string(b)
}

// Exec runs cmd with `bash -c` as root in the guest and returns its exit
// status and output.  The error is about the channel only (the VM died, ctx
// ended); a failing command is a Result with RC != 0.  Calls may run
// concurrently; their commands then run concurrently in the guest.
func (v *VM) Exec(ctx context.Context, cmd string, opts *ExecOptions) (Result, error) {
	if opts == nil {
		opts = &ExecOptions{}
	}
	req := &agentproto.Request{Op: agentproto.OpExec, Cmd: cmd, Stdin: opts.Stdin, Env: opts.Env, Dir: opts.Dir}
	timeout := opts.Timeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); timeout == 0 || left < timeout {
			timeout = left
		}
	}
	if timeout > 0 {
		req.TimeoutMS = max(1, timeout.Milliseconds())
	}
	rep, err := v.ch.call(ctx, req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return Result{}, fmt.Errorf("vm exec %q: %w", abbrev(cmd), err)
		}
		return Result{}, fmt.Errorf("vm exec %q: %w; guest console (end):\n%s", abbrev(cmd), err, v.ConsoleTail(2048))
	}
	if rep.Error != "" {
		return Result{}, fmt.Errorf("vm exec %q: agent: %s", abbrev(cmd), rep.Error)
	}
	return Result{
		RC:       rep.RC,
		Stdout:   rep.Stdout,
		Stderr:   rep.Stderr,
		Elapsed:  time.Duration(rep.ElapsedNS),
		TimedOut: rep.TimedOut,
	}, nil
}

// MustExec runs cmd like Exec with the test's context (bounded by
// timeout) and fails t unless the command exits 0.
func (v *VM) MustExec(t testing.TB, timeout time.Duration, cmd string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	r, err := v.Exec(ctx, cmd, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.RC != 0 {
		t.Fatalf("guest command failed: %s\n%s", abbrev(cmd), r)
	}
	return r
}

func abbrev(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " ..."
	}
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}
