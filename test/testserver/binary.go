package testserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Build compiles cmd/tandem into dir and returns the binary's path. Tests
// call it once per test binary (from TestMain) so that every server
// process they start runs the same build.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "tandem")
	cmd := exec.Command("go", "build", "-buildvcs=false", "-o", bin, "github.com/tandemfs/tandem/cmd/tandem")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/tandem: %v\n%s", err, out)
	}
	return bin, nil
}

// Main is a TestMain for packages that run a real `tandem serve`: it builds
// the binary once into a temporary directory, stores its path in *bin, runs
// the tests and removes the directory.
func Main(m *testing.M, bin *string) {
	dir, err := os.MkdirTemp("", "tandem-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin, err = Build(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	stopStores()
	os.RemoveAll(dir)
	os.Exit(code)
}
