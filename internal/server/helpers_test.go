package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/tandemfs/tandem/test/smbclient"
)

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago, for
// a listener whose port 0 means "off" (SMB, the portmapper).
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer starts a whole server on loopback with cfg's ports, a fresh
// data directory and a silent log, and closes it when the test ends.
func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Data, cfg.Listen = t.TempDir(), "127.0.0.1"
	s, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// connectAlice makes the SMB user alice (uid and gid 1000, password
// pw-Alice1) and logs her on to the share export; the connection is
// closed when the test ends.
func connectAlice(t *testing.T, s *Server) (*smbclient.Conn, *smbclient.Tree) {
	t.Helper()
	if err := s.ids.AddUser(context.Background(), "alice", "pw-Alice1", 1000, 1000); err != nil {
		t.Fatal(err)
	}
	c, tree, err := smbclient.Connect(s.SMBAddr.String(), smbclient.Options{}, "alice", "pw-Alice1", "export")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, tree
}
