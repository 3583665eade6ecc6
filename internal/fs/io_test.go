package fs

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
)

func TestReadWrite(t *testing.T) {
	e := newEnv(t)
	f := e.create(alice, e.root, "f", 0o644)
	now := e.clock.advance()
	n, st, wcc, err := e.fs.Write(e.ctx, alice, f, 0, []byte("hello world"), Unstable)
	if err != nil || n != 11 || st != Unstable {
		t.Fatalf("write %d %v %v", n, st, err)
	}
	if !wcc.HavePre || wcc.Pre.Size != 0 || wcc.Pre.Mtime != t0 || wcc.Post.Size != 11 || wcc.Post.Mtime != now || wcc.Post.Ctime != now || wcc.Post.Used != 4096 {
		t.Fatalf("write wcc %+v", wcc)
	}
	for _, tc := range []struct {
		off  uint64
		size int
		want string
		eof  bool
	}{
		{0, 100, "hello world", true},
		{0, 11, "hello world", true},
		{0, 5, "hello", false},
		{6, 5, "world", true},
		{6, 3, "wor", false},
		{11, 10, "", true},
		{1 << 62, 10, "", true},
		{MaxFileSize + 10, 10, "", true},
		{3, 0, "", false},
	} {
		buf := make([]byte, tc.size)
		n, eof, a, err := e.fs.Read(e.ctx, eve, f, tc.off, buf)
		if err != nil || string(buf[:n]) != tc.want || eof != tc.eof || a.Size != 11 {
			t.Errorf("read(%d, %d) = %q eof %v %v; want %q eof %v", tc.off, tc.size, buf[:n], eof, err, tc.want, tc.eof)
		}
	}

	// Writing in the middle does not shrink; past the end leaves a hole.
	e.write(alice, f, 2, "XY")
	e.write(alice, f, 15, "!")
	buf := make([]byte, 32)
	n, eof, a, _ := e.fs.Read(e.ctx, alice, f, 0, buf)
	if want := "heXYo world\x00\x00\x00\x00!"; string(buf[:n]) != want || !eof || a.Size != 16 {
		t.Fatalf("read %q eof %v size %d", buf[:n], eof, a.Size)
	}

	// Stabilities: anything stable is done as FILE_SYNC.
	for _, tc := range []struct{ ask, got Stability }{{Unstable, Unstable}, {DataSync, FileSync}, {FileSync, FileSync}} {
		_, st, _, err := e.fs.Write(e.ctx, alice, f, 0, []byte("h"), tc.ask)
		if err != nil || st != tc.got {
			t.Errorf("write %v -> %v %v, want %v", tc.ask, st, err, tc.got)
		}
	}

	// A write of nothing changes nothing.
	before := e.attr(f)
	e.clock.advance()
	n, _, wcc, err = e.fs.Write(e.ctx, alice, f, 100, nil, FileSync)
	if err != nil || n != 0 || e.attr(f) != before || wcc.Post != before {
		t.Fatalf("empty write %d %v: %+v", n, err, e.attr(f))
	}
}

func TestWriteErrors(t *testing.T) {
	e := newEnv(t)
	f := e.create(alice, e.root, "f", 0o644)
	d := e.mkdir(alice, e.root, "d", 0o755)
	for _, tc := range []struct {
		what string
		c    *Caller
		h    Handle
		off  uint64
		want error
	}{
		{"dir", alice, d, 0, ErrIsDir},
		{"other on 0644", eve, f, 0, ErrAccess},
		{"offset past max", alice, f, MaxFileSize, ErrFBig},
		{"end past max", alice, f, MaxFileSize - 2, ErrFBig},
		{"huge offset", alice, f, 1 << 63, ErrFBig},
		{"stale", alice, Handle{Share: 1, ID: f.ID, Gen: f.Gen ^ 4}, 0, ErrStale},
		{"last byte", alice, f, MaxFileSize - 3, nil},
	} {
		_, _, wcc, err := e.fs.Write(e.ctx, tc.c, tc.h, tc.off, []byte("abc"), Unstable)
		wantErr(t, "write "+tc.what, err, tc.want)
		if err != nil && err != ErrStale && !wcc.HavePre {
			t.Errorf("write %s: no wcc on error", tc.what)
		}
	}
	_, _, _, err := e.fs.Read(e.ctx, alice, d, 0, make([]byte, 1))
	wantErr(t, "read dir", err, ErrIsDir)
	if a := e.attr(f); a.Size != MaxFileSize || a.Used != 1<<63 {
		t.Fatalf("size at the limit %+v", a)
	}
}

