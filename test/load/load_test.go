//go:build e2e

// Package load runs a real `tandem serve` under many clients at once and
// under clients that push its limits, and checks that it stays up, bounded
// and fair: a load test of 1,000 connections (half NFS, half SMB) and the
// hostile clients that need a real process.
package load

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/smbclient"
	"github.com/tandemfs/tandem/test/testserver"
)

var tandemBin string

func TestMain(m *testing.M) {
	// 1,000 client connections here and as many in the server (which
	// inherits the limit) need more descriptors than the usual 1024.
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, "open files limit:", err)
		os.Exit(1)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < 4*loadConns {
		fmt.Fprintf(os.Stderr, "raising the open files limit to %d (need %d): %v\n", lim.Cur, 4*loadConns, err)
		os.Exit(1)
	}
	testserver.Main(m, &tandemBin)
}

const (
	loadConns = 1000
	// rssBound is the most resident memory the server may use under the
	// load: the Go heap of 1,000 connections' buffers and state, and the
	// embedded store's caches.
	rssBound = 1 << 30
)

// loadDuration is 60 s; TANDEM_LOAD_SECONDS shortens it for a quick look.
func loadDuration() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("TANDEM_LOAD_SECONDS")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 60 * time.Second
}

// rss reads a process's resident set size.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS")
}

// latencies collects one operation's times from every worker.
type latencies struct {
	mu sync.Mutex
	d  map[string][]time.Duration
}

func (l *latencies) add(op string, ds []time.Duration) {
	l.mu.Lock()
	l.d[op] = append(l.d[op], ds...)
	l.mu.Unlock()
}

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(float64(len(ds))*q))]
}

