//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/testserver"
	"github.com/tandemfs/tandem/test/vm"
)

// Tandem listens in the VM's private namespace, so it can have the
// standard portmapper port; NFS and MOUNT share one port.
const (
	nfsPort     = 12049
	portmapPort = 111
	exportPath  = "/export"
)

var tandemBuild struct {
	once sync.Once
	bin  string
	err  error
}

// tandemBinary builds cmd/tandem once per test binary, into a directory
// that goes away with the VM.
func tandemBinary(t *testing.T, v *vm.VM) string {
	t.Helper()
	tandemBuild.once.Do(func() {
		dir, err := v.TempDir()
		if err != nil {
			tandemBuild.err = err
			return
		}
		tandemBuild.bin, tandemBuild.err = testserver.Build(dir)
	})
	if tandemBuild.err != nil {
		t.Fatal(tandemBuild.err)
	}
	return tandemBuild.bin
}

// tandemServer is one `tandem serve` process in the VM's namespace; a
// restart is a new process on the same data directory.
type tandemServer struct {
	v    *vm.VM
	bin  string
	data string
	logs string   // directory of the per-process logs
	args []string // more flags for `tandem serve`
	n    int
	proc *vm.Process
}

func newTandemServer(t *testing.T, v *vm.VM) *tandemServer {
	s := &tandemServer{v: v, bin: tandemBinary(t, v), data: t.TempDir(), logs: t.TempDir()}
	if d := os.Getenv("TANDEM_E2E_LOG_DIR"); d != "" {
		s.logs = d // kept after the test, for reading
	}
	t.Cleanup(func() {
		if s.proc != nil {
			_ = s.proc.Stop(10 * time.Second)
		}
	})
	return s
}

// start launches the server and waits until the NFS port accepts
// connections.
func (s *tandemServer) start(t *testing.T) {
	t.Helper()
	s.n++
	logPath := filepath.Join(s.logs, "tandem-"+strconv.Itoa(s.n)+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(s.bin, "serve", "--data", s.data, "--listen", "0.0.0.0",
		"--nfs-port", strconv.Itoa(nfsPort), "--portmap-port", strconv.Itoa(portmapPort))
	// TANDEM_TEST_STORES=postgres+s3: PostgreSQL and SeaweedFS run on the
	// host's loopback, which the server in the VM's namespace reaches
	// through forwarders on the same ports of the namespace's loopback.
	stores, err := testserver.StoresArgs(s.data)
	if err != nil {
		t.Fatal(err)
	}
	if stores != nil {
		if err := forwardStores(s.v, stores); err != nil {
			t.Fatal(err)
		}
	}
	cmd.Args = append(cmd.Args, stores...)
	cmd.Args = append(cmd.Args, s.args...)
	if lv := os.Getenv("TANDEM_E2E_LOG_LEVEL"); lv != "" {
		cmd.Args = append(cmd.Args, "--log-level", lv) // debug: every refused SMB request
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	p, err := s.v.StartInNS(cmd)
	if err != nil {
		t.Fatal(err)
	}
	s.proc = p
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.v.WaitListening(ctx, fmt.Sprintf("%s:%d", s.v.HostIP(), nfsPort), p); err != nil {
		t.Fatalf("tandem serve: %v\n%s", err, s.log(s.n))
	}
}

// kill9 ends the server the hard way and reaps it.
func (s *tandemServer) kill9(t *testing.T) {
	t.Helper()
	if err := s.proc.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 tandem: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.proc.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

func (s *tandemServer) lastLog() string { return s.log(s.n) }

// checkLogs fails t if any server process so far logged an error (a
// handler panic, a listener that died).
func (s *tandemServer) checkLogs(t *testing.T) {
	t.Helper()
	for i := 1; i <= s.n; i++ {
		for _, l := range strings.Split(s.log(i), "\n") {
			if strings.Contains(l, "level=ERROR") {
				t.Errorf("server process %d logged: %s", i, l)
			}
		}
	}
}

// log returns the output of the n-th server process (1-based).
func (s *tandemServer) log(n int) string {
	b, err := os.ReadFile(filepath.Join(s.logs, "tandem-"+strconv.Itoa(n)+".log"))
	if err != nil {
		return err.Error()
	}
	const max = 16 << 10
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// nfsMountCmd mounts the export at mnt with the kernel's NFSv3 client,
// with locking on (lockd and statd talk to the server's portmapper).
func nfsMountCmd(v *vm.VM, mnt string, extra string) string {
	opts := fmt.Sprintf("vers=3,proto=tcp,port=%d,mountport=%d,mountproto=tcp,hard", nfsPort, nfsPort)
	if extra != "" {
		opts += "," + extra
	}
	return fmt.Sprintf("mkdir -p %[1]s && mount -t nfs -o %[2]s %[3]s:%[4]s %[1]s", mnt, opts, v.HostIP(), exportPath)
}
