package vm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// buildTools builds the main packages pkgs as static linux/amd64 binaries
// into dir, which becomes the guest's read-only GuestTools share.  Static,
// because the guest's libc is not the host's; rebuilt on every Start, which
// the Go build cache makes cheap, so the guest always runs this tree's code.
func buildTools(ctx context.Context, dir string, pkgs []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	args := append([]string{"build", "-o", dir + "/"}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = moduleDir()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("vm: building guest tools %v: %v\n%s", pkgs, err, out)
	}
	return nil
}

// moduleDir is a directory inside this module, so that `go build` resolves
// the tools' import paths wherever the test binary runs from.
func moduleDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	return filepath.Dir(file)
}
