package server

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/admin"
	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/nlm"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// nlmLock sends NLM4 LOCK (not blocking, exclusive) and returns its status.
func nlmLock(t *testing.T, c *rpc.Client, fh fs.Handle, caller string, off, n uint64, reclaim bool) uint32 {
	t.Helper()
	var st uint32
	err := c.Call(context.Background(), nlm.Program, 4, nlm.ProcLock, rpc.Cred{}, func(w *xdr.Writer) {
		w.Opaque([]byte("c"))
		w.Bool(false)
		w.Bool(true)
		w.String(caller)
		w.Opaque(fh.Bytes())
		w.Opaque([]byte("owner"))
		w.Uint32(1)
		w.Uint64(off)
		w.Uint64(n)
		w.Bool(reclaim)
		w.Int32(1)
	}, func(r *xdr.Reader) error {
		r.Opaque(1024)
		st = r.Uint32()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestRestartGrace: a lock granted before a restart is restored as
// unreclaimed state with a grace period, shown as such by `tandem locks`
// and `tandem status`; new locks wait, the reclaim succeeds and ends the
// grace period at once.
func TestRestartGrace(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := Defaults()
	cfg.Data, cfg.Listen, cfg.NFSPort, cfg.SMBPort, cfg.PortmapPort, cfg.MetricsAddr = t.TempDir(), "127.0.0.1", 0, 0, 0, ""
	cfg.GracePeriod = Duration(time.Minute)
	s, err := Start(ctx, cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	root, _, _ := s.FS.Share("export")
	fh, _, _, err := s.FS.Create(ctx, &fs.Caller{}, root, "f", fs.CreateHow{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := rpc.Dial(ctx, "tcp", s.NFSAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	if st := nlmLock(t, c, fh, "hostA", 0, 10, false); st != uint32(nlm.StatGranted) {
		t.Fatalf("lock: %d", st)
	}
	c.Close()
	if s.locks.mgr.InGrace() {
		t.Fatal("grace period on a first start")
	}
	s.Close()

	s, err = Start(ctx, cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err = rpc.Dial(ctx, "tcp", s.NFSAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var st Status
	var es []LockEntry
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := admin.Call(actx, cfg.Data, "status", nil, &st); err != nil {
		t.Fatal(err)
	}
	if !st.Grace.Active || st.Grace.Unreclaimed != 1 || len(st.Grace.Clients) != 1 || st.Grace.Clients[0] != "nlm:hostA" {
		t.Fatalf("status after restart: %+v", st.Grace)
	}
	if err := admin.Call(actx, cfg.Data, "locks", nil, &es); err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || !es[0].Unreclaimed || es[0].Client != "hostA" || es[0].Offset != 0 || es[0].Length != 10 {
		t.Fatalf("locks after restart: %+v", es)
	}
	if st := nlmLock(t, c, fh, "hostB", 20, 1, false); st != uint32(nlm.StatDeniedGrace) {
		t.Fatalf("new lock in grace: %d", st)
	}
	if st := nlmLock(t, c, fh, "hostB", 0, 10, true); st != uint32(nlm.StatDenied) {
		t.Fatalf("reclaim by another host: %d", st)
	}
	if st := nlmLock(t, c, fh, "hostA", 0, 10, true); st != uint32(nlm.StatGranted) {
		t.Fatalf("reclaim: %d", st)
	}
	if err := admin.Call(actx, cfg.Data, "status", nil, &st); err != nil {
		t.Fatal(err)
	}
	if st.Grace.Active {
		t.Fatalf("grace goes on after the last reclaim: %+v", st.Grace)
	}
	if st := nlmLock(t, c, fh, "hostB", 20, 1, false); st != uint32(nlm.StatGranted) {
		t.Fatalf("new lock after grace: %d", st)
	}
}

// TestGraceEndByHand: `tandem grace end` releases what is unreclaimed.
func TestGraceEndByHand(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := Defaults()
	cfg.Data, cfg.Listen, cfg.NFSPort, cfg.SMBPort, cfg.PortmapPort, cfg.MetricsAddr = t.TempDir(), "127.0.0.1", 0, 0, 0, ""
	s, err := Start(ctx, cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	k := lock.FileKey{Share: 1, ID: 99}
	if d := s.locks.mgr.Lock(lock.Request{File: k, Owner: lock.NLMOwner("h", 1, nil), Mode: lock.Shared}); d.Status != lock.Granted {
		t.Fatal(d.Status)
	}
	if err := s.locks.journal.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Start(ctx, cfg, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var res GraceEnd
	actx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := admin.Call(actx, cfg.Data, "grace-end", nil, &res); err != nil {
		t.Fatal(err)
	}
	if !res.WasActive || res.ReleasedEntries != 1 || res.ReleasedOwners != 1 || s.locks.mgr.InGrace() || len(s.locks.mgr.Records()) != 0 {
		t.Fatalf("grace end: %+v, left %+v", res, s.locks.mgr.Records())
	}
}