// TestLoad: 500 NFS and 500 SMB connections, each a client writing,
// reading back and checking its own file and asking attributes, for 60 s
// on loopback. No request may fail, the server's RSS stays under
// rssBound, and the latency of every operation (p50, p99, max) is
// reported.
func TestLoad(t *testing.T) {
	data := t.TempDir()
	p, err := startWithSMB(data)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(30 * time.Second)
	if err := testserver.AddUser(tandemBin, data, "load", "pw-Load1", 1000); err != nil {
		t.Fatal(err)
	}

	var (
		failures  atomic.Int64
		firstErr  atomic.Value
		lat       = &latencies{d: map[string][]time.Duration{}}
		ops       atomic.Int64
		ready     sync.WaitGroup
		done      sync.WaitGroup
		start     = make(chan struct{})
		connectMu = make(chan struct{}, 32) // logons at once, so that none waits past the handshake timeout
	)
	fail := func(err error) {
		failures.Add(1)
		firstErr.CompareAndSwap(nil, err)
	}
	block := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, 4096) }
	timed := func(own map[string][]time.Duration, op string, f func() error) bool {
		t0 := time.Now()
		err := f()
		own[op] = append(own[op], time.Since(t0))
		ops.Add(1)
		if err != nil {
			fail(fmt.Errorf("%s: %w", op, err))
			return false
		}
		return true
	}
	var deadline time.Time

	nfsWorker := func(i int) {
		defer done.Done()
		connectMu <- struct{}{}
		c, err := testserver.Dial(p.NFSAddr)
		var root, fh []byte
		if err == nil {
			c.SetAuthSys(1000, 1000)
			root, err = c.Mount("/export")
		}
		if err == nil {
			fh, err = c.Create(root, "nfs-"+strconv.Itoa(i), 0o644)
		}
		<-connectMu
		ready.Done()
		if err != nil {
			fail(fmt.Errorf("NFS setup: %w", err))
			return
		}
		defer c.Close()
		<-start
		own := map[string][]time.Duration{}
		buf := make([]byte, 4096)
		for n := 0; time.Now().Before(deadline); n++ {
			want := block(n)
			off := uint64(n%16) * 4096
			if !timed(own, "nfs WRITE", func() error { _, err := c.Write(fh, off, want, testserver.Unstable); return err }) {
				break
			}
			if !timed(own, "nfs READ", func() error {
				got, _, err := c.Read(fh, off, buf)
				if err == nil && !bytes.Equal(buf[:got], want) {
					err = fmt.Errorf("read back %d bytes that differ", got)
				}
				return err
			}) {
				break
			}
			if !timed(own, "nfs GETATTR", func() error { _, err := c.GetAttr(fh); return err }) {
				break
			}
			if n%8 == 7 && !timed(own, "nfs COMMIT", func() error { _, err := c.Commit(fh, 0, 0); return err }) {
				break
			}
		}
		for op, ds := range own {
			lat.add(op, ds)
		}
	}
	smbWorker := func(i int) {
		defer done.Done()
		connectMu <- struct{}{}
		c, tree, err := smbclient.Connect(p.SMBAddr, smbclient.Options{Timeout: 60 * time.Second}, "load", "pw-Load1", "export")
		var fid smbclient.FileID
		if err == nil {
			var r *smbclient.CreateResponse
			r, err = tree.Create("smb-"+strconv.Itoa(i), smbclient.CreateRequest{DesiredAccess: smbclient.AccessReadWrite,
				ShareAccess: smbclient.ShareAll, Disposition: smbclient.DispositionOpenIf})
			if err == nil && r.Status != smbclient.StatusSuccess {
				err = fmt.Errorf("CREATE: %v", r.Status)
			}
			if err == nil {
				fid = r.FileID
			}
		}
		<-connectMu
		ready.Done()
		if err != nil {
			fail(fmt.Errorf("SMB setup: %w", err))
			return
		}
		defer c.Close()
		<-start
		own := map[string][]time.Duration{}
		status := func(st smbclient.Status, err error) error {
			if err == nil && st != smbclient.StatusSuccess {
				err = fmt.Errorf("status %v", st)
			}
			return err
		}
		for n := 0; time.Now().Before(deadline); n++ {
			want := block(n)
			off := uint64(n%16) * 4096
			if !timed(own, "smb WRITE", func() error { _, st, err := tree.Write(fid, off, want); return status(st, err) }) {
				break
			}
			if !timed(own, "smb READ", func() error {
				got, st, err := tree.Read(fid, off, 4096)
				if err = status(st, err); err == nil && !bytes.Equal(got, want) {
					err = fmt.Errorf("read back %d bytes that differ", len(got))
				}
				return err
			}) {
				break
			}
			if n%4 == 3 && !timed(own, "smb CREATE+CLOSE", func() error {
				r, err := tree.Create("smb-"+strconv.Itoa(i), smbclient.CreateRequest{DesiredAccess: smbclient.AccessReadData | smbclient.AccessReadAttrs,
					ShareAccess: smbclient.ShareAll, Disposition: smbclient.DispositionOpen})
				if err == nil && r.Status != smbclient.StatusSuccess {
					err = fmt.Errorf("status %v", r.Status)
				}
				if err == nil {
					err = status(tree.Close(r.FileID))
				}
				return err
			}) {
				break
			}
		}
		for op, ds := range own {
			lat.add(op, ds)
		}
	}

	ready.Add(loadConns)
	done.Add(loadConns)
	for i := range loadConns {
		if i%2 == 0 {
			go nfsWorker(i)
		} else {
			go smbWorker(i)
		}
	}
	ready.Wait()
	if n := failures.Load(); n > 0 {
		close(start)
		done.Wait()
		t.Fatalf("%d of %d clients could not connect: %v", n, loadConns, firstErr.Load())
	}
	st, err := p.Status()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("server pid %d: %d clients connected", st.PID, loadConns)

	var maxRSS atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if r, err := rss(p.Pid()); err == nil && r > maxRSS.Load() {
				maxRSS.Store(r)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	d := loadDuration()
	deadline = time.Now().Add(d)
	t0 := time.Now()
	close(start)
	done.Wait()
	elapsed := time.Since(t0)
	close(stopSampling)
	<-sampled

	var report []string
	names := make([]string, 0, len(lat.d))
	for op := range lat.d {
		names = append(names, op)
	}
	slices.Sort(names)
	for _, op := range names {
		ds := lat.d[op]
		slices.Sort(ds)
		report = append(report, fmt.Sprintf("%-18s %8d ops  p50 %9v  p99 %9v  max %9v", op, len(ds),
			quantile(ds, 0.5).Round(time.Microsecond), quantile(ds, 0.99).Round(time.Microsecond), ds[len(ds)-1].Round(time.Microsecond)))
	}
	summary := fmt.Sprintf("load: %d connections (%d NFS, %d SMB) for %v: %d requests (%.0f/s), max server RSS %d MiB (bound %d MiB)\n%s",
		loadConns, loadConns/2, loadConns/2, elapsed.Round(time.Second), ops.Load(), float64(ops.Load())/elapsed.Seconds(),
		maxRSS.Load()>>20, rssBound>>20, strings.Join(report, "\n"))
	t.Log(summary)
	fmt.Println(summary)

	if n := failures.Load(); n > 0 {
		t.Fatalf("%d requests failed; the first: %v", n, firstErr.Load())
	}
	if maxRSS.Load() == 0 || maxRSS.Load() > rssBound {
		t.Fatalf("server RSS peaked at %d MiB, bound %d MiB", maxRSS.Load()>>20, rssBound>>20)
	}
	for _, op := range []string{"nfs WRITE", "nfs READ", "smb WRITE", "smb READ"} {
		if len(lat.d[op]) < loadConns/2 {
			t.Fatalf("%s: %d requests, fewer than one per connection", op, len(lat.d[op]))
		}
	}
	if lines := p.ErrorLines(); len(lines) > 0 {
		t.Fatalf("the server logged errors under load:\n%s", strings.Join(lines, "\n"))
	}
}