func TestConcurrentWritersKeepSize(t *testing.T) {
	e := newEnv(t)
	f := e.create(alice, e.root, "f", 0o644)
	const writers, chunks, chunk = 8, 50, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := bytes.Repeat([]byte{byte('a' + w)}, chunk)
			for i := range chunks {
				off := uint64((i*writers + w) * chunk)
				if _, _, _, err := e.fs.Write(e.ctx, alice, f, off, data, Unstable); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if a := e.attr(f); a.Size != writers*chunks*chunk {
		t.Fatalf("size %d, want %d", a.Size, writers*chunks*chunk)
	}
	buf := make([]byte, writers*chunks*chunk)
	n, _, _, _ := e.fs.Read(e.ctx, alice, f, 0, buf)
	for i := 0; i < n; i += chunk {
		if want := byte('a' + (i/chunk)%writers); buf[i] != want || buf[i+chunk-1] != want {
			t.Fatalf("chunk at %d is %c, want %c", i, buf[i], want)
		}
	}
}

func TestAtimeRelatime(t *testing.T) {
	e := newEnv(t)
	f := e.create(alice, e.root, "f", 0o644)
	e.write(alice, f, 0, "x") // mtime = ctime = atime = t0

	read := func() Attr {
		_, _, a, err := e.fs.Read(e.ctx, alice, f, 0, make([]byte, 1))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	t1 := e.clock.advance()
	if a := read(); a.Atime != t1 || e.attr(f).Atime != t1 {
		t.Fatalf("first read after a write: atime %d, want %d", a.Atime, t1)
	}
	e.clock.advance()
	if a := read(); a.Atime != t1 {
		t.Fatalf("second read updated atime to %d", a.Atime)
	}
	e.clock.set(t1 + atimeMaxAge)
	if a := read(); a.Atime != t1+atimeMaxAge {
		t.Fatalf("read after a day: atime %d", a.Atime)
	}
	t2 := e.clock.advance()
	e.write(alice, f, 0, "y")
	e.clock.advance()
	if a := read(); a.Atime == t2 || a.Atime != e.clock.now() {
		t.Fatalf("read after write: atime %d", a.Atime)
	}
	// Read of nothing at EOF changes nothing.
	before := e.attr(f)
	e.clock.advance()
	e.fs.Read(e.ctx, alice, f, 10, make([]byte, 1))
	if e.attr(f) != before {
		t.Fatal("read at EOF changed attributes")
	}
}

func TestSetAttrSize(t *testing.T) {
	e := newEnv(t)
	f := e.create(alice, e.root, "f", 0o644)
	e.write(alice, f, 0, "0123456789")
	now := e.clock.advance()
	wcc, err := e.fs.SetAttr(e.ctx, alice, f, SetAttr{Mask: SetSize, Size: 4}, nil)
	if err != nil || wcc.Pre.Size != 10 || wcc.Post.Size != 4 || wcc.Post.Mtime != now || wcc.Post.Ctime != now {
		t.Fatalf("truncate: %+v %v", wcc, err)
	}
	if e.content.Size(f.ID) != 4 {
		t.Fatalf("content length %d", e.content.Size(f.ID))
	}
	// Growing reads zeros, never the old bytes.
	e.setattr(alice, f, SetAttr{Mask: SetSize, Size: 8})
	if s := e.read(alice, f); s != "0123\x00\x00\x00\x00" {
		t.Fatalf("after grow %q", s)
	}
	// Size with explicit mtime keeps that mtime.
	e.setattr(alice, f, SetAttr{Mask: SetSize | SetMtime, Size: 1, Mtime: 42})
	if a := e.attr(f); a.Size != 1 || a.Mtime != 42 {
		t.Fatalf("size+mtime %+v", a)
	}
	d := e.mkdir(alice, e.root, "d", 0o755)
	_, err = e.fs.SetAttr(e.ctx, alice, d, SetAttr{Mask: SetSize}, nil)
	wantErr(t, "size of dir", err, ErrIsDir)
	l, _, _, _ := e.fs.Symlink(e.ctx, alice, e.root, "l", "f", SetAttr{})
	_, err = e.fs.SetAttr(e.ctx, alice, l, SetAttr{Mask: SetSize}, nil)
	wantErr(t, "size of symlink", err, ErrInval)
	_, err = e.fs.SetAttr(e.ctx, alice, f, SetAttr{Mask: SetSize, Size: MaxFileSize + 1}, nil)
	wantErr(t, "size past max", err, ErrFBig)
	_, err = e.fs.SetAttr(e.ctx, eve, f, SetAttr{Mask: SetSize}, nil)
	wantErr(t, "size without write", err, ErrAccess)
	_, err = e.fs.SetAttr(e.ctx, alice, Handle{Share: 1, ID: 1 << 40, Gen: 1 << 32}, SetAttr{Mask: SetSize}, nil)
	wantErr(t, "stale", err, ErrStale)
}

func TestSetAttrGuard(t *testing.T) {
	e := newEnv(t)
	f := e.create(alice, e.root, "f", 0o644)
	ctime := e.attr(f).Ctime
	wrong := ctime + 1
	e.clock.advance()
	wcc, err := e.fs.SetAttr(e.ctx, alice, f, SetAttr{Mask: SetMode, Mode: 0o600}, &wrong)
	wantErr(t, "guard mismatch", err, ErrNotSync)
	if !wcc.HavePre || wcc.Post.Mode != 0o644 || e.attr(f).Mode != 0o644 {
		t.Fatalf("guard mismatch changed the file or lost wcc: %+v", wcc)
	}
	_, err = e.fs.SetAttr(e.ctx, alice, f, SetAttr{Mask: SetMode, Mode: 0o600}, &ctime)
	wantErr(t, "guard match", err, nil)
	if e.attr(f).Mode != 0o600 {
		t.Fatal("guarded setattr not applied")
	}
	// An empty change is accepted and changes nothing.
	before := e.attr(f)
	e.clock.advance()
	_, err = e.fs.SetAttr(e.ctx, eve, f, SetAttr{}, nil)
	if err != nil || e.attr(f) != before {
		t.Fatalf("empty setattr: %v", err)
	}
}

func TestCommit(t *testing.T) {
	e := newEnv(t)
	f := e.create(alice, e.root, "f", 0o644)
	e.write(alice, f, 0, "abc")
	wcc, err := e.fs.Commit(e.ctx, eve, f, 0, 0)
	if err != nil || wcc.Post != e.attr(f) || wcc.Pre.Size != 3 {
		t.Fatalf("commit %+v %v", wcc, err)
	}
	d := e.mkdir(alice, e.root, "d", 0o755)
	_, err = e.fs.Commit(e.ctx, alice, d, 0, 0)
	wantErr(t, "commit dir", err, ErrIsDir)
	_, err = e.fs.Commit(e.ctx, alice, Handle{Share: 1, ID: f.ID, Gen: f.Gen ^ 8}, 0, 0)
	wantErr(t, "commit stale", err, ErrStale)
}

func TestStatFS(t *testing.T) {
	e := newEnv(t)
	st, a, err := e.fs.StatFS(e.ctx, e.root)
	if err != nil || a != e.attr(e.root) || st.TotalBytes != 1<<40 || st.FreeBytes != st.AvailBytes ||
		st.TotalFiles != MaxFiles || st.FreeFiles != MaxFiles-1 || st.AvailFiles != st.FreeFiles {
		t.Fatalf("statfs %+v %v", st, err)
	}
	for i := range 5 {
		e.create(alice, e.root, fmt.Sprint(i), 0o644)
	}
	e.mkdir(alice, e.root, "d", 0o755)
	if n := e.fileCount(); n != 7 {
		t.Fatalf("files %d, want 7", n)
	}
	_, _, err = e.fs.StatFS(e.ctx, Handle{Share: 9, ID: 1, Gen: 9 << 32})
	wantErr(t, "statfs of unknown share", err, ErrStale)
}
