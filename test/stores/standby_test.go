//go:build e2e

package stores

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/s3test"
	"github.com/tandemfs/tandem/test/testserver"
)

// TestStandbyTakesOver runs `tandem serve` on PostgreSQL and S3, writes
// files over NFS, and checks that a second server on the same stores (its
// own data directory, as on another machine) is refused while the first
// runs and, once the first is killed with SIGKILL, serves every file and
// byte the first acknowledged as stable.
func TestStandbyTakesOver(t *testing.T) {
	dsn := freshDB(t)
	o := s3Options(t) // also the AWS credentials the servers inherit
	s3test.Env()
	cfg := filepath.Join(t.TempDir(), "tandem.toml")
	err := os.WriteFile(cfg, []byte(fmt.Sprintf(`[meta]
backend = "postgres"
dsn = %q

[content]
backend = "s3"
endpoint = %q
bucket = %q
prefix = %q
`, dsn, o.Endpoint, o.Bucket, o.Prefix)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := testserver.Build(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	a, err := testserver.Start(bin, t.TempDir(), "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Kill()
	c, err := testserver.Dial(a.NFSAddr)
	if err != nil {
		t.Fatal(err)
	}
	root, err := c.Mount("/export")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for i := range 3 {
		name := fmt.Sprintf("f%d", i)
		fh, err := c.Create(root, name, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, (i+1)*3<<20+123)
		fill(data, uint64(i), 0)
		for off := 0; off < len(data); off += 1 << 20 {
			end := min(off+1<<20, len(data))
			stable := testserver.Unstable
			if i == 1 {
				stable = testserver.FileSync
			}
			if _, err := c.Write(fh, uint64(off), data[off:end], stable); err != nil {
				t.Fatal(err)
			}
		}
		if i != 1 {
			if _, err := c.Commit(fh, 0, 0); err != nil {
				t.Fatal(err)
			}
		}
		want[name] = data
	}
	// Written but never committed: may or may not survive.
	fh, err := c.Create(root, "unsynced", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	c.Write(fh, 0, []byte("maybe"), testserver.Unstable)
	c.Close()

	// A second server while the first runs: refused.
	t0 := time.Now()
	_, err = testserver.Start(bin, t.TempDir(), "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), "another server has this database open") {
		t.Fatalf("second server beside the first: %v", err)
	}
	t.Logf("a second server on the same database was refused after %v", time.Since(t0).Round(time.Millisecond))

	a.Kill()
	t0 = time.Now()
	b, err := testserver.Start(bin, t.TempDir(), "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop(30 * time.Second)
	t.Logf("the standby started %v after the first server was killed", time.Since(t0).Round(time.Millisecond))
	c, err = testserver.Dial(b.NFSAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	root, err = c.Mount("/export")
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range want {
		fh, err := c.Lookup(root, name)
		if err != nil {
			t.Fatalf("%s on the standby: %v", name, err)
		}
		got, err := c.ReadAll(fh, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%s on the standby: %d bytes, differ from the %d written", name, len(got), len(data))
		}
	}
	if errs := b.ErrorLines(); len(errs) > 0 {
		t.Fatalf("the standby logged errors:\n%s", strings.Join(errs, "\n"))
	}
}
