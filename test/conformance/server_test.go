package conformance

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/server"
)

// testServer is an in-process Tandem on a temporary data directory.
type testServer struct {
	srv  *server.Server
	cfg  server.Config
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// startServer serves the given shares (the default "export" share when
// none) from a fresh data directory. The server's log is shown if the test
// fails.
func startServer(t *testing.T, shares ...server.ShareConfig) *testServer {
	t.Helper()
	cfg := server.Defaults()
	cfg.Data = t.TempDir()
	cfg.Listen = "127.0.0.1"
	cfg.NFSPort = 0
	cfg.PortmapPort = 0
	cfg.SMBPort = 0
	cfg.MetricsAddr = ""
	cfg.Shares = shares
	ts := &testServer{cfg: cfg, logs: &syncBuffer{}}
	ts.start(t)
	t.Cleanup(func() {
		ts.stop(t)
		for _, l := range strings.Split(ts.logs.String(), "\n") {
			if strings.Contains(l, "level=ERROR") {
				t.Errorf("server logged an error: %s", l)
			}
		}
		if t.Failed() {
			t.Logf("server log:\n%s", ts.logs.String())
		}
	})
	return ts
}

func (ts *testServer) start(t *testing.T) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.Start(context.Background(), ts.cfg, log)
	if err != nil {
		t.Fatalf("server.Start: %v\nlog:\n%s", err, ts.logs.String())
	}
	ts.srv = srv
}

func (ts *testServer) stop(t *testing.T) {
	t.Helper()
	if ts.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); err != nil {
		t.Errorf("server shutdown: %v", err)
	}
	ts.srv = nil
}

// restart stops the server cleanly and starts it again on the same data.
func (ts *testServer) restart(t *testing.T) {
	t.Helper()
	ts.stop(t)
	ts.start(t)
}

func (ts *testServer) addr() string { return ts.srv.NFSAddr.String() }

// session dials the server and mounts /export.
func session(t *testing.T, ts *testServer) (*client, []byte) {
	t.Helper()
	c := dial(t, ts.addr())
	return c, c.mount("/export")
}
