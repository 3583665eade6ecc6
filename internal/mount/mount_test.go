package mount

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	contentmem "github.com/tandemfs/tandem/internal/content/memory"
	"github.com/tandemfs/tandem/internal/fs"
	metamem "github.com/tandemfs/tandem/internal/meta/memory"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

type env struct {
	t  testing.TB
	fs *fs.FS
	h  *Handler
}

func newEnv(t testing.TB) *env {
	t.Helper()
	f, err := fs.New(metamem.New(), contentmem.New(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []fs.ShareConfig{
		{Name: "export"},
		{Name: "lab", Clients: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}},
	} {
		if _, err := f.AddShare(context.Background(), s); err != nil {
			t.Fatal(err)
		}
	}
	return &env{t: t, fs: f, h: New(f, Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})}
}

var (
	local    = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 800}
	labHost  = &net.TCPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 800}
	credSys  = rpc.Cred{Flavor: rpc.AuthSys, MachineName: "client", UID: 1000, GID: 1000}
	credNone = rpc.Cred{Flavor: rpc.AuthNone}
)

func (e *env) serve(vers, proc uint32, cred rpc.Cred, from net.Addr, args []byte) ([]byte, error) {
	c := &rpc.Call{Prog: Program, Vers: vers, Proc: proc, Cred: cred, Args: xdr.NewReader(args), Network: "tcp", RemoteAddr: from}
	w := xdr.NewWriter(nil)
	w.Uint32(0xfeedface) // stands for the RPC header
	err := e.h.ServeRPC(context.Background(), c, w)
	b := w.Bytes()
	if len(b) < 4 || b[0] != 0xfe || b[3] != 0xce {
		e.t.Fatalf("reply header overwritten: %x", b)
	}
	return b[4:], err
}

func pathArg(p string) []byte {
	w := xdr.NewWriter(nil)
	w.String(p)
	return w.Bytes()
}

func done(t *testing.T, r *xdr.Reader) {
	t.Helper()
	if r.Err() != nil || r.Remaining() != 0 {
		t.Fatalf("reply: %v, %d bytes left", r.Err(), r.Remaining())
	}
}

func (e *env) mnt(t *testing.T, vers uint32, path string, from net.Addr) (Status, []byte, []uint32) {
	t.Helper()
	b, err := e.serve(vers, ProcMnt, credSys, from, pathArg(path))
	if err != nil {
		t.Fatalf("MNT %q: %v", path, err)
	}
	r := xdr.NewReader(b)
	st := Status(r.Uint32())
	if st != StatusOK {
		done(t, r)
		return st, nil, nil
	}
	if vers < Version3 {
		fh := r.FixedOpaque(fhSizeV1)
		done(t, r)
		return st, fh, nil
	}
	fh := r.Opaque(64)
	flavors := make([]uint32, r.Uint32())
	for i := range flavors {
		flavors[i] = r.Uint32()
	}
	done(t, r)
	return st, fh, flavors
}

