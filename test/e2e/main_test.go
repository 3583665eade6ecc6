//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/testserver"
	"github.com/tandemfs/tandem/test/vm"
)

const probePackage = "github.com/tandemfs/tandem/test/guest/tandemprobe"

var (
	guest   *vm.VM
	bootErr error
)

// TestMain checks the host, boots the one client VM that every test shares
// and stops it at the end.  It installs nothing: missing packages end the
// run at once with the command that installs them.
func TestMain(m *testing.M) {
	opts := vm.Options{Tools: []string{probePackage}, Logf: log.Printf}
	if err := checkHost(opts); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	// The first run builds the image (a couple of minutes); later runs
	// boot in about ten seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	t0 := time.Now()
	guest, bootErr = vm.Start(ctx, opts)
	cancel()
	if bootErr == nil {
		log.Printf("e2e: client VM up in %.1fs (image + boot)", time.Since(t0).Seconds())
	}
	code := m.Run()
	testserver.StopStores()
	if guest != nil {
		if err := guest.Close(); err != nil {
			log.Printf("e2e: closing the VM: %v", err)
		}
	}
	os.Exit(code)
}

// checkHost adds the servers the tests start to what package vm needs.
func checkHost(opts vm.Options) error {
	var missing []string
	if err := vm.CheckHost(opts); err != nil {
		missing = append(missing, err.Error())
	}
	for _, c := range []string{"smbd", "smbpasswd"} {
		if _, err := exec.LookPath(c); err != nil {
			missing = append(missing, fmt.Sprintf("%s (samba): %v; install with: %s", c, err, vm.InstallHint))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("host is missing end-to-end dependencies:\n%s", strings.Join(missing, "\n"))
	}
	return nil
}

// client returns the shared VM, or fails the test with the reason it did
// not start.
func client(t *testing.T) *vm.VM {
	t.Helper()
	if bootErr != nil {
		t.Fatalf("the client VM did not start: %v", bootErr)
	}
	return guest
}