// startWithSMB starts a server with SMB on a free port.
func startWithSMB(data string) (*testserver.Process, error) {
	port, err := testserver.FreePort()
	if err != nil {
		return nil, err
	}
	return testserver.Start(tandemBin, data, "--smb-port", strconv.Itoa(port))
}

// TestMaxOpens: a client opening without end is refused
// STATUS_INSUFFICIENT_RESOURCES at the cap of opens of a tree (65536),
// and another client's requests keep succeeding meanwhile.
func TestMaxOpens(t *testing.T) {
	data := t.TempDir()
	p, err := startWithSMB(data)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(30 * time.Second)
	if err := testserver.AddUser(tandemBin, data, "load", "pw-Load1", 1000); err != nil {
		t.Fatal(err)
	}
	c, tree, err := smbclient.Connect(p.SMBAddr, smbclient.Options{}, "load", "pw-Load1", "export")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	good, goodTree, err := smbclient.Connect(p.SMBAddr, smbclient.Options{}, "load", "pw-Load1", "export")
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	rw := smbclient.CreateRequest{DesiredAccess: smbclient.AccessReadWrite, ShareAccess: smbclient.ShareAll, Disposition: smbclient.DispositionOpenIf}
	check := func(when string) {
		r, err := goodTree.Create("good", rw)
		if err != nil || r.Status != smbclient.StatusSuccess {
			t.Fatalf("well-behaved client %s: %v %v", when, r, err)
		}
		if _, st, err := goodTree.Write(r.FileID, 0, []byte("ok")); err != nil || st != smbclient.StatusSuccess {
			t.Fatalf("well-behaved WRITE %s: %v %v", when, st, err)
		}
		if st, err := goodTree.Close(r.FileID); err != nil || st != smbclient.StatusSuccess {
			t.Fatalf("well-behaved CLOSE %s: %v %v", when, st, err)
		}
	}
	opened := 0
	for {
		r, err := tree.Create("many", rw)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != smbclient.StatusSuccess {
			if r.Status != smbclient.Status(0xc000009a) { // STATUS_INSUFFICIENT_RESOURCES
				t.Fatalf("open %d: %v", opened+1, r.Status)
			}
			break
		}
		opened++
		if opened%16384 == 0 {
			check(fmt.Sprintf("after %d opens of another", opened))
		}
		if opened > 1<<17 {
			t.Fatal("no cap on the opens of a tree")
		}
	}
	if opened != 1<<16 {
		t.Fatalf("opened %d, want the cap, 65536", opened)
	}
	check("at the cap")
}
