package bench

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/testserver"
)

const (
	seqSize   = 256 << 20 // bytes per sequential pass
	ioSize    = 1 << 20   // bytes per READ or WRITE
	inFlight  = 4         // calls outstanding at once, like a kernel client's readahead/writeback
	smallSize = 4 << 10   // bytes per small file
)

var (
	buildOnce sync.Once
	binDir    string
	bin       string
	buildErr  error
)

// TestMain removes the binary built by the benchmarks, if any; plain
// `go test` builds nothing.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// server starts a fresh `tandem serve` (building it on first use) and
// returns a client with /export mounted.
func server(b *testing.B) (*testserver.Process, *testserver.Conn, []byte) {
	b.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "tandem-bench-")
		if buildErr == nil {
			bin, buildErr = testserver.Build(binDir)
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	p, err := testserver.Start(bin, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := p.Stop(30 * time.Second); err != nil {
			b.Errorf("server stop: %v\n%s", err, p.Log())
		}
	})
	c, err := testserver.Dial(p.NFSAddr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	root, err := c.Mount("/export")
	if err != nil {
		b.Fatal(err)
	}
	return p, c, root
}

// pipeline runs fn for every offset of a seqSize pass, ioSize apart,
// from inFlight workers numbered 0 to inFlight-1.
func pipeline(fn func(worker int, off uint64) error) error {
	var next atomic.Uint64
	var wg sync.WaitGroup
	errs := make([]error, inFlight)
	for w := range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				off := next.Add(ioSize) - ioSize
				if off >= seqSize {
					return
				}
				if err := fn(w, off); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func pattern(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*31 + i>>12)
	}
	return p
}

// writeFile writes one seqSize file in ioSize UNSTABLE writes, then
// COMMITs it.
func writeFile(c *testserver.Conn, root []byte, name string, data []byte) error {
	fh, err := c.Create(root, name, 0o644)
	if err != nil {
		return err
	}
	err = pipeline(func(_ int, off uint64) error {
		r, err := c.Write(fh, off, data, testserver.Unstable)
		if err == nil && r.Count != ioSize {
			err = fmt.Errorf("WRITE at %d: %d of %d bytes written", off, r.Count, ioSize)
		}
		return err
	})
	if err != nil {
		return err
	}
	_, err = c.Commit(fh, 0, 0)
	return err
}

func reportRate(b *testing.B, bytes int64) {
	b.ReportMetric(float64(bytes)*float64(b.N)/(1<<20)/b.Elapsed().Seconds(), "MiB/s")
}

// BenchmarkSequentialWrite writes a 256 MiB file in 1 MiB UNSTABLE WRITEs
// (four in flight) and COMMITs it; each iteration writes a new file.
func BenchmarkSequentialWrite(b *testing.B) {
	_, c, root := server(b)
	data := pattern(ioSize)
	b.ResetTimer()
	for i := range b.N {
		if err := writeFile(c, root, fmt.Sprintf("seq-%d", i), data); err != nil {
			b.Fatal(err)
		}
		if i > 0 {
			b.StopTimer()
			if err := c.Remove(root, fmt.Sprintf("seq-%d", i-1)); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
	reportRate(b, seqSize)
}

// BenchmarkSequentialRead reads a 256 MiB file in 1 MiB READs (four in
// flight), the file having been written and committed beforehand.
func BenchmarkSequentialRead(b *testing.B) {
	_, c, root := server(b)
	data := pattern(ioSize)
	if err := writeFile(c, root, "seq", data); err != nil {
		b.Fatal(err)
	}
	fh, err := c.Lookup(root, "seq")
	if err != nil {
		b.Fatal(err)
	}
	bufs := make([][]byte, inFlight)
	for i := range bufs {
		bufs[i] = make([]byte, ioSize)
	}
	b.ResetTimer()
	for range b.N {
		err := pipeline(func(w int, off uint64) error {
			n, _, err := c.Read(fh, off, bufs[w])
			if err == nil && n != ioSize {
				err = fmt.Errorf("READ at %d: %d of %d bytes", off, n, ioSize)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, seqSize)
}

// BenchmarkSmallFiles creates a file, writes 4 KiB to it UNSTABLE and
// COMMITs it (what a client's close does), per operation; "serial" does
// one file at a time, "parallel" eight at once.
func BenchmarkSmallFiles(b *testing.B) {
	for _, par := range []int{1, 8} {
		name := "serial"
		if par > 1 {
			name = fmt.Sprintf("parallel%d", par)
		}
		b.Run(name, func(b *testing.B) {
			_, c, root := server(b)
			data := pattern(smallSize)
			var n atomic.Int64
			var wg sync.WaitGroup
			errs := make([]error, par)
			b.ResetTimer()
			for w := range par {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := n.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						if err := smallFile(c, root, fmt.Sprintf("small-%d", i), data); err != nil {
							errs[w] = err
							return
						}
					}
				}()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
			b.ReportMetric(float64(b.N)*smallSize/(1<<20)/b.Elapsed().Seconds(), "MiB/s")
		})
	}
}

func smallFile(c *testserver.Conn, root []byte, name string, data []byte) error {
	fh, err := c.Create(root, name, 0o644)
	if err != nil {
		return err
	}
	r, err := c.Write(fh, 0, data, testserver.Unstable)
	if err != nil {
		return err
	}
	if r.Count != uint32(len(data)) {
		return fmt.Errorf("WRITE %s: %d of %d bytes", name, r.Count, len(data))
	}
	_, err = c.Commit(fh, 0, 0)
	return err
}

// BenchmarkNFSCp copies a 256 MiB file into the server and back out with
// libnfs's nfs-cp, a separate process per copy. nfs-cp refuses to
// overwrite, so every copy goes to a new name and the previous one is
// removed outside the timer.
func BenchmarkNFSCp(b *testing.B) {
	if _, err := exec.LookPath("nfs-cp"); err != nil {
		b.Skip("nfs-cp not installed (apt-get install -y libnfs-utils)")
	}
	p, c, root := server(b)
	dir := b.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, repeat(pattern(ioSize), seqSize/ioSize), 0o644); err != nil {
		b.Fatal(err)
	}
	url := func(name string) string {
		return fmt.Sprintf("nfs://127.0.0.1/export/%s?nfsport=%d&mountport=%d", name, p.Port, p.Port)
	}
	cp := func(b *testing.B, from, to string) {
		if out, err := exec.Command("nfs-cp", from, to).CombinedOutput(); err != nil {
			b.Fatalf("nfs-cp %s %s: %v: %s", from, to, err, out)
		}
	}
	n := 0
	b.Run("in", func(b *testing.B) {
		for range b.N {
			cp(b, src, url(fmt.Sprintf("in-%d", n)))
			b.StopTimer()
			if err := c.Remove(root, fmt.Sprintf("in-%d", n)); err != nil {
				b.Fatal(err)
			}
			n++
			b.StartTimer()
		}
		reportRate(b, seqSize)
	})
	var outReady bool // the sub-benchmark body runs once per b.N tried
	b.Run("out", func(b *testing.B) {
		if !outReady {
			cp(b, src, url("out"))
			outReady = true
			b.ResetTimer()
		}
		for i := range b.N {
			dst := filepath.Join(dir, fmt.Sprintf("out-%d", i))
			cp(b, url("out"), dst)
			b.StopTimer()
			os.Remove(dst)
			b.StartTimer()
		}
		reportRate(b, seqSize)
	})
}

func repeat(p []byte, n int) []byte {
	out := make([]byte, 0, len(p)*n)
	for range n {
		out = append(out, p...)
	}
	return out
}
