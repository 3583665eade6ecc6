package fs

import (
	"bytes"
	"context"
	"log/slog"
	"sync/atomic"
	"testing"

	cmemory "github.com/tandemfs/tandem/internal/content/memory"
	"github.com/tandemfs/tandem/internal/meta"
	mmemory "github.com/tandemfs/tandem/internal/meta/memory"
)

// t0 is the fake clock's start: a plausible present, in nanoseconds.
const t0 int64 = 1_700_000_000_000_000_000

// clock is a fake clock the tests move by hand.
type clock struct{ t atomic.Int64 }

func (c *clock) now() int64     { return c.t.Load() }
func (c *clock) set(t int64)    { c.t.Store(t) }
func (c *clock) advance() int64 { return c.t.Add(1000) }

// env is a file system on the memory backends with one share "export".
type env struct {
	t       testing.TB
	ctx     context.Context
	fs      *FS
	meta    *mmemory.Store
	content *cmemory.Store
	clock   *clock
	root    Handle
	logs    *bytes.Buffer // what the file system logged
}

// The callers of the tests. bob is in carol's primary group 2000.
var (
	rootC = &Caller{UID: 0, GID: 0}
	alice = &Caller{UID: 1000, GID: 1000}
	bob   = &Caller{UID: 1001, GID: 1001, Groups: []uint32{2000}}
	carol = &Caller{UID: 1002, GID: 2000}
	eve   = &Caller{UID: 1003, GID: 1003}
)

func newEnv(t testing.TB) *env {
	return newEnvShare(t, ShareConfig{Name: "export"})
}

func newEnvShare(t testing.TB, cfg ShareConfig) *env {
	t.Helper()
	e := &env{t: t, ctx: context.Background(), meta: mmemory.New(), content: cmemory.New(), clock: &clock{}, logs: new(bytes.Buffer)}
	e.clock.set(t0)
	var err error
	e.fs, err = New(e.meta, e.content, Options{Now: e.clock.now, Logger: slog.New(slog.NewTextHandler(e.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e.root, err = e.fs.AddShare(e.ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// wantErr fails unless err is exactly want (nil included).
func wantErr(t testing.TB, what string, err error, want error) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("%s: %v, want success", what, err)
		}
		return
	}
	if err != want {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
}

func (e *env) create(c *Caller, dir Handle, name string, mode uint32) Handle {
	e.t.Helper()
	h, _, _, err := e.fs.Create(e.ctx, c, dir, name, CreateHow{Mode: Guarded, Attr: SetAttr{Mask: SetMode, Mode: mode}})
	if err != nil {
		e.t.Fatalf("create %q: %v", name, err)
	}
	return h
}

func (e *env) mkdir(c *Caller, dir Handle, name string, mode uint32) Handle {
	e.t.Helper()
	h, _, _, err := e.fs.Mkdir(e.ctx, c, dir, name, SetAttr{Mask: SetMode, Mode: mode})
	if err != nil {
		e.t.Fatalf("mkdir %q: %v", name, err)
	}
	return h
}

func (e *env) attr(h Handle) Attr {
	e.t.Helper()
	a, err := e.fs.GetAttr(e.ctx, h)
	if err != nil {
		e.t.Fatalf("getattr: %v", err)
	}
	return a
}

func (e *env) setattr(c *Caller, h Handle, sa SetAttr) {
	e.t.Helper()
	if _, err := e.fs.SetAttr(e.ctx, c, h, sa, nil); err != nil {
		e.t.Fatalf("setattr %+v: %v", sa, err)
	}
}

func (e *env) chmod(h Handle, mode uint32) {
	e.t.Helper()
	e.setattr(rootC, h, SetAttr{Mask: SetMode, Mode: mode})
}

func (e *env) chown(h Handle, uid, gid uint32) {
	e.t.Helper()
	mode := e.attr(h).Mode // chown clears setuid; the tests set modes after
	e.setattr(rootC, h, SetAttr{Mask: SetUID | SetGID | SetMode, UID: uid, GID: gid, Mode: mode})
}

func (e *env) write(c *Caller, h Handle, off uint64, data string) {
	e.t.Helper()
	if _, _, _, err := e.fs.Write(e.ctx, c, h, off, []byte(data), Unstable); err != nil {
		e.t.Fatalf("write: %v", err)
	}
}

func (e *env) read(c *Caller, h Handle) string {
	e.t.Helper()
	buf := make([]byte, 1<<16)
	n, _, _, err := e.fs.Read(e.ctx, c, h, 0, buf)
	if err != nil {
		e.t.Fatalf("read: %v", err)
	}
	return string(buf[:n])
}

func (e *env) lookup(c *Caller, dir Handle, name string) (Handle, error) {
	h, _, _, err := e.fs.Lookup(e.ctx, c, dir, name)
	return h, err
}

// inode reads an inode straight from the store, for what Attr does not show.
func (e *env) inode(id uint64) (meta.Inode, error) {
	var ino meta.Inode
	err := e.meta.View(e.ctx, func(tx meta.Tx) error {
		var err error
		ino, err = tx.Inode(id)
		return err
	})
	return ino, err
}

// poke changes an inode behind the file system's back, to reach states
// that take too long to build (a directory at the link limit).
func (e *env) poke(id uint64, fn func(*meta.Inode)) {
	e.t.Helper()
	err := e.meta.Update(e.ctx, func(tx meta.Tx) error {
		ino, err := tx.Inode(id)
		if err != nil {
			return err
		}
		fn(&ino)
		return tx.PutInode(&ino)
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) fileCount() uint64 {
	e.t.Helper()
	st, _, err := e.fs.StatFS(e.ctx, e.root)
	if err != nil {
		e.t.Fatal(err)
	}
	return MaxFiles - st.FreeFiles
}

type inodeT = meta.Inode
