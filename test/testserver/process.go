package testserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Process is a running `tandem serve`.
type Process struct {
	cmd  *exec.Cmd
	bin  string
	Data string
	// NFSAddr is host:port of the NFS and MOUNT listener (one port for both).
	NFSAddr string
	// Port is NFSAddr's port.
	Port int
	// SMBAddr is host:port of the SMB listener.
	SMBAddr string

	mu    sync.Mutex
	log   strings.Builder
	ready chan struct{}
	done  chan struct{}
	err   error // exit status, valid once done is closed
}

// listenLine finds the NFS listener's address in the server's log.
var listenLine = regexp.MustCompile(`msg=listening service=nfs\+mount addr=(\S+)`)

// smbListenLine finds the SMB listener's address in the server's log.
var smbListenLine = regexp.MustCompile(`msg=listening service=smb addr=(\S+)`)

// StartTimeout bounds how long Start waits for the server to log "ready".
var StartTimeout = 60 * time.Second

// Start runs `bin serve` on the data directory with the NFS port, the
// portmapper, SMB and metrics chosen so that tests never collide with
// each other or with system services, plus any extra flags, and returns
// once the server has logged that it is ready.
func Start(bin, data string, extra ...string) (*Process, error) {
	args := []string{"serve", "--data", data, "--listen", "127.0.0.1", "--nfs-port", "0",
		"--portmap-port", "0", "--smb-port", "0", "--metrics-addr", "", "--log-level", "info"}
	sa, err := StoresArgs(data)
	if err != nil {
		return nil, err
	}
	args = append(args, sa...)
	args = append(args, extra...)
	p := &Process{bin: bin, Data: data, ready: make(chan struct{}), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p.cmd.Stdout = p.cmd.Stderr
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	scanned := make(chan struct{})
	go p.scan(stderr, scanned)
	go func() {
		<-scanned // Wait must not run before the pipe is drained
		err := p.cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	select {
	case <-p.ready:
	case <-p.done:
		return nil, fmt.Errorf("tandem serve exited before it was ready (%v); log:\n%s", p.ExitErr(), p.Log())
	case <-time.After(StartTimeout):
		p.Kill()
		return nil, fmt.Errorf("tandem serve not ready after %v; log:\n%s", StartTimeout, p.Log())
	}
	if p.NFSAddr == "" {
		p.Kill()
		return nil, fmt.Errorf("tandem serve did not log its NFS address; log:\n%s", p.Log())
	}
	if sa != nil && !strings.Contains(p.Log(), "meta=postgres content=s3") {
		p.Kill()
		return nil, fmt.Errorf("tandem serve did not open PostgreSQL and S3 as configured; log:\n%s", p.Log())
	}
	return p, nil
}

func (p *Process) scan(r io.Reader, scanned chan<- struct{}) {
	defer close(scanned)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	isReady := false
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.log.WriteString(line)
		p.log.WriteByte('\n')
		if m := listenLine.FindStringSubmatch(line); m != nil && p.NFSAddr == "" {
			p.NFSAddr = m[1]
			if i := strings.LastIndexByte(m[1], ':'); i >= 0 {
				p.Port, _ = strconv.Atoi(m[1][i+1:])
			}
		}
		if m := smbListenLine.FindStringSubmatch(line); m != nil && p.SMBAddr == "" {
			p.SMBAddr = m[1]
		}
		p.mu.Unlock()
		if !isReady && strings.Contains(line, "msg=ready") {
			isReady = true
			close(p.ready)
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

// Log returns everything the server has written so far.
func (p *Process) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// ErrorLines returns the log lines at level ERROR.
func (p *Process) ErrorLines() []string {
	var out []string
	for _, l := range strings.Split(p.Log(), "\n") {
		if strings.Contains(l, "level=ERROR") {
			out = append(out, l)
		}
	}
	return out
}

// Pid is the server's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Kill sends SIGKILL and waits for the process to be gone: nothing the
// server has not already made durable survives.
func (p *Process) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop asks the server to shut down cleanly (SIGTERM) and returns its exit
// error, nil for a clean exit. A server that does not exit within the
// timeout is killed and that is an error.
func (p *Process) Stop(timeout time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.ExitErr()
	case <-time.After(timeout):
		p.Kill()
		return errors.New("tandem serve did not exit after SIGTERM; killed")
	}
}

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// ExitErr is the process's exit status once it has exited.
func (p *Process) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// FreePort returns a TCP port of 127.0.0.1 that was free a moment ago, for
// a listener whose port 0 means "off" (SMB, metrics).
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
