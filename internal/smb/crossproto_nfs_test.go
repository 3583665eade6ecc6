package smb

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/nfs3"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// nfsPeer is an NFSv3 client of the env's file system, served with the
// SMB server's lock manager as a whole server serves it.
type nfsPeer struct {
	t    *testing.T
	c    *rpc.Client
	root []byte
}

func (e *env) nfsPeer(t *testing.T) *nfsPeer {
	rs := rpc.NewServer(rpc.ServerOptions{Logger: e.srv.opt.Logger})
	rs.Register(rpc.Program{Prog: nfs3.Program, Low: 3, High: 3, Name: "nfs",
		Handler: nfs3.New(e.fs, nfs3.Options{Logger: e.srv.opt.Logger, Locks: e.srv.locks()})})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go rs.ServeTCP(l)
	c, err := rpc.Dial(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rs.Shutdown(ctx)
	})
	return &nfsPeer{t: t, c: c, root: e.root().Bytes()}
}

// call runs an NFS procedure as alice and returns its nfsstat3; a
// successful LOOKUP's handle goes to fh.
func (p *nfsPeer) call(proc uint32, args func(w *xdr.Writer), fh *[]byte) nfs3.Status {
	p.t.Helper()
	var st nfs3.Status
	cred := rpc.Cred{Flavor: rpc.AuthSys, UID: 1000, GID: 1000, GIDs: []uint32{1000}}
	err := p.c.Call(context.Background(), nfs3.Program, 3, proc, cred, args, func(r *xdr.Reader) error {
		st = nfs3.Status(r.Uint32())
		if st == nfs3.StatusOK && fh != nil {
			*fh = append([]byte(nil), r.Opaque(fs.HandleSize)...)
		}
		return nil
	})
	if err != nil {
		p.t.Fatalf("NFS %d: %v", proc, err)
	}
	return st
}

func (p *nfsPeer) lookup(name string) []byte {
	var fh []byte
	if st := p.call(nfs3.ProcLookup, p.dirop(name), &fh); st != nfs3.StatusOK {
		p.t.Fatalf("LOOKUP %s: %v", name, st)
	}
	return fh
}

func (p *nfsPeer) dirop(name string) func(w *xdr.Writer) {
	return func(w *xdr.Writer) { w.Opaque(p.root); w.String(name) }
}

func (p *nfsPeer) read(fh []byte, off uint64, n uint32) nfs3.Status {
	return p.call(nfs3.ProcRead, func(w *xdr.Writer) { w.Opaque(fh); w.Uint64(off); w.Uint32(n) }, nil)
}

func (p *nfsPeer) write(fh []byte, off uint64, data string) nfs3.Status {
	return p.call(nfs3.ProcWrite, func(w *xdr.Writer) {
		w.Opaque(fh)
		w.Uint64(off)
		w.Uint32(uint32(len(data)))
		w.Uint32(2) // FILE_SYNC
		w.Opaque([]byte(data))
	}, nil)
}

// truncate is SETATTR of the size alone.
func (p *nfsPeer) truncate(fh []byte, size uint64) nfs3.Status {
	return p.call(nfs3.ProcSetAttr, func(w *xdr.Writer) {
		w.Opaque(fh)
		w.Bool(false) // mode
		w.Bool(false) // uid
		w.Bool(false) // gid
		w.Bool(true)
		w.Uint64(size)
		w.Uint32(0) // atime: don't change
		w.Uint32(0) // mtime: don't change
		w.Bool(false)
	}, nil)
}

func (p *nfsPeer) rename(from, to string) nfs3.Status {
	return p.call(nfs3.ProcRename, func(w *xdr.Writer) { p.dirop(from)(w); p.dirop(to)(w) }, nil)
}

