package nfs3

import (
	"bytes"
	"errors"
	"net"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

func TestDispatch(t *testing.T) {
	e := newEnv(t, Options{})
	b, err := e.serve(ProcNull, credNone, nil)
	if err != nil || len(b) != 0 {
		t.Errorf("NULL: %x %v", b, err)
	}
	// NULL answers any flavor; the others only AUTH_SYS and AUTH_NONE.
	if _, err := e.serve(ProcNull, rpc.Cred{Flavor: 6}, nil); err != nil {
		t.Errorf("NULL, flavor 6: %v", err)
	}
	if _, err := e.serve(ProcGetAttr, rpc.Cred{Flavor: rpc.AuthShort}, fhArg(e.root)); !errors.Is(err, rpc.ErrAuthTooWeak) {
		t.Errorf("GETATTR, AUTH_SHORT: %v", err)
	}
	for _, p := range []uint32{numProcs, 1000, 1<<32 - 1} {
		if _, err := e.serve(p, credRoot, nil); !errors.Is(err, rpc.ErrProcUnavail) {
			t.Errorf("proc %d: %v", p, err)
		}
	}
	// Every procedure refuses truncated arguments at the RPC level.
	for proc, args := range seedArgs() {
		for _, n := range []int{0, len(args) - 1} {
			_, err := e.serve(proc, credRoot, func(w *xdr.Writer) { w.FixedOpaque(args[:n&^3]) })
			if !errors.Is(err, rpc.ErrGarbageArgs) {
				t.Errorf("%s with %d of %d bytes: %v", procNames[proc], n&^3, len(args), err)
			}
		}
	}
}

// TestBadHandles checks every procedure's answer to a handle that is not
// ours (BADHANDLE) and to one of a removed file (STALE), each with its
// failure body.
func TestBadHandles(t *testing.T) {
	e := newEnv(t, Options{})
	for proc, args := range seedArgs() {
		for _, c := range []struct {
			fh   []byte
			want Status
		}{
			{testFH, StatusBadHandle},           // right length, wrong form
			{make([]byte, 8), StatusBadHandle},  // wrong length
			{e.stale().Bytes(), StatusStale},    // ours, no such file
			{make([]byte, 64), StatusBadHandle}, // the longest nfs_fh3
			{[]byte{}, StatusBadHandle},         // empty
		} {
			// Replace every handle of the seed arguments.
			b, err := e.serve(proc, credRoot, func(w *xdr.Writer) {
				w.FixedOpaque(bytes.ReplaceAll(args, encodedFH(testFH), encodedFH(c.fh)))
			})
			if err != nil {
				t.Errorf("%s: %v", procNames[proc], err)
				continue
			}
			r := xdr.NewReader(b)
			if st := Status(r.Uint32()); st != c.want {
				t.Errorf("%s with %x: %v, want %v", procNames[proc], c.fh, st, c.want)
				continue
			}
			// The failure body: no attributes, nothing more.
			switch proc {
			case ProcGetAttr:
			case ProcSetAttr, ProcWrite, ProcCreate, ProcMkdir, ProcSymlink, ProcMknod,
				ProcRemove, ProcRmdir, ProcCommit:
				if wcc := decWcc(r); wcc.HavePre || wcc.HavePost {
					t.Errorf("%s: wcc %+v", procNames[proc], wcc)
				}
			case ProcRename:
				decWcc(r)
				decWcc(r)
			case ProcLink:
				decPostOpAttr(r)
				decWcc(r)
			default:
				if _, ok := decPostOpAttr(r); ok {
					t.Errorf("%s: attributes on %v", procNames[proc], c.want)
				}
			}
			done(t, r)
		}
	}
}

func encodedFH(fh []byte) []byte {
	w := xdr.NewWriter(nil)
	w.Opaque(fh)
	return w.Bytes()
}

func TestGetAttr(t *testing.T) {
	e := newEnv(t, Options{}, fs.ShareConfig{Name: "export"}, restricted)
	r, st := e.call(ProcGetAttr, credRoot, fhArg(e.root))
	if st != StatusOK {
		t.Fatal(st)
	}
	a := decFattr3(r)
	done(t, r)
	if want := e.attr(e.root); a != want {
		t.Errorf("got %+v\nwant %+v", a, want)
	}
	if a.Type != typeDir || a.Mode != 0777 || a.UID != 0 || a.Atime == 0 {
		t.Errorf("root attributes %+v", a)
	}

	// A client outside the share's networks.
	rroot, _, _ := e.fs.Share("restricted")
	e.addr = outsider
	r, st = e.call(ProcGetAttr, credRoot, fhArg(rroot))
	if st != StatusAccess {
		t.Errorf("outsider: %v", st)
	}
	done(t, r)
	e.addr = &net.TCPAddr{IP: net.ParseIP("::ffff:10.1.2.3"), Port: 700} // mapped IPv4 matches
	if _, st = e.call(ProcGetAttr, credRoot, fhArg(rroot)); st != StatusOK {
		t.Errorf("10.1.2.3 as mapped IPv6: %v", st)
	}
}

func sattrArgs(fh fs.Handle, s clientSattr, guard *int64) func(w *xdr.Writer) {
	return func(w *xdr.Writer) {
		w.Opaque(fh.Bytes())
		encSattr(w, s)
		w.Bool(guard != nil)
		if guard != nil {
			w.Uint32(uint32(*guard / 1e9))
			w.Uint32(uint32(*guard % 1e9))
		}
	}
}

func TestSetAttr(t *testing.T) {
	e := newEnv(t, Options{})
	f := e.create(credUser, e.root, "f", 0644)
	e.writeFile(credUser, f, 0, []byte("0123456789"))
	before := e.attr(f)

	// Truncate and chmod, guarded by the right ctime.
	e.now += 5e9
	r, st := e.call(ProcSetAttr, credUser, sattrArgs(f, clientSattr{mode: u32(0600), size: u64(4)}, &before.Ctime))
	if st != StatusOK {
		t.Fatal(st)
	}
	wcc := decWcc(r)
	done(t, r)
	after := e.attr(f)
	want := fs.Wcc{HavePre: true, Pre: fs.WccAttr{Size: 10, Mtime: before.Mtime, Ctime: before.Ctime}, HavePost: true, Post: after}
	if wcc != want {
		t.Errorf("wcc\n got %+v\nwant %+v", wcc, want)
	}
	if after.Size != 4 || after.Mode != 0600 || after.Ctime != e.now {
		t.Errorf("after %+v", after)
	}

	// The guard no longer matches.
	r, st = e.call(ProcSetAttr, credUser, sattrArgs(f, clientSattr{size: u64(0)}, &before.Ctime))
	if st != StatusNotSync {
		t.Errorf("stale guard: %v", st)
	}
	if wcc := decWcc(r); !wcc.HavePre || !wcc.HavePost || wcc.Post != after {
		t.Errorf("NOT_SYNC wcc %+v", wcc)
	}
	done(t, r)

	// Times from the client and from the server.
	r, st = e.call(ProcSetAttr, credUser, sattrArgs(f, clientSattr{
		atimeHow: setToClientTime, atime: [2]uint32{1000, 7}, mtimeHow: setToServerTime,
	}, nil))
	if st != StatusOK {
		t.Fatal(st)
	}
	if wcc := decWcc(r); wcc.Post.Atime != 1000e9+7 || wcc.Post.Mtime != e.now {
		t.Errorf("times %+v", wcc.Post)
	}

	// Someone else may not chmod; nobody may chown to another user but root.
	other := rpc.Cred{Flavor: rpc.AuthSys, UID: 2000, GID: 2000}
	if _, st = e.call(ProcSetAttr, other, sattrArgs(f, clientSattr{mode: u32(0777)}, nil)); st != StatusPerm {
		t.Errorf("chmod by other: %v", st)
	}
	if _, st = e.call(ProcSetAttr, credUser, sattrArgs(f, clientSattr{uid: u32(2000)}, nil)); st != StatusPerm {
		t.Errorf("chown by owner: %v", st)
	}
	if _, st = e.call(ProcSetAttr, credRoot, sattrArgs(f, clientSattr{uid: u32(2000)}, nil)); st != StatusOK {
		t.Errorf("chown by root: %v", st)
	}
	// A directory has no size to set.
	if _, st = e.call(ProcSetAttr, credRoot, sattrArgs(e.root, clientSattr{size: u64(0)}, nil)); st != StatusIsDir {
		t.Errorf("truncate a directory: %v", st)
	}
}

func TestAccess(t *testing.T) {
	e := newEnv(t, Options{})
	f := e.create(credUser, e.root, "f", 0640)
	all := fs.AccessRead | fs.AccessLookup | fs.AccessModify | fs.AccessExtend | fs.AccessDelete | fs.AccessExecute
	for _, c := range []struct {
		cred rpc.Cred
		want uint32
	}{
		{credUser, fs.AccessRead | fs.AccessModify | fs.AccessExtend},
		{rpc.Cred{Flavor: rpc.AuthSys, UID: 2000, GID: 1000}, fs.AccessRead},
		{rpc.Cred{Flavor: rpc.AuthSys, UID: 2000, GID: 2000}, 0},
	} {
		r, st := e.call(ProcAccess, c.cred, func(w *xdr.Writer) { w.Opaque(f.Bytes()); w.Uint32(all) })
		if st != StatusOK {
			t.Fatal(st)
		}
		if a, ok := decPostOpAttr(r); !ok || a != e.attr(f) {
			t.Errorf("attributes %v %+v", ok, a)
		}
		if got := r.Uint32(); got != c.want {
			t.Errorf("uid %d gid %d: access %#x, want %#x", c.cred.UID, c.cred.GID, got, c.want)
		}
		done(t, r)
	}
	// Only the bits asked for are answered.
	r, _ := e.call(ProcAccess, credUser, func(w *xdr.Writer) { w.Opaque(f.Bytes()); w.Uint32(fs.AccessRead) })
	decPostOpAttr(r)
	if got := r.Uint32(); got != fs.AccessRead {
		t.Errorf("asked READ: %#x", got)
	}
}
