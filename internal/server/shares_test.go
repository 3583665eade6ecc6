package server

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/tandemfs/tandem/internal/lock"
)

// TestSharesKeptAcrossRestart: shares added online live in the metadata
// store with every option; at the next start the config file's shares are
// set as the file says, the others come back as they were left.
func TestSharesKeptAcrossRestart(t *testing.T) {
	ctx := context.Background()
	cfg := Defaults()
	cfg.Data, cfg.Listen, cfg.NFSPort, cfg.SMBPort, cfg.PortmapPort, cfg.MetricsAddr = t.TempDir(), "127.0.0.1", 0, 0, 0, ""
	cfg.Shares = []ShareConfig{{Name: "fromfile", Comment: "file"}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := Start(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	yes, unix, other := true, "unix", "changed"
	if _, err := s.shares.op(ctx, "share.add", ShareRequest{Name: "online", Encrypt: &yes, Locking: &unix}); err != nil {
		t.Fatal(err)
	}
	r, err := s.shares.op(ctx, "share.set", ShareRequest{Name: "fromfile", Comment: &other})
	if err != nil || r.Warning == "" {
		t.Fatalf("set of a config file share: %+v, %v; want a warning", r, err)
	}
	root, _, _ := s.FS.Share("online")
	if got := s.locks.mgr.Locking(root.Share); got != lock.Unix {
		t.Fatalf("locking of the new share = %v, want unix at once", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Start(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err = s.shares.op(ctx, "share.list", ShareRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Shares) != 2 {
		t.Fatalf("shares after restart = %+v, want fromfile and online (no default export)", r.Shares)
	}
	if f := r.Shares[0]; f.Name != "fromfile" || f.Comment != "file" || !f.InConfig {
		t.Fatalf("config file share after restart = %+v, want the file's options", f)
	}
	if o := r.Shares[1]; o.Name != "online" || !o.Encrypt || o.Locking != "unix" || o.InConfig {
		t.Fatalf("online share after restart = %+v", o)
	}
	if opts := s.shares.get("online"); !opts.Encrypt {
		t.Fatal("SMB options of the online share lost")
	}
	root, _, _ = s.FS.Share("online")
	if got := s.locks.mgr.Locking(root.Share); got != lock.Unix {
		t.Fatalf("locking after restart = %v, want unix", got)
	}
	if _, err := s.shares.op(ctx, "share.add", ShareRequest{Name: "bad/name"}); err == nil {
		t.Fatal("a name with a slash was accepted")
	}
	bad := "sometimes"
	if _, err := s.shares.op(ctx, "share.set", ShareRequest{Name: "online", Squash: &bad}); err == nil {
		t.Fatal("squash \"sometimes\" was accepted")
	}
}
