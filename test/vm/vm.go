package vm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tandemfs/tandem/test/vm/agentproto"
)

// Options configure Start.  The zero value is usable.
type Options struct {
	// CacheDir holds built images (default DefaultCacheDir()).
	CacheDir string
	// ShareDir is the host directory seen as /host in the guest.  Empty:
	// a fresh directory, removed by Close.
	ShareDir string
	// Tools are import paths of main packages in this module, built static
	// for the guest and put in /opt/tandem, which is on the PATH of every
	// Exec.  The agent is always there.
	Tools []string
	// MemoryMB is the guest's RAM (default 512).
	MemoryMB int
	// Hostname of the guest (default "tandemclient"): the NLM caller_name
	// and NSM name of its NFS client.
	Hostname string
	// BootTimeout bounds Start from QEMU's launch to the agent's answer
	// (default 3 minutes: a boot takes about 10 s under TCG, more on a
	// loaded host).
	BootTimeout time.Duration
	// Logf receives progress lines (image build, boot time).
	Logf func(format string, args ...any)
}

// The link between the namespace and the guest.
var (
	hostPrefix = netip.MustParsePrefix("10.77.0.1/24")
	guestAddr  = netip.MustParseAddr("10.77.0.2")
)

// GuestShare is where ShareDir appears inside the guest.
const GuestShare = "/host"

// GuestTools is where Options.Tools (and the agent) are inside the guest.
const GuestTools = "/opt/tandem"

const agentPackage = "github.com/tandemfs/tandem/test/guest/vmagent"

// VM is a running client VM.  Its methods are safe for concurrent use.
type VM struct {
	opts     Options
	state    string // per-VM scratch directory, removed by Close
	share    string
	ns       *nsThread
	qemu     *exec.Cmd
	qemuDone chan struct{}
	ch       *channel
	boot     time.Duration
	bootLog  string

	mu     sync.Mutex
	procs  []*Process
	closed bool
}

