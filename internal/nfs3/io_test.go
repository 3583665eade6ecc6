package nfs3

import (
	"bytes"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

func readArgs(fh fs.Handle, off uint64, count uint32) func(w *xdr.Writer) {
	return func(w *xdr.Writer) { w.Opaque(fh.Bytes()); w.Uint64(off); w.Uint32(count) }
}

func TestRead(t *testing.T) {
	e := newEnv(t, Options{MaxRead: 8})
	f := e.create(credUser, e.root, "f", 0644)
	e.writeFile(credUser, f, 0, []byte("hello, world"))

	for _, c := range []struct {
		off   uint64
		count uint32
		data  string
		eof   bool
	}{
		{0, 5, "hello", false},
		{7, 5, "world", true},
		{7, 100, "world", true},
		{0, 100, "hello, w", false}, // clamped to MaxRead
		{10, 2, "ld", true},
		{12, 4, "", true},
		{100, 4, "", true},
		{3, 0, "", false},
	} {
		r, st := e.call(ProcRead, credUser, readArgs(f, c.off, c.count))
		if st != StatusOK {
			t.Fatalf("READ %d+%d: %v", c.off, c.count, st)
		}
		if a, ok := decPostOpAttr(r); !ok || a != e.attr(f) {
			t.Errorf("attributes %v %+v", ok, a)
		}
		n := r.Uint32()
		eof := r.Bool()
		data := r.Opaque(1 << 20)
		done(t, r)
		if int(n) != len(c.data) || string(data) != c.data || eof != c.eof {
			t.Errorf("READ %d+%d: count %d eof %v %q, want eof %v %q", c.off, c.count, n, eof, data, c.eof, c.data)
		}
	}

	for _, c := range []struct {
		fh   fs.Handle
		cred rpc.Cred
		want Status
	}{
		{e.root, credUser, StatusIsDir},
		{f, rpc.Cred{Flavor: rpc.AuthSys, UID: 2000, GID: 2000, GIDs: nil}, StatusOK}, // 0644: others read
	} {
		r, st := e.call(ProcRead, c.cred, readArgs(c.fh, 0, 4))
		if st != c.want {
			t.Errorf("READ: %v, want %v", st, c.want)
		}
		if st != StatusOK {
			if _, ok := decPostOpAttr(r); !ok {
				t.Error("no attributes on failure")
			}
			done(t, r)
		}
	}
	e.call(ProcSetAttr, credUser, sattrArgs(f, clientSattr{mode: u32(0600)}, nil))
	r, st := e.call(ProcRead, rpc.Cred{Flavor: rpc.AuthSys, UID: 2000, GID: 2000}, readArgs(f, 0, 4))
	if st != StatusAccess {
		t.Errorf("READ without permission: %v", st)
	}
	decPostOpAttr(r)
	done(t, r)
}

// TestReadPadding checks the length and zero padding of the data for
// every length modulo 4.
func TestReadPadding(t *testing.T) {
	e := newEnv(t, Options{})
	f := e.create(credUser, e.root, "f", 0644)
	e.writeFile(credUser, f, 0, []byte("abcdefgh"))
	for n := range 8 {
		b, err := e.serve(ProcRead, credUser, readArgs(f, 0, uint32(n)))
		if err != nil {
			t.Fatal(err)
		}
		want := []byte("abcdefgh")[:n]
		tail := b[len(b)-(n+3)&^3:]
		if !bytes.Equal(tail[:n], want) || !bytes.Equal(tail[n:], make([]byte, len(tail)-n)) {
			t.Errorf("n=%d: data %x", n, tail)
		}
		if want := 4 + 4 + fattr3Size + 12 + (n+3)&^3; len(b) != want {
			t.Errorf("n=%d: reply %d bytes, want %d", n, len(b), want)
		}
	}
}

func writeArgsOf(fh fs.Handle, off uint64, count uint32, stable fs.Stability, data []byte) func(w *xdr.Writer) {
	return func(w *xdr.Writer) {
		w.Opaque(fh.Bytes())
		w.Uint64(off)
		w.Uint32(count)
		w.Uint32(uint32(stable))
		w.Opaque(data)
	}
}

func TestWrite(t *testing.T) {
	e := newEnv(t, Options{MaxWrite: 6})
	f := e.create(credUser, e.root, "f", 0644)
	verf := e.fs.WriteVerifier()

	for _, stable := range []fs.Stability{fs.Unstable, fs.DataSync, fs.FileSync} {
		before := e.attr(f)
		e.now += 1e9
		r, st := e.call(ProcWrite, credUser, writeArgsOf(f, before.Size, 3, stable, []byte("abc")))
		if st != StatusOK {
			t.Fatal(st)
		}
		wcc := decWcc(r)
		if !wcc.HavePre || wcc.Pre.Size != before.Size || wcc.Pre.Mtime != before.Mtime || wcc.Post != e.attr(f) || wcc.Post.Size != before.Size+3 {
			t.Errorf("wcc %+v", wcc)
		}
		if n := r.Uint32(); n != 3 {
			t.Errorf("count %d", n)
		}
		if got := fs.Stability(r.Uint32()); got < stable {
			t.Errorf("asked %d, committed %d", stable, got)
		}
		if v := r.FixedOpaque(8); !bytes.Equal(v, verf[:]) {
			t.Errorf("verifier %x, want %x", v, verf)
		}
		done(t, r)
	}

	// Over MaxWrite: a short write.
	r, st := e.call(ProcWrite, credUser, writeArgsOf(f, 0, 10, fs.FileSync, []byte("0123456789")))
	if st != StatusOK {
		t.Fatal(st)
	}
	decWcc(r)
	if n := r.Uint32(); n != 6 {
		t.Errorf("short write count %d", n)
	}

	// count and data disagree.
	r, st = e.call(ProcWrite, credUser, writeArgsOf(f, 0, 4, fs.FileSync, []byte("abc")))
	if st != StatusInval {
		t.Errorf("count mismatch: %v", st)
	}
	decWcc(r)
	done(t, r)

	for _, c := range []struct {
		fh   fs.Handle
		cred rpc.Cred
		want Status
	}{
		{e.root, credUser, StatusIsDir},
		{f, rpc.Cred{Flavor: rpc.AuthSys, UID: 2000, GID: 2000}, StatusAccess},
	} {
		r, st := e.call(ProcWrite, c.cred, writeArgsOf(c.fh, 0, 1, fs.FileSync, []byte("x")))
		if st != c.want {
			t.Errorf("WRITE: %v, want %v", st, c.want)
		}
		if wcc := decWcc(r); !wcc.HavePost {
			t.Errorf("no wcc on %v", st)
		}
		done(t, r)
	}
}

func TestCommit(t *testing.T) {
	e := newEnv(t, Options{})
	f := e.create(credUser, e.root, "f", 0644)
	e.call(ProcWrite, credUser, writeArgsOf(f, 0, 3, fs.Unstable, []byte("abc")))
	r, st := e.call(ProcCommit, credUser, readArgs(f, 0, 0))
	if st != StatusOK {
		t.Fatal(st)
	}
	if wcc := decWcc(r); wcc.Post != e.attr(f) {
		t.Errorf("wcc %+v", wcc)
	}
	verf := e.fs.WriteVerifier()
	if v := r.FixedOpaque(8); !bytes.Equal(v, verf[:]) {
		t.Errorf("verifier %x", v)
	}
	done(t, r)

	r, st = e.call(ProcCommit, credUser, readArgs(e.root, 0, 0))
	if st != StatusIsDir {
		t.Errorf("COMMIT dir: %v", st)
	}
	decWcc(r)
	done(t, r)
}
