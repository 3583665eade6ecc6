package smbclient

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/admin"
	"github.com/tandemfs/tandem/internal/server"
)

// The users of the test server.
const (
	alice, alicePass = "alice", "pw-Alice1"
	bob, bobPass     = "bob", "pw-Bob2"
)

// startServer runs a whole Tandem in process on a fresh data directory,
// with SMB on loopback and the users alice and bob, and returns the SMB
// address. Its log is shown if the test fails; an ERROR in it fails the
// test.
func startServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := server.Defaults()
	cfg.Data, cfg.Listen = t.TempDir(), "127.0.0.1"
	cfg.NFSPort, cfg.PortmapPort, cfg.SMBPort, cfg.MetricsAddr = 0, 0, port, ""
	// The log goes to a file, which takes concurrent writes whole.
	logf, err := os.Create(filepath.Join(t.TempDir(), "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	logs := func() string { b, _ := os.ReadFile(logf.Name()); return string(b) }
	s, err := server.Start(context.Background(), cfg, slog.New(slog.NewTextHandler(logf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("server.Start: %v\n%s", err, logs())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
		logf.Close()
		for _, line := range strings.Split(logs(), "\n") {
			if strings.Contains(line, "level=ERROR") {
				t.Errorf("server logged an error: %s", line)
			}
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs())
		}
	})
	for i, u := range []struct{ name, pass string }{{alice, alicePass}, {bob, bobPass}} {
		req := server.UserRequest{Name: u.name, Password: u.pass, UID: uint32(1000 + i), GID: 1000}
		if err := admin.Call(context.Background(), cfg.Data, "user.add", req, nil); err != nil {
			t.Fatalf("adding user %s: %v", u.name, err)
		}
	}
	return s.SMBAddr.String()
}

// connect logs user on to the export share of addr with opt.
func connect(t *testing.T, addr string, opt Options, user, pass string) (*Conn, *Tree) {
	t.Helper()
	c, tree, err := Connect(addr, opt, user, pass, "export")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, tree
}

// rw is the CREATE of most tests: read and write, sharing everything,
// opening or creating.
func rw() CreateRequest {
	return CreateRequest{DesiredAccess: AccessReadWrite, ShareAccess: ShareAll, Disposition: DispositionOpenIf}
}

// mustCreate opens name and fails the test unless the status is success.
func mustCreate(t *testing.T, tree *Tree, name string, q CreateRequest) *CreateResponse {
	t.Helper()
	r, err := tree.Create(name, q)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != StatusSuccess {
		t.Fatalf("CREATE %s: %v", name, r.Status)
	}
	return r
}

// expect fails the test unless a call returned want without error.
func expect(t *testing.T, what string, st Status, err error, want Status) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if st != want {
		t.Fatalf("%s: %v, want %v", what, st, want)
	}
}
