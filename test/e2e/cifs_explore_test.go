//go:build e2e

package e2e

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestCIFSExplore(t *testing.T) {
	v := client(t)
	srv := newTandemServer(t, v)
	addSMBUser(t, srv, "tester", "0")
	srv.start(t)
	waitSMB(t, srv)
	const mnt = "/mnt/x"
	sh(t, v, time.Minute, cifsMountCmd(v, mnt, os.Getenv("CIFS_OPTS")))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = v.Exec(ctx, "umount "+mnt+" || umount -l "+mnt, nil)
	})
	r := v.MustExec(t, 5*time.Minute, "set -x; cd "+mnt+"; "+os.Getenv("CIFS_SCRIPT")+" 2>&1; dmesg | tail -20")
	t.Logf("%s\n%s", r.Stdout, r.Stderr)
	t.Logf("server log:\n%s", srv.lastLog())
}