// TestNFSUnderSMBLocks: SMB byte-range locks are mandatory for NFS I/O
// too. An exclusive lock refuses NFS READ and WRITE into its range, a
// shared one WRITE; outside the range, and once unlocked, NFS goes on.
func TestNFSUnderSMBLocks(t *testing.T) {
	e := newEnv(t, Options{})
	nfs := e.nfsPeer(t)
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "f", access: fileGenericRead | fileGenericWrite, share: 7, disp: dispCreate})
	if st := c.write(id, 0, []byte("0123456789abcdefghij")); st != StatusSuccess {
		t.Fatal(st)
	}
	fh := nfs.lookup("f")

	if st := c.lock(id, excl(4, 4)); st != StatusSuccess {
		t.Fatal(st)
	}
	for _, tc := range []struct {
		what string
		st   nfs3.Status
		want nfs3.Status
	}{
		{"READ 0+5 under an exclusive lock at 4+4", nfs.read(fh, 0, 5), nfs3.StatusAccess},
		{"WRITE 7+2", nfs.write(fh, 7, "xx"), nfs3.StatusAccess},
		{"READ 0+4, before the lock", nfs.read(fh, 0, 4), nfs3.StatusOK},
		{"WRITE 8+2, after it", nfs.write(fh, 8, "89"), nfs3.StatusOK},
	} {
		if tc.st != tc.want {
			t.Errorf("%s: %v, want %v", tc.what, tc.st, tc.want)
		}
	}
	if st := c.lock(id, shared(4, 4)); st != StatusSuccess {
		t.Fatal(st)
	}
	if st := c.lock(id, unlock(4, 4)); st != StatusSuccess { // the exclusive one
		t.Fatal(st)
	}
	if st := nfs.read(fh, 0, 10); st != nfs3.StatusOK {
		t.Errorf("READ under a shared lock: %v", st)
	}
	if st := nfs.write(fh, 5, "5"); st != nfs3.StatusAccess {
		t.Errorf("WRITE under a shared lock: %v, want NFS3ERR_ACCES", st)
	}
	if st := c.lock(id, unlock(4, 4)); st != StatusSuccess {
		t.Fatal(st)
	}
	if st := nfs.write(fh, 4, "4567"); st != nfs3.StatusOK {
		t.Errorf("WRITE after the unlock: %v", st)
	}
	// Closing the open drops its locks.
	if st := c.lock(id, excl(0, 100)); st != StatusSuccess {
		t.Fatal(st)
	}
	c.close(id)
	if st := nfs.read(fh, 0, 10); st != nfs3.StatusOK {
		t.Errorf("READ after the locking open closed: %v", st)
	}
}

// TestNFSUnderSMBShareModes: an SMB open's share access binds NFS as it
// would another open: deny-write refuses WRITE and SETATTR of the size,
// deny-read READ, and an open without FILE_SHARE_DELETE REMOVE and RENAME
// of its file, as source or as the target replaced; all until it closes.
func TestNFSUnderSMBShareModes(t *testing.T) {
	e := newEnv(t, Options{})
	nfs := e.nfsPeer(t)
	c := e.connect("export")
	for _, name := range []string{"f", "other"} {
		c.close(c.mustCreate(createReq{name: name, access: fileGenericWrite, share: 7, disp: dispCreate}))
	}
	fh := nfs.lookup("f")

	const shareRead, shareWrite, shareDelete = 1, 2, 4
	for _, tc := range []struct {
		name   string
		access uint32
		share  uint32
		want   map[string]nfs3.Status // the refused; the rest succeed
	}{
		{"deny write", fileGenericRead, shareRead | shareDelete,
			map[string]nfs3.Status{"WRITE": nfs3.StatusAccess, "SETATTR size": nfs3.StatusAccess}},
		{"deny read", fileGenericWrite, shareWrite | shareDelete,
			map[string]nfs3.Status{"READ": nfs3.StatusAccess}},
		{"no share delete", fileGenericRead, shareRead | shareWrite,
			map[string]nfs3.Status{"REMOVE": nfs3.StatusAccess, "RENAME from": nfs3.StatusAccess, "RENAME over": nfs3.StatusAccess}},
		{"share all", fileGenericRead | fileGenericWrite, 7, nil},
		// Without data access an open takes no part in sharing.
		{"attributes only", fileReadAttributes, 0, nil},
	} {
		id := c.mustCreate(createReq{name: "f", access: tc.access, share: tc.share, disp: dispOpen})
		got := map[string]nfs3.Status{
			"READ":         nfs.read(fh, 0, 4),
			"WRITE":        nfs.write(fh, 0, "data"),
			"SETATTR size": nfs.truncate(fh, 4),
			// A rename that succeeds is undone below.
			"RENAME from": nfs.rename("f", "g"),
		}
		if got["RENAME from"] == nfs3.StatusOK {
			nfs.rename("g", "f")
		}
		if _, refused := tc.want["RENAME over"]; refused {
			// Where it is allowed it would replace f.
			got["RENAME over"] = nfs.rename("other", "f")
		}
		for op, st := range got {
			want := tc.want[op]
			if st != want {
				t.Errorf("%s: NFS %s = %v, want %v", tc.name, op, st, want)
			}
		}
		if st := c.close(id); st != StatusSuccess {
			t.Fatal(st)
		}
		if st := nfs.write(fh, 0, "data"); st != nfs3.StatusOK {
			t.Errorf("%s: WRITE after the close: %v", tc.name, st)
		}
	}
}