// Start builds (or finds) the image, boots a VM and waits until its agent
// answers.  On error nothing is left running; the error carries the end of
// the guest console when the guest got that far.
func Start(ctx context.Context, opts Options) (_ *VM, err error) {
	if opts.MemoryMB == 0 {
		opts.MemoryMB = 512
	}
	if opts.Hostname == "" {
		opts.Hostname = "tandemclient"
	}
	if opts.BootTimeout == 0 {
		opts.BootTimeout = 3 * time.Minute
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if err := CheckHost(opts); err != nil {
		return nil, err
	}
	img, err := EnsureImage(ctx, opts.CacheDir, opts.Logf)
	if err != nil {
		return nil, err
	}
	removeStaleState()

	v := &VM{opts: opts, qemuDone: make(chan struct{})}
	defer func() {
		if err != nil {
			v.Close()
		}
	}()
	v.state, err = os.MkdirTemp("", stateDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, err
	}
	tools := filepath.Join(v.state, "tools")
	if err := buildTools(ctx, tools, append([]string{agentPackage}, opts.Tools...)); err != nil {
		return nil, err
	}
	v.share = opts.ShareDir
	if v.share == "" {
		v.share = filepath.Join(v.state, "share")
	}
	if err := os.MkdirAll(v.share, 0o777); err != nil {
		return nil, err
	}
	if v.ns, err = newNSThread(); err != nil {
		return nil, err
	}
	if err := v.launch(img, tools); err != nil {
		return nil, err
	}
	if err := v.waitReady(ctx); err != nil {
		return nil, err
	}
	opts.Logf("vm: guest ready in %.1fs (%s)", v.boot.Seconds(), strings.ReplaceAll(strings.TrimSpace(v.bootLog), "\n", ", "))
	return v, nil
}

func (v *VM) launch(img *Image, tools string) error {
	cmdline := strings.Join([]string{
		"console=ttyS0", "8250.nr_uarts=1", "quiet", "loglevel=4", "panic=-1",
		// crypto self-tests cost seconds under TCG, mostly when cifs loads
		// its algorithms
		"cryptomgr.notests",
		"tandem.ip=" + netip.PrefixFrom(guestAddr, hostPrefix.Bits()).String(),
		"tandem.gw=" + hostPrefix.Addr().String(),
		"tandem.hostname=" + v.opts.Hostname,
	}, " ")
	// q35 with one vCPU: a second vCPU makes TCG slower on a two-core host,
	// and microvm's TSC calibration is unreliable under TCG.  KVM is not
	// used: where it exists on CI hosts here, it is a nested PVM hypervisor
	// that cannot run a stock kernel.
	args := []string{
		"-M", "q35", "-accel", "tcg", "-m", strconv.Itoa(v.opts.MemoryMB), "-smp", "1",
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-kernel", img.Kernel, "-initrd", img.Initrd, "-append", cmdline,
		"-serial", "file:" + v.consolePath(),
		"-drive", "id=root,file=" + img.Rootfs + ",format=raw,if=none,snapshot=on,cache=unsafe",
		"-device", "virtio-blk-pci,drive=root",
		// the tap's descriptor is ExtraFiles[0], fd 3 in QEMU
		"-netdev", "tap,id=net0,fd=3",
		"-device", "virtio-net-pci,netdev=net0,mac=52:54:00:77:00:02,romfile=",
		"-fsdev", "local,id=share,path=" + v.share + ",security_model=none",
		"-device", "virtio-9p-pci,fsdev=share,mount_tag=host",
		"-fsdev", "local,id=tools,path=" + tools + ",security_model=none,readonly=on",
		"-device", "virtio-9p-pci,fsdev=tools,mount_tag=tools",
		"-device", "virtio-serial-pci",
		"-chardev", "socket,id=agent,path=" + v.agentSock() + ",server=on,wait=off",
		"-device", "virtserialport,chardev=agent,name=" + agentproto.PortName,
	}
	qlog, err := os.Create(filepath.Join(v.state, "qemu.log"))
	if err != nil {
		return err
	}
	defer qlog.Close()
	return v.ns.do(func() error {
		tap, err := makeTap("tap0", hostPrefix)
		if err != nil {
			return err
		}
		defer tap.Close() // QEMU has its own copy
		cmd := exec.Command("qemu-system-x86_64", args...)
		cmd.Stdout, cmd.Stderr = qlog, qlog
		cmd.ExtraFiles = []*os.File{tap}
		// snapshot=on keeps the guest's writes in a temporary file under
		// TMPDIR: in the state directory, it cannot outlive the VM.
		cmd.Env = append(os.Environ(), "TMPDIR="+v.state)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start qemu: %w", err)
		}
		v.qemu = cmd
		go func() {
			_ = cmd.Wait()
			close(v.qemuDone)
		}()
		return nil
	})
}

func (v *VM) waitReady(ctx context.Context) error {
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(ctx, v.opts.BootTimeout)
	defer cancel()
	failed := func(what string) error {
		return fmt.Errorf("vm: %s; qemu log:\n%s\nguest console (end):\n%s",
			what, tailFile(filepath.Join(v.state, "qemu.log"), 2048), v.ConsoleTail(4096))
	}
	var conn net.Conn
	for conn == nil {
		c, err := net.Dial("unix", v.agentSock())
		if err == nil {
			conn = c
			break
		}
		select {
		case <-v.qemuDone:
			return failed("QEMU exited during start: " + v.qemu.ProcessState.String())
		case <-ctx.Done():
			return failed("no agent socket: " + ctx.Err().Error())
		case <-time.After(20 * time.Millisecond):
		}
	}
	v.ch = newChannel(conn)
	type result struct {
		rep *agentproto.Reply
		err error
	}
	res := make(chan result, 1)
	go func() {
		rep, err := v.ch.call(ctx, &agentproto.Request{Op: agentproto.OpPing})
		res <- result{rep, err}
	}()
	select {
	case r := <-res:
		if r.err != nil {
			return failed("guest agent did not answer: " + r.err.Error())
		}
		v.boot = time.Since(t0)
		v.bootLog = string(r.rep.Stdout)
		return nil
	case <-v.qemuDone:
		return failed("QEMU exited during boot: " + v.qemu.ProcessState.String())
	}
}

