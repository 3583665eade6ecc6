package vm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Process is a host process started in the VM's network namespace: the
// server under test, or a peer server for a self-check.
type Process struct {
	Cmd  *exec.Cmd
	done chan struct{}

	mu      sync.Mutex
	stopped bool
}

var errExited = errors.New("process already exited")

// StartInNS starts cmd in the VM's network namespace (the rest of the host
// is as usual: files, /tmp, mount points).  It sees the guest at GuestIP
// and is reached from the guest at HostIP.  The process gets a session of
// its own, so signals it sends to "its" process group (smbd does on
// shutdown) reach only its own children, and it gets SIGKILL if the test
// process dies.  Close stops it if the test has not.  Do not call
// cmd.Wait; use the Process's methods.
func (v *VM) StartInNS(cmd *exec.Cmd) (*Process, error) {
	v.mu.Lock()
	closed := v.closed
	v.mu.Unlock()
	if closed {
		return nil, errors.New("vm: closed")
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	// The parent-death signal follows the thread that forked: the
	// namespace thread, which lives until Close.
	if err := v.ns.do(cmd.Start); err != nil {
		return nil, err
	}
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	v.mu.Lock()
	v.procs = append(v.procs, p)
	v.mu.Unlock()
	return p, nil
}

// Pid is the process ID (also its process group and session ID).
func (p *Process) Pid() int { return p.Cmd.Process.Pid }

// Done is closed when the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process only (SIGKILL for a crash test).
func (p *Process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return errExited
	}
	return syscall.Kill(p.Pid(), sig)
}

// Wait waits for the process to exit (or for ctx) and returns its state.
func (p *Process) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stop sends SIGTERM to the process group, waits up to grace, then sends
// SIGKILL to the group, and reaps the process.
func (p *Process) Stop(grace time.Duration) error {
	p.mu.Lock()
	already := p.stopped
	p.stopped = true
	p.mu.Unlock()
	if already || p.Exited() {
		<-p.done
		// the leader is gone; children it left in its group go too
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
		return nil
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
		<-p.done
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	return nil
}

// String describes the process for messages.
func (p *Process) String() string {
	state := "running"
	if p.Exited() {
		state = p.Cmd.ProcessState.String()
	}
	return fmt.Sprintf("%s (pid %d, %s)", p.Cmd.Path, p.Pid(), state)
}

// InNS runs f on a thread in the VM's network namespace.  Sockets f creates
// (net.Listen, net.Dial) stay in that namespace after f returns.
func (v *VM) InNS(f func() error) error { return v.ns.do(f) }

// WaitListening dials addr (host:port, TCP) from the VM's namespace until a
// connection succeeds, the process exits (if p is not nil), or ctx ends.
func (v *VM) WaitListening(ctx context.Context, addr string, p *Process) error {
	for {
		err := v.InNS(func() error {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil {
			return nil
		}
		var exited <-chan struct{}
		if p != nil {
			exited = p.done
		}
		select {
		case <-exited:
			return fmt.Errorf("%s exited before listening on %s", p, addr)
		case <-ctx.Done():
			return fmt.Errorf("nothing listening on %s: %v (%w)", addr, err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
