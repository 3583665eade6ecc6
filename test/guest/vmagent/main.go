// Command vmagent is the command agent inside the test client VM.
//
// The guest's init starts it from the read-only tools share (/opt/tandem).
// It opens the virtio-serial port named agentproto.PortName and serves the
// requests of package vm on the host: each OpExec runs `/bin/bash -c CMD` as
// root in a process group of its own, concurrently with the others, and
// answers with the exit status and the captured output.  See package
// agentproto for the wire format.
//
// It is a static Go binary (CGO_ENABLED=0) rather than a script so that it
// starts in milliseconds under TCG emulation and needs nothing in the image.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tandemfs/tandem/test/vm/agentproto"
)

func main() {
	log.SetFlags(log.Lmicroseconds)
	log.SetPrefix("vmagent: ")
	path, err := findPort(agentproto.PortName, 10*time.Second)
	if err != nil {
		log.Fatal(err)
	}
	// A blocking descriptor: os.File then issues plain read(2)/write(2),
	// whose semantics on a virtio port are simple (read returns 0 while the
	// host side is not connected, write waits until it is).
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		log.Fatalf("open %s: %v", path, err)
	}
	a := &agent{port: os.NewFile(uintptr(fd), path), running: map[uint64]*exec.Cmd{}}
	a.serve()
}

// findPort returns the /dev node of the virtio-serial port called name.
func findPort(name string, wait time.Duration) (string, error) {
	deadline := time.Now().Add(wait)
	for {
		dirs, _ := filepath.Glob("/sys/class/virtio-ports/vport*")
		for _, d := range dirs {
			b, err := os.ReadFile(filepath.Join(d, "name"))
			if err == nil && strings.TrimSpace(string(b)) == name {
				dev := "/dev/" + filepath.Base(d)
				if _, err := os.Stat(dev); err == nil {
					return dev, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no virtio port named %q", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type agent struct {
	port *os.File
	wmu  sync.Mutex // one reply line at a time

	mu      sync.Mutex
	running map[uint64]*exec.Cmd // OpExec requests by ID, for OpCancel
	cancels map[uint64]bool
}

func (a *agent) serve() {
	r := bufio.NewReaderSize(a.port, 1<<20)
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		switch {
		case err == nil:
			a.dispatch(line)
			line = line[:0]
		case errors.Is(err, bufio.ErrBufferFull):
			// a long line (large stdin): keep collecting
		case errors.Is(err, io.EOF):
			// The host side is not connected (yet, or any more).
			time.Sleep(50 * time.Millisecond)
		default:
			log.Printf("read: %v", err)
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func (a *agent) dispatch(line []byte) {
	var req agentproto.Request
	if err := json.Unmarshal(bytes.TrimSpace(line), &req); err != nil {
		log.Printf("bad request: %v", err)
		return
	}
	switch req.Op {
	case agentproto.OpPing:
		go a.ping(req.ID)
	case agentproto.OpExec:
		go a.exec(&req)
	case agentproto.OpCancel:
		a.cancel(req.Target)
	default:
		a.send(&agentproto.Reply{ID: req.ID, RC: 255, Error: "unknown op " + req.Op})
	}
}

func (a *agent) send(rep *agentproto.Reply) {
	b, err := json.Marshal(rep)
	if err != nil {
		log.Printf("marshal: %v", err)
		return
	}
	b = append(b, '\n')
	a.wmu.Lock()
	defer a.wmu.Unlock()
	if _, err := a.port.Write(b); err != nil {
		log.Printf("write reply %d: %v", rep.ID, err)
	}
}

func (a *agent) ping(id uint64) {
	for {
		if _, err := os.Stat(agentproto.ReadyFile); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	boot, _ := os.ReadFile(agentproto.BootFile)
	a.send(&agentproto.Reply{ID: id, Stdout: boot})
}

var baseEnv = []string{
	"PATH=/opt/tandem:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	"LANG=C.UTF-8",
	"TERM=dumb",
}

func (a *agent) exec(req *agentproto.Request) {
	start := time.Now()
	cmd := exec.Command("/bin/bash", "-c", req.Cmd)
	cmd.Env = append(append([]string(nil), baseEnv...), req.Env...)
	cmd.Dir = req.Dir
	if cmd.Dir == "" {
		cmd.Dir = "/root"
	}
	if req.Stdin != nil {
		cmd.Stdin = bytes.NewReader(req.Stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A background job that keeps the output pipes open must not hold the
	// reply forever once the command itself has exited.
	cmd.WaitDelay = 2 * time.Second
	rep := &agentproto.Reply{ID: req.ID}
	if err := cmd.Start(); err != nil {
		rep.RC, rep.Error = 127, err.Error()
		a.send(rep)
		return
	}
	a.mu.Lock()
	a.running[req.ID] = cmd
	a.mu.Unlock()

	var timedOut atomic.Bool
	var timer *time.Timer
	if req.TimeoutMS > 0 {
		timer = time.AfterFunc(time.Duration(req.TimeoutMS)*time.Millisecond, func() {
			timedOut.Store(true)
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		})
	}
	err := cmd.Wait()
	if timer != nil {
		timer.Stop()
	}
	a.mu.Lock()
	delete(a.running, req.ID)
	rep.Canceled = a.cancels[req.ID]
	delete(a.cancels, req.ID)
	a.mu.Unlock()

	rep.Stdout, rep.Stderr = stdout.Bytes(), stderr.Bytes()
	rep.ElapsedNS = int64(time.Since(start))
	rep.RC = exitStatus(cmd.ProcessState)
	if err != nil && cmd.ProcessState == nil {
		rep.RC, rep.Error = 255, err.Error()
	}
	if timedOut.Load() {
		rep.RC, rep.TimedOut = 124, true
	}
	a.send(rep)
}

func (a *agent) cancel(id uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cmd := a.running[id]
	if cmd == nil {
		return
	}
	if a.cancels == nil {
		a.cancels = map[uint64]bool{}
	}
	a.cancels[id] = true
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

func exitStatus(ps *os.ProcessState) int {
	if ps == nil {
		return 255
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