// BootTime is the time from QEMU's launch to the agent's first answer.
func (v *VM) BootTime() time.Duration { return v.boot }

// BootMilestones are the guest's boot steps with their uptime, as the
// guest's init recorded them ("init 2.41", ..., "ready 7.90").
func (v *VM) BootMilestones() []string {
	return strings.Fields(strings.ReplaceAll(v.bootLog, " ", "="))
}

// HostIP is the namespace's address on the link to the guest: servers
// listen there (or on 0.0.0.0 inside the namespace), clients in the guest
// mount from it.
func (v *VM) HostIP() string { return hostPrefix.Addr().String() }

// GuestIP is the guest's address, for callbacks from servers.
func (v *VM) GuestIP() string { return guestAddr.String() }

// Hostname is the guest's host name.
func (v *VM) Hostname() string { return v.opts.Hostname }

// ShareDir is the host directory that the guest sees as GuestShare.
// Files the guest creates there are owned by root on the host.
func (v *VM) ShareDir() string { return v.share }

// TempDir returns a new directory on the host for the test's own files
// (a server binary, its data).  Close removes it, and so does the next
// Start if the test process was killed before its Close.
func (v *VM) TempDir() (string, error) {
	return os.MkdirTemp(v.state, "tmp-")
}

// QEMUPid is the process ID of QEMU; /proc/PID/ns/net names the VM's
// network namespace for nsenter when debugging by hand.
func (v *VM) QEMUPid() int { return v.qemu.Process.Pid }

func (v *VM) consolePath() string { return filepath.Join(v.state, "console.log") }
func (v *VM) agentSock() string   { return filepath.Join(v.state, "agent.sock") }

// ConsoleTail returns up to the last n bytes of the guest's serial console.
func (v *VM) ConsoleTail(n int) string { return tailFile(v.consolePath(), n) }

// Close stops the processes started with StartInNS, then QEMU, and removes
// the namespace and the scratch directory (and ShareDir if Start made it).
// It is safe to call more than once.
func (v *VM) Close() error {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return nil
	}
	v.closed = true
	procs := v.procs
	v.mu.Unlock()

	var errs []error
	for i := len(procs) - 1; i >= 0; i-- {
		if err := procs[i].Stop(5 * time.Second); err != nil && !errors.Is(err, errExited) {
			errs = append(errs, err)
		}
	}
	if v.qemu != nil && v.qemu.Process != nil {
		// SIGTERM lets QEMU delete its snapshot overlay; SIGKILL if it
		// hangs.
		_ = v.qemu.Process.Signal(syscall.SIGTERM)
		select {
		case <-v.qemuDone:
		case <-time.After(5 * time.Second):
			_ = v.qemu.Process.Kill()
			<-v.qemuDone
		}
	}
	if v.ch != nil {
		v.ch.close()
	}
	if v.ns != nil {
		v.ns.stop()
	}
	if v.state != "" && os.Getenv("TANDEM_VM_KEEP") == "" {
		if err := os.RemoveAll(v.state); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

const stateDirPrefix = "tandem-vm-"

// removeStaleState deletes the scratch directories of VMs whose test
// process is gone (killed before its Close ran).  The directory name
// carries the owner's PID.
func removeStaleState() {
	if os.Getenv("TANDEM_VM_KEEP") != "" {
		return
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), stateDirPrefix+"*-*"))
	for _, d := range dirs {
		rest := strings.TrimPrefix(filepath.Base(d), stateDirPrefix)
		pid, err := strconv.Atoi(rest[:strings.IndexByte(rest, '-')])
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = os.RemoveAll(d)
		}
	}
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
