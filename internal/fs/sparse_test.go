package fs

import (
	"bytes"
	"errors"
	"log/slog"
	"testing"

	"github.com/tandemfs/tandem/internal/content"
	cmemory "github.com/tandemfs/tandem/internal/content/memory"
	mmemory "github.com/tandemfs/tandem/internal/meta/memory"
)

// TestZeroRange: a range of a file becomes zeros with its size kept;
// the holes show in DataRanges; read-only callers may not.
func TestZeroRange(t *testing.T) {
	e := newEnv(t)
	h := e.create(alice, e.root, "f", 0o644)
	e.write(alice, h, 0, "abcdefgh")
	e.write(alice, h, 1<<20, "tail")
	before := e.attr(h)
	e.clock.advance()
	if _, err := e.fs.ZeroRange(e.ctx, alice, h, 2, 4); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	e.fs.Read(e.ctx, alice, h, 0, buf)
	if string(buf) != "ab\x00\x00\x00\x00gh" {
		t.Errorf("after zeroing 2-6: %q", buf)
	}
	a := e.attr(h)
	if a.Size != before.Size || a.Mtime == before.Mtime {
		t.Errorf("size %d (was %d), mtime moved: %v", a.Size, before.Size, a.Mtime != before.Mtime)
	}
	if _, err := e.fs.ZeroRange(e.ctx, alice, h, 1<<20, 1<<30); err != nil {
		t.Fatal(err)
	}
	e.fs.Read(e.ctx, alice, h, 1<<20, buf[:4])
	if string(buf[:4]) != "\x00\x00\x00\x00" {
		t.Errorf("the tail after zeroing to the end: %q", buf[:4])
	}
	// Whole chunks of the memory store go; the one the size ends in stays.
	if _, err := e.fs.ZeroRange(e.ctx, alice, h, 0, 1<<40); err != nil {
		t.Fatal(err)
	}
	rs, err := e.fs.DataRanges(e.ctx, alice, h, 0, 1<<40)
	if err != nil || len(rs) != 1 || rs[0] != (Range{Off: 1 << 20, Len: 4}) {
		t.Errorf("data ranges after zeroing all: %v %v", rs, err)
	}
	if e.attr(h).Size != before.Size {
		t.Errorf("zeroing past the end changed the size")
	}
	if _, err := e.fs.ZeroRange(e.ctx, bob, h, 0, 1); !errors.Is(err, ErrAccess) {
		t.Errorf("zeroing without write permission: %v", err)
	}
	if _, err := e.fs.DataRanges(e.ctx, alice, e.root, 0, 1); !errors.Is(err, ErrIsDir) {
		t.Errorf("data ranges of a directory: %v", err)
	}
}

// plainStore hides the Puncher and Mapper of a store, as S3 has none.
type plainStore struct{ content.Store }

// TestZeroRangeWithoutHoles: a store that cannot punch gets zeros
// written, is cut when the range reaches the end of the file, and a large
// range inside the file is refused.
func TestZeroRangeWithoutHoles(t *testing.T) {
	e := &env{t: t, ctx: t.Context(), meta: mmemory.New(), content: cmemory.New(), clock: &clock{}, logs: new(bytes.Buffer)}
	e.clock.set(t0)
	var err error
	e.fs, err = New(e.meta, plainStore{e.content}, Options{Now: e.clock.now, Logger: slog.New(slog.NewTextHandler(e.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if e.root, err = e.fs.AddShare(e.ctx, ShareConfig{Name: "export"}); err != nil {
		t.Fatal(err)
	}
	h := e.create(alice, e.root, "f", 0o644)
	e.write(alice, h, 0, "abcdefgh")
	e.setattr(alice, h, SetAttr{Mask: SetSize, Size: 200 << 20})
	e.write(alice, h, 150<<20, "x")
	if _, err := e.fs.ZeroRange(e.ctx, alice, h, 1, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.ZeroRange(e.ctx, alice, h, 4, 100<<20); !errors.Is(err, ErrNotSupp) {
		t.Errorf("100 MiB of zeros to write: %v", err)
	}
	if _, err := e.fs.ZeroRange(e.ctx, alice, h, 6, 1<<40); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	e.fs.Read(e.ctx, alice, h, 0, buf)
	if string(buf) != "a\x00\x00def\x00\x00" {
		t.Errorf("after zeroing: %q", buf)
	}
	e.fs.Read(e.ctx, alice, h, 150<<20, buf[:1])
	if buf[0] != 0 || e.attr(h).Size != 200<<20 {
		t.Errorf("the tail after zeroing to the end: %q, size %d", buf[:1], e.attr(h).Size)
	}
	if rs, err := e.fs.DataRanges(e.ctx, alice, h, 100, 1<<40); err != nil || len(rs) != 1 || rs[0] != (Range{Off: 100, Len: 200<<20 - 100}) {
		t.Errorf("data ranges without a Mapper: %v %v", rs, err)
	}
}
