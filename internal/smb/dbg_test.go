package smb

import (
	"os"
	"path/filepath"
	"testing"
	"crypto/rand"
	"strings"
)

func TestDbg(t *testing.T) {
	e := newEnv(t, Options{})
	local := t.TempDir()
	data := make([]byte, 3<<20+12345)
	rand.Read(data)
	src := filepath.Join(local, "src.bin")
	os.WriteFile(src, data, 0o644)
	out, rc := e.smbclient("//127.0.0.1/export", "-U", "alice%"+alicePass, "-d", "3", "--option=client max protocol="+os.Getenv("PROTO"), "-c", strings.ReplaceAll(os.Getenv("CMD"), "SRC", src))
	t.Logf("rc %d\n%s", rc, out)
}
