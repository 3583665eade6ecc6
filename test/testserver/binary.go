package testserver

import (
	"fmt"
	"os/exec"
	"path/filepath"
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
