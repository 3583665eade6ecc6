package nfs3

import (
	"fmt"
	"slices"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

type listed struct {
	name   string
	fileid uint64
	cookie uint64
	attr   fs.Attr
	fh     fs.Handle
}

type listing struct {
	dirAttr fs.Attr
	verf    uint64
	entries []listed
	eof     bool
	size    int // bytes of the results
}

// readdir runs READDIR (dircount 0) or READDIRPLUS and decodes the reply.
func (e *env) readdir(plus bool, dir fs.Handle, cookie, verf uint64, dircount, maxcount uint32) (listing, Status) {
	e.t.Helper()
	proc := uint32(ProcReadDir)
	if plus {
		proc = ProcReadDirPlus
	}
	b, err := e.serve(proc, credUser, func(w *xdr.Writer) {
		w.Opaque(dir.Bytes())
		w.Uint64(cookie)
		w.Uint64(verf)
		if plus {
			w.Uint32(dircount)
		}
		w.Uint32(maxcount)
	})
	if err != nil {
		e.t.Fatal(err)
	}
	r := xdr.NewReader(b)
	l := listing{size: len(b)}
	st := Status(r.Uint32())
	var ok bool
	if l.dirAttr, ok = decPostOpAttr(r); !ok {
		e.t.Errorf("no directory attributes (%v)", st)
	}
	if st != StatusOK {
		done(e.t, r)
		return l, st
	}
	l.verf = r.Uint64()
	for r.Bool() {
		var ent listed
		ent.fileid = r.Uint64()
		ent.name = r.String(255)
		ent.cookie = r.Uint64()
		if plus {
			if ent.attr, ok = decPostOpAttr(r); !ok {
				e.t.Errorf("%s: no attributes", ent.name)
			}
			if ent.fh, ok = decPostOpFH(e.t, r); !ok {
				e.t.Errorf("%s: no handle", ent.name)
			}
		}
		l.entries = append(l.entries, ent)
	}
	l.eof = r.Bool()
	done(e.t, r)
	return l, st
}

func names(l listing) []string {
	var ns []string
	for _, e := range l.entries {
		ns = append(ns, e.name)
	}
	return ns
}

func TestReadDir(t *testing.T) {
	e := newEnv(t, Options{})
	d := e.mkdir(credUser, e.root, "d", 0755)
	var want []string
	files := map[string]fs.Handle{}
	for i := range 20 {
		n := fmt.Sprintf("file-%02d", i)
		files[n] = e.create(credUser, d, n, 0644)
		want = append(want, n)
	}

	for _, plus := range []bool{false, true} {
		l, st := e.readdir(plus, d, 0, 0, 65536, 65536)
		if st != StatusOK {
			t.Fatal(st)
		}
		if !l.eof || l.dirAttr != e.attr(d) {
			t.Errorf("plus %v: eof %v, dir attributes %+v", plus, l.eof, l.dirAttr)
		}
		got := names(l)
		if !slices.Equal(got[:2], []string{".", ".."}) || !slices.Equal(got[2:], want) {
			t.Errorf("plus %v: %v", plus, got)
		}
		for _, ent := range l.entries[2:] {
			fh := files[ent.name]
			if ent.fileid != fh.ID {
				t.Errorf("%s: fileid %d", ent.name, ent.fileid)
			}
			if plus && (ent.fh != fh || ent.attr != e.attr(fh)) {
				t.Errorf("%s: handle %+v attributes %+v", ent.name, ent.fh, ent.attr)
			}
		}
	}

	// Page through with a small count: every reply fits, and together
	// they list everything once.
	for _, plus := range []bool{false, true} {
		var got []string
		var cookie, verf uint64
		for pages := 0; ; pages++ {
			if pages > 40 {
				t.Fatal("no end")
			}
			const max = 600
			l, st := e.readdir(plus, d, cookie, verf, max, max)
			if st != StatusOK {
				t.Fatal(st)
			}
			if l.size > max {
				t.Errorf("reply of %d bytes over count %d", l.size, max)
			}
			if len(l.entries) == 0 && !l.eof {
				t.Fatal("empty page before eof")
			}
			got = append(got, names(l)...)
			if l.eof {
				break
			}
			cookie, verf = l.entries[len(l.entries)-1].cookie, l.verf
		}
		if !slices.Equal(got[2:], want) {
			t.Errorf("plus %v: paged %v", plus, got)
		}
	}

	// dircount bounds the directory part of READDIRPLUS: each entry here
	// is 8+4+8+8 bytes of it, and the first always goes.
	l, _ := e.readdir(true, d, 0, 0, 100, 65536)
	if len(l.entries) != 3 || l.eof {
		t.Errorf("dircount 100: %v eof %v", names(l), l.eof)
	}
	l, _ = e.readdir(true, d, 0, 0, 1, 65536)
	if len(l.entries) != 1 {
		t.Errorf("dircount 1: %v", names(l))
	}

	// Not even one entry fits.
	for _, plus := range []bool{false, true} {
		if _, st := e.readdir(plus, d, 0, 0, 100, 100); st != StatusTooSmall {
			t.Errorf("plus %v, count 100: %v", plus, st)
		}
	}

	// A cookie from another directory state: fs decides with the verifier.
	l, _ = e.readdir(false, d, 0, 0, 0, 65536)
	last := l.entries[len(l.entries)-1].cookie
	if _, st := e.readdir(false, d, last, l.verf^1, 0, 65536); st != StatusBadCookie {
		t.Errorf("bad verifier: %v", st)
	}
	if _, st := e.readdir(false, e.root, 0, 0, 0, 65536); st != StatusOK {
		t.Errorf("root: %v", st)
	}
	f := files["file-00"]
	if _, st := e.readdir(false, f, 0, 0, 0, 65536); st != StatusNotDir {
		t.Errorf("READDIR of a file: %v", st)
	}
}

func TestReadDirLimit(t *testing.T) {
	// A client's count over MaxRead is clamped to it.
	e := newEnv(t, Options{MaxRead: 1024})
	for i := range 100 {
		e.create(credUser, e.root, fmt.Sprintf("a-rather-long-file-name-%03d", i), 0644)
	}
	l, st := e.readdir(true, e.root, 0, 0, 1<<30, 1<<30)
	if st != StatusOK || l.size > 1024 || l.eof || len(l.entries) == 0 {
		t.Errorf("%v: %d bytes, eof %v, %d entries", st, l.size, l.eof, len(l.entries))
	}
}
