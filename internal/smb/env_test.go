package smb

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/content"
	contentmem "github.com/tandemfs/tandem/internal/content/memory"
	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/identity"
	metamem "github.com/tandemfs/tandem/internal/meta/memory"
)

// env is a Server on loopback over memory stores, with shares "export"
// (plain), "secret" (encrypt), "public" (guest) and users alice (uid 1000)
// and bob.
type env struct {
	t    testing.TB
	fs   *fs.FS
	ids  *identity.Store
	srv  *Server
	addr string
	port string
}

const (
	alicePass = "Wonder-land1"
	bobPass   = "b0b"
)

func newEnv(t testing.TB, opt Options) *env {
	t.Helper()
	return newEnvOn(t, opt, contentmem.New())
}

// newEnvOn is newEnv with file contents in c.
func newEnvOn(t testing.TB, opt Options, c content.Store) *env {
	t.Helper()
	ctx := context.Background()
	m := metamem.New()
	f, err := fs.New(m, c, fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"export", "secret", "public"} {
		if _, err := f.AddShare(ctx, fs.ShareConfig{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	ids := identity.New(m)
	if err := ids.AddUser(ctx, "alice", alicePass, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	if err := ids.AddUser(ctx, "bob", bobPass, 1001, 1000); err != nil {
		t.Fatal(err)
	}
	if opt.Logger == nil {
		level := slog.LevelError + 1
		if os.Getenv("SMB_DEBUG") != "" {
			level = slog.LevelDebug
		}
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: level}))
		if os.Getenv("SMB_DEBUG") != "" {
			opt.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
		}
	}
	if opt.Share == nil {
		opt.Share = func(name string) ShareOptions {
			switch name {
			case "secret":
				return ShareOptions{Encrypt: true, Comment: "encrypted"}
			case "public":
				return ShareOptions{Guest: true, Comment: "for everyone"}
			}
			return ShareOptions{Comment: "the export"}
		}
	}
	srv := New(f, ids, opt)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != ErrServerClosed {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return &env{t: t, fs: f, ids: ids, srv: srv, addr: l.Addr().String(), port: port}
}