func TestMnt(t *testing.T) {
	e := newEnv(t)
	root, _, _ := e.fs.Share("export")
	for _, p := range []string{"/export", "/export/", "//export", "/export/."} {
		st, fh, flavors := e.mnt(t, Version3, p, local)
		if st != StatusOK {
			t.Errorf("%q: %v", p, st)
			continue
		}
		if h, err := fs.ParseHandle(fh); err != nil || h != root {
			t.Errorf("%q: handle %x (%v)", p, fh, err)
		}
		if !slices.Equal(flavors, []uint32{rpc.AuthSys, rpc.AuthNone}) {
			t.Errorf("flavors %v", flavors)
		}
	}
	for _, p := range []string{"export", "/", "", "/nothere", "/export/sub", "/exp"} {
		if st, _, _ := e.mnt(t, Version3, p, local); st != StatusNoEnt {
			t.Errorf("%q: %v", p, st)
		}
	}
	// A share open only to some networks.
	if st, _, _ := e.mnt(t, Version3, "/lab", local); st != StatusAccess {
		t.Errorf("/lab from 127.0.0.1: %v", st)
	}
	if st, _, _ := e.mnt(t, Version3, "/lab", labHost); st != StatusOK {
		t.Errorf("/lab from 10.1.2.3: %v", st)
	}
	// Version 1: a 32-byte handle, ours zero-padded.
	st, fh, _ := e.mnt(t, Version1, "/export", local)
	if st != StatusOK || string(fh[:fs.HandleSize]) != string(root.Bytes()) || strings.Trim(string(fh[fs.HandleSize:]), "\x00") != "" {
		t.Errorf("v1: %v %x", st, fh)
	}
	// Garbage and credentials.
	if _, err := e.serve(Version3, ProcMnt, credSys, local, pathArg(strings.Repeat("/x", 513))); !errors.Is(err, rpc.ErrGarbageArgs) {
		t.Errorf("1026-byte path: %v", err)
	}
	if _, err := e.serve(Version3, ProcMnt, credSys, local, []byte{0, 0}); !errors.Is(err, rpc.ErrGarbageArgs) {
		t.Errorf("short: %v", err)
	}
	if _, err := e.serve(Version3, ProcMnt, rpc.Cred{Flavor: 6}, local, pathArg("/export")); !errors.Is(err, rpc.ErrAuthTooWeak) {
		t.Errorf("flavor 6: %v", err)
	}
	if b, err := e.serve(Version3, ProcMnt, credNone, local, pathArg("/export")); err != nil || b[3] != 0 {
		t.Errorf("AUTH_NONE: %x %v", b, err)
	}
}

func dump(t *testing.T, e *env) []Mount {
	t.Helper()
	b, err := e.serve(Version3, ProcDump, credNone, local, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := xdr.NewReader(b)
	var ms []Mount
	for r.Bool() {
		ms = append(ms, Mount{Host: r.String(maxNameLen), Path: r.String(maxPathLen)})
	}
	done(t, r)
	return ms
}

func TestDumpUmnt(t *testing.T) {
	e := newEnv(t)
	if ms := dump(t, e); len(ms) != 0 {
		t.Errorf("fresh: %v", ms)
	}
	e.mnt(t, Version3, "/export", local)
	e.mnt(t, Version3, "/export/", local) // the same mount again
	e.mnt(t, Version3, "/lab", labHost)
	e.mnt(t, Version3, "/export", labHost)
	e.mnt(t, Version3, "/lab", local) // refused: not listed
	e.mnt(t, Version3, "/nothere", local)
	want := []Mount{{"10.1.2.3", "/export"}, {"10.1.2.3", "/lab"}, {"127.0.0.1", "/export"}}
	if ms := dump(t, e); !slices.Equal(ms, want) {
		t.Errorf("dump %v, want %v", ms, want)
	}
	if !slices.Equal(e.h.Mounts(), want) {
		t.Errorf("Mounts %v", e.h.Mounts())
	}

	b, err := e.serve(Version3, ProcUmnt, credSys, labHost, pathArg("/lab/"))
	if err != nil || len(b) != 0 {
		t.Fatalf("UMNT: %x %v", b, err)
	}
	if ms := dump(t, e); !slices.Equal(ms, []Mount{{"10.1.2.3", "/export"}, {"127.0.0.1", "/export"}}) {
		t.Errorf("after UMNT: %v", ms)
	}
	e.mnt(t, Version3, "/lab", labHost)
	if b, err := e.serve(Version3, ProcUmntAll, credSys, labHost, nil); err != nil || len(b) != 0 {
		t.Fatalf("UMNTALL: %x %v", b, err)
	}
	if ms := dump(t, e); !slices.Equal(ms, []Mount{{"127.0.0.1", "/export"}}) {
		t.Errorf("after UMNTALL: %v", ms)
	}
	// Unmounting what was never mounted is not an error.
	if _, err := e.serve(Version3, ProcUmnt, credSys, local, pathArg("/nothere")); err != nil {
		t.Errorf("UMNT unknown: %v", err)
	}
	if _, err := e.serve(Version3, ProcUmnt, credSys, local, nil); !errors.Is(err, rpc.ErrGarbageArgs) {
		t.Errorf("UMNT without a path: %v", err)
	}
}

func TestExport(t *testing.T) {
	e := newEnv(t)
	for _, vers := range []uint32{Version1, 2, Version3} {
		b, err := e.serve(vers, ProcExport, credNone, local, nil)
		if err != nil {
			t.Fatal(err)
		}
		r := xdr.NewReader(b)
		got := map[string][]string{}
		for r.Bool() {
			dir := r.String(maxPathLen)
			groups := []string{}
			for r.Bool() {
				groups = append(groups, r.String(maxNameLen))
			}
			got[dir] = groups
		}
		done(t, r)
		if len(got) != 2 || len(got["/export"]) != 0 || !slices.Equal(got["/lab"], []string{"10.0.0.0/8", "fd00::/8"}) {
			t.Errorf("v%d: %v", vers, got)
		}
	}
}

func TestNullAndUnknown(t *testing.T) {
	e := newEnv(t)
	if b, err := e.serve(Version3, ProcNull, credNone, local, nil); err != nil || len(b) != 0 {
		t.Errorf("NULL: %x %v", b, err)
	}
	for _, p := range []uint32{6, 7, 1 << 31} {
		if _, err := e.serve(Version3, p, credNone, local, nil); !errors.Is(err, rpc.ErrProcUnavail) {
			t.Errorf("proc %d: %v", p, err)
		}
	}
}

func TestMountListBound(t *testing.T) {
	var l mountList
	for i := range maxMounts + 10 {
		l.add(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String(), "/export")
	}
	if n := len(l.list()); n != maxMounts {
		t.Errorf("%d mounts listed", n)
	}
}

func TestShareName(t *testing.T) {
	for p, want := range map[string]string{
		"/export": "export", "/export/": "export", "/a/../export": "export", "/x/y": "", "/": "", "": "", "x": "",
	} {
		got, ok := shareName(p)
		if got != want || ok != (want != "") {
			t.Errorf("%q: %q %v", p, got, ok)
		}
	}
}

// FuzzArgs sends arbitrary arguments to every MOUNT procedure of every
// version; nothing may panic, and an answered MNT starts with a status.
func FuzzArgs(f *testing.F) {
	for _, p := range []string{"/export", "/lab", "/export/", "/", ""} {
		for proc := range uint8(6) {
			f.Add(proc, uint8(3), pathArg(p))
		}
	}
	f.Add(uint8(ProcMnt), uint8(1), []byte{0xff, 0xff, 0xff, 0xff})
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, proc, vers uint8, args []byte) {
		e.t = t
		b, err := e.serve(uint32(vers%3)+1, uint32(proc%8), credSys, labHost, args)
		if err == nil && proc%8 == ProcMnt && len(b) < 4 {
			t.Fatalf("MNT reply %x", b)
		}
	})
}

