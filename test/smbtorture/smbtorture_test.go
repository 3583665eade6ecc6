//go:build e2e

package smbtorture

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/testserver"
)

var tandemBin string

func TestMain(m *testing.M) { testserver.Main(m, &tandemBin) }

const (
	user     = "torture"
	password = "t0rture-pass"
	share    = "export" // the share of the embedded defaults
)

// suiteTimeout bounds one suite; Samba's slowest here (smb2.notify) takes
// about 80 s.
const suiteTimeout = 15 * time.Minute

// TestSmbtorture runs every suite against a fresh server and compares each
// test's verdict with knownfail.txt. TANDEM_SMBTORTURE_OUT, when set, names
// a directory that keeps the raw subunit output and a summary.
func TestSmbtorture(t *testing.T) {
	if _, err := exec.LookPath("smbtorture"); err != nil {
		t.Fatalf("smbtorture not found (%v): apt-get install -y samba-testsuite, or ./test/install-deps.sh as root", err)
	}
	known, _ := load(t)
	out := os.Getenv("TANDEM_SMBTORTURE_OUT")
	if out == "" {
		out = t.TempDir()
	} else if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	var summary bytes.Buffer
	fmt.Fprintf(&summary, "%-28s %5s %5s %5s %5s %5s %5s\n", "suite", "tests", "pass", "fail", "error", "skip", "unfin")
	for _, suite := range Suites {
		t.Run(suite, func(t *testing.T) {
			got := runSuite(t, suite, out)
			counts := map[string]int{}
			for _, r := range got {
				counts[r.Verdict]++
			}
			line := fmt.Sprintf("%-28s %5d %5d %5d %5d %5d %5d", suite, len(got), counts[Success],
				counts[Failure], counts[Error], counts[Skip], counts[Unfinished])
			summary.WriteString(line + "\n")
			t.Log(line)
			if len(got) == 0 {
				t.Fatalf("%s ran no test", suite)
			}
			bad := Compare(suite, got, known)
			slices.Sort(bad)
			for _, b := range bad {
				t.Error(b)
			}
		})
	}
	t.Logf("verdicts (raw output in %s):\n%s", out, summary.String())
	if err := os.WriteFile(filepath.Join(out, "summary.txt"), summary.Bytes(), 0o644); err != nil {
		t.Error(err)
	}
}

// runSuite starts a server on a fresh data directory with one user, runs
// the suite against it and returns the verdicts.
func runSuite(t *testing.T, suite, out string) map[string]Result {
	t.Helper()
	data := t.TempDir()
	stores, err := testserver.StoresArgs(data)
	if err != nil {
		t.Fatal(err)
	}
	add := exec.Command(tandemBin, append([]string{"user", "add", user, "--password-stdin", "--data", data}, stores...)...)
	add.Stdin = strings.NewReader(password + "\n")
	if b, err := add.CombinedOutput(); err != nil {
		t.Fatalf("tandem user add: %v\n%s", err, b)
	}
	port, err := testserver.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p, err := testserver.Start(tandemBin, data, "--smb-port", strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Stop(30 * time.Second); err != nil {
			t.Errorf("server did not stop cleanly: %v", err)
		}
		if strings.Contains(p.Log(), "panic") {
			t.Errorf("the server logged a panic:\n%s", p.Log())
		}
		if t.Failed() {
			_ = os.WriteFile(filepath.Join(out, suite+".server.log"), []byte(p.Log()), 0o644)
		}
	}()
	if p.SMBAddr == "" {
		t.Fatalf("the server did not log its SMB address; log:\n%s", p.Log())
	}
	host, smbPort, _ := strings.Cut(p.SMBAddr, ":")
	args := []string{"//" + host + "/" + share, "-p", smbPort, "-U", user + "%" + password,
		"--target=samba3", "--fullname", "--format=subunit"}
	if SignedSuites[suite] {
		args = append(args, "--client-protection=sign")
	}
	args = append(args, suite)
	ctx, cancel := context.WithTimeout(context.Background(), suiteTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "smbtorture", args...)
	var raw bytes.Buffer
	cmd.Stdout = &raw
	cmd.Stderr = &raw
	start := time.Now()
	runErr := cmd.Run() // exits 1 when any test fails; the verdicts decide
	if ctx.Err() != nil {
		t.Errorf("%s did not finish within %v", suite, suiteTimeout)
	}
	t.Logf("smbtorture %s: %v in %.1f s", strings.Join(args, " "), runErr, time.Since(start).Seconds())
	if err := os.WriteFile(filepath.Join(out, suite+".subunit"), raw.Bytes(), 0o644); err != nil {
		t.Error(err)
	}
	got, _, err := ParseSubunit(bytes.NewReader(raw.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Exited():
		t.Fatalf("the server exited during %s: %v", suite, p.ExitErr())
	default:
	}
	return got
}
