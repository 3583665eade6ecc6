//go:build e2e

package libnfs

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/testserver"
)

var tandemBin string

func TestMain(m *testing.M) { testserver.Main(m, &tandemBin) }

// tools finds the libnfs utilities or fails the test with how to get them.
func tools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"nfs-cp", "nfs-cat", "nfs-ls"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (%v): install libnfs-utils (apt-get install -y libnfs-utils, or ./test/install-deps.sh as root)", tool, err)
		}
	}
}

func startServer(t *testing.T) *testserver.Process {
	t.Helper()
	p, err := testserver.Start(tandemBin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Stop(30 * time.Second); err != nil {
			t.Errorf("server did not stop cleanly: %v", err)
		}
		if errs := p.ErrorLines(); len(errs) > 0 {
			t.Errorf("server logged errors:\n%s", strings.Join(errs, "\n"))
		}
		if t.Failed() {
			t.Logf("server log:\n%s", p.Log())
		}
	})
	return p
}

// url is the libnfs URL of path in the export; both ports are the
// server's one NFS+MOUNT port, so no portmapper is involved.
func url(p *testserver.Process, path string) string {
	return fmt.Sprintf("nfs://127.0.0.1/export/%s?nfsport=%d&mountport=%d", path, p.Port, p.Port)
}

// run runs a libnfs tool and fails the test with its output if it fails.
func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\nstderr: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

func sha256File(t *testing.T, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return [32]byte(h.Sum(nil))
}

// randomFile writes size pseudo-random bytes to path.
func randomFile(t *testing.T, path string, size int64, seed uint64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)})
	if _, err := io.CopyN(f, r, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestCopyLargeFile copies 100 MiB of random bytes in with nfs-cp, reads
// them back with nfs-cat and with nfs-cp, and compares digests.
func TestCopyLargeFile(t *testing.T) {
	tools(t)
	p := startServer(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	const size = 100 << 20
	randomFile(t, src, size, uint64(time.Now().UnixNano()))
	want := sha256File(t, src)

	t0 := time.Now()
	run(t, "nfs-cp", src, url(p, "big.bin"))
	t.Logf("nfs-cp in: %v", time.Since(t0).Round(time.Millisecond))

	t0 = time.Now()
	cmd := exec.Command("nfs-cat", url(p, "big.bin"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, copyErr := io.Copy(h, out)
	if err := cmd.Wait(); err != nil || copyErr != nil {
		t.Fatalf("nfs-cat: %v %v\nstderr: %s", err, copyErr, stderr.String())
	}
	t.Logf("nfs-cat: %v", time.Since(t0).Round(time.Millisecond))
	if n != size || [32]byte(h.Sum(nil)) != want {
		t.Errorf("nfs-cat returned %d bytes with sha256 %x; wrote %d bytes with sha256 %x", n, h.Sum(nil), size, want)
	}

	back := filepath.Join(dir, "back")
	t0 = time.Now()
	run(t, "nfs-cp", url(p, "big.bin"), back)
	t.Logf("nfs-cp out: %v", time.Since(t0).Round(time.Millisecond))
	if got := sha256File(t, back); got != want {
		t.Errorf("nfs-cp out: sha256 %x, want %x", got, want)
	}
}

// TestManyFiles copies 2,000 files in with concurrent nfs-cp processes and
// checks that nfs-ls lists exactly them, and that a sample reads back.
func TestManyFiles(t *testing.T) {
	tools(t)
	p := startServer(t)
	dir := t.TempDir()
	const n = 2000
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("small-%04d.txt", i)
		if err := os.WriteFile(filepath.Join(dir, names[i]), []byte(names[i]+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	t0 := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	const workers = 4
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				out, err := exec.Command("nfs-cp", filepath.Join(dir, names[i]), url(p, names[i])).CombinedOutput()
				if err != nil {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("nfs-cp %s: %v: %s", names[i], err, out))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d nfs-cp processes (%d at a time): %v", n, workers, time.Since(t0).Round(time.Millisecond))
	if len(failures) > 0 {
		t.Fatalf("%d of %d copies failed; first: %s", len(failures), n, failures[0])
	}

	var listed []string
	sc := bufio.NewScanner(bytes.NewReader(run(t, "nfs-ls", url(p, ""))))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		name := f[len(f)-1]
		if name == "." || name == ".." {
			continue
		}
		listed = append(listed, name)
	}
	slices.Sort(listed)
	if !slices.Equal(listed, names) {
		t.Errorf("nfs-ls lists %d names, want the %d copied; first listed %q", len(listed), n, first(listed, 3))
		seen := map[string]int{}
		for _, l := range listed {
			seen[l]++
		}
		for _, name := range names {
			if seen[name] != 1 {
				t.Errorf("%s listed %d times", name, seen[name])
			}
		}
	}

	for _, i := range []int{0, 1, 999, 1500, n - 1} {
		if got := string(run(t, "nfs-cat", url(p, names[i]))); got != names[i]+"\n" {
			t.Errorf("nfs-cat %s: %q", names[i], got)
		}
	}
}

func first(s []string, n int) []string {
	return s[:min(n, len(s))]
}