type fakeAddr string

func (a fakeAddr) Network() string { return "fake" }
func (a fakeAddr) String() string  { return string(a) }

func TestHostOf(t *testing.T) {
	for _, c := range []struct {
		addr    net.Addr
		machine string
		want    string
	}{
		{&net.UDPAddr{IP: net.ParseIP("::ffff:10.0.0.2"), Port: 1}, "m", "10.0.0.2"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 1}, "m", "2001:db8::1"},
		{fakeAddr("192.0.2.7:99"), "m", "192.0.2.7"},
		{fakeAddr("pipe"), "machine", "machine"},
		{nil, "machine", "machine"},
		{nil, strings.Repeat("m", 256), ""},
	} {
		call := &rpc.Call{RemoteAddr: c.addr, Cred: rpc.Cred{MachineName: c.machine}}
		if got := hostOf(call); got != c.want {
			t.Errorf("%v %q: %q, want %q", c.addr, c.machine, got, c.want)
		}
	}
}

func TestStatusOf(t *testing.T) {
	for err, want := range map[error]Status{
		fs.ErrAccess: StatusAccess, fs.ErrPerm: StatusPerm, fs.ErrNotExist: StatusNoEnt,
		fs.ErrStale: StatusNoEnt, fs.ErrBadHandle: StatusNoEnt, fs.ErrNotDir: StatusNotDir,
		fs.ErrIO: StatusIO, fs.ErrInval: StatusInval, fs.ErrNameTooLong: StatusNameTooLong,
		fs.ErrJukebox: StatusServerFault, errors.New("x"): StatusServerFault,
	} {
		if got := statusOf(err); got != want {
			t.Errorf("%v: %d, want %d", err, got, want)
		}
	}
}
