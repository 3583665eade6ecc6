package nfs3

import (
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
)

func TestFSInfo(t *testing.T) {
	e := newEnv(t, Options{MaxRead: 65536, MaxWrite: 32768})
	f := e.create(credUser, e.root, "f", 0644)
	r, st := e.call(ProcFSInfo, credUser, fhArg(f))
	if st != StatusOK {
		t.Fatal(st)
	}
	if a, ok := decPostOpAttr(r); !ok || a != e.attr(f) {
		t.Errorf("attributes %+v", a)
	}
	got := []uint32{r.Uint32(), r.Uint32(), r.Uint32(), r.Uint32(), r.Uint32(), r.Uint32(), r.Uint32()}
	want := []uint32{65536, 65536, 4096, 32768, 32768, 4096, 65536}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("rtmax..dtpref %v, want %v", got, want)
			break
		}
	}
	if m := r.Uint64(); m != fs.MaxFileSize {
		t.Errorf("maxfilesize %d", m)
	}
	if s, ns := r.Uint32(), r.Uint32(); s != 0 || ns != 1 {
		t.Errorf("time_delta %d.%09d", s, ns)
	}
	if p := r.Uint32(); p != 0x1b {
		t.Errorf("properties %#x", p)
	}
	done(t, r)

	// dtpref is never over rtmax.
	e = newEnv(t, Options{MaxRead: 8192})
	r, _ = e.call(ProcFSInfo, credUser, fhArg(e.root))
	decPostOpAttr(r)
	for range 6 {
		r.Uint32()
	}
	if d := r.Uint32(); d != 8192 {
		t.Errorf("dtpref %d", d)
	}
}

func TestPathConf(t *testing.T) {
	e := newEnv(t, Options{})
	r, st := e.call(ProcPathConf, credUser, fhArg(e.root))
	if st != StatusOK {
		t.Fatal(st)
	}
	decPostOpAttr(r)
	if l, n := r.Uint32(), r.Uint32(); l != fs.MaxLinks || n != 255 {
		t.Errorf("linkmax %d name_max %d", l, n)
	}
	if nt, cr, ci, cp := r.Bool(), r.Bool(), r.Bool(), r.Bool(); !nt || !cr || ci || !cp {
		t.Errorf("no_trunc %v chown_restricted %v case_insensitive %v case_preserving %v", nt, cr, ci, cp)
	}
	done(t, r)
}

func TestFSStat(t *testing.T) {
	e := newEnv(t, Options{}, fs.ShareConfig{Name: "export"}, restricted)
	st0, _, err := e.fs.StatFS(t.Context(), e.root)
	if err != nil {
		t.Fatal(err)
	}
	r, st := e.call(ProcFSStat, credUser, fhArg(e.root))
	if st != StatusOK {
		t.Fatal(st)
	}
	if a, ok := decPostOpAttr(r); !ok || a != e.attr(e.root) {
		t.Errorf("attributes %+v", a)
	}
	got := fs.FSStat{
		TotalBytes: r.Uint64(), FreeBytes: r.Uint64(), AvailBytes: r.Uint64(),
		TotalFiles: r.Uint64(), FreeFiles: r.Uint64(), AvailFiles: r.Uint64(),
	}
	if got != st0 {
		t.Errorf("got %+v, want %+v", got, st0)
	}
	if inv := r.Uint32(); inv != 0 {
		t.Errorf("invarsec %d", inv)
	}
	done(t, r)

	rroot, _, _ := e.fs.Share("restricted")
	e.addr = outsider
	for _, p := range []uint32{ProcFSStat, ProcFSInfo, ProcPathConf} {
		r, st = e.call(p, credUser, fhArg(rroot))
		if st != StatusAccess {
			t.Errorf("%s from outside: %v", procNames[p], st)
		}
		if _, ok := decPostOpAttr(r); ok {
			t.Errorf("%s: attributes leaked to an outsider", procNames[p])
		}
		done(t, r)
	}
}
