package nfs3

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/tandemfs/tandem/internal/content"
	contentmem "github.com/tandemfs/tandem/internal/content/memory"
	"github.com/tandemfs/tandem/internal/fs"
	metamem "github.com/tandemfs/tandem/internal/meta/memory"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// env is a Handler over a file system on memory stores with one share,
// "export", and a fixed clock.
type env struct {
	t    testing.TB
	fs   *fs.FS
	h    *Handler
	root fs.Handle
	now  int64
	addr net.Addr
	// content is the file system's content store.
	content content.Store
}

const testNow = 1700000000 * 1e9

var (
	credRoot = rpc.Cred{Flavor: rpc.AuthSys, MachineName: "client"}
	credUser = rpc.Cred{Flavor: rpc.AuthSys, UID: 1000, GID: 1000, GIDs: []uint32{1000}}
	credNone = rpc.Cred{Flavor: rpc.AuthNone}
)

func newEnv(t testing.TB, opt Options, shares ...fs.ShareConfig) *env {
	t.Helper()
	return newEnvContent(t, contentmem.New(), opt, shares...)
}

// newEnvContent is newEnv over the content store c.
func newEnvContent(t testing.TB, c content.Store, opt Options, shares ...fs.ShareConfig) *env {
	t.Helper()
	e := &env{t: t, now: testNow, addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 700}, content: c}
	f, err := fs.New(metamem.New(), c, fs.Options{Now: func() int64 { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	if len(shares) == 0 {
		shares = []fs.ShareConfig{{Name: "export"}}
	}
	for i, s := range shares {
		root, err := f.AddShare(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			e.root = root
		}
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e.fs, e.h = f, New(f, opt)
	return e
}

// hdr stands for the RPC reply header the server writes before the
// results: the handler must leave it alone and write after it.
var hdr = []byte("RPC-HEADER..")

// serve runs proc with the arguments enc writes and returns the results.
func (e *env) serve(proc uint32, cred rpc.Cred, enc func(w *xdr.Writer)) ([]byte, error) {
	aw := xdr.NewWriter(nil)
	if enc != nil {
		enc(aw)
	}
	c := &rpc.Call{
		XID: 1, Prog: Program, Vers: Version, Proc: proc, Cred: cred,
		Args: xdr.NewReader(aw.Bytes()), Network: "tcp",
		LocalAddr:  &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2049},
		RemoteAddr: e.addr,
	}
	w := xdr.NewWriter(nil)
	w.FixedOpaque(hdr)
	err := e.h.ServeRPC(context.Background(), c, w)
	if !bytes.HasPrefix(w.Bytes(), hdr) {
		e.t.Fatalf("proc %d overwrote the reply header: %q", proc, w.Bytes())
	}
	return w.Bytes()[len(hdr):], err
}

// call is serve for calls that must succeed at the RPC level; it returns
// a reader positioned after the nfsstat3, and the status.
func (e *env) call(proc uint32, cred rpc.Cred, enc func(w *xdr.Writer)) (*xdr.Reader, Status) {
	e.t.Helper()
	b, err := e.serve(proc, cred, enc)
	if err != nil {
		e.t.Fatalf("%s: %v", procNames[proc], err)
	}
	r := xdr.NewReader(b)
	return r, Status(r.Uint32())
}

// done checks that a reply was read to its exact end.
func done(t testing.TB, r *xdr.Reader) {
	t.Helper()
	if r.Err() != nil {
		t.Fatalf("decoding reply: %v", r.Err())
	}
	if r.Remaining() != 0 {
		t.Fatalf("%d bytes left in reply: %x", r.Remaining(), r.Rest())
	}
}

// Result decoders: a test client's side of results.go.

func decTime(r *xdr.Reader) int64 {
	s := r.Uint32()
	return int64(s)*1e9 + int64(r.Uint32())
}

func decFattr3(r *xdr.Reader) fs.Attr {
	var a fs.Attr
	a.Type = fs.FileType(r.Uint32())
	a.Mode = r.Uint32()
	a.Nlink = r.Uint32()
	a.UID = r.Uint32()
	a.GID = r.Uint32()
	a.Size = r.Uint64()
	a.Used = r.Uint64()
	a.Major = r.Uint32()
	a.Minor = r.Uint32()
	a.FSID = r.Uint64()
	a.FileID = r.Uint64()
	a.Atime = decTime(r)
	a.Mtime = decTime(r)
	a.Ctime = decTime(r)
	return a
}

func decPostOpAttr(r *xdr.Reader) (fs.Attr, bool) {
	if !r.Bool() {
		return fs.Attr{}, false
	}
	return decFattr3(r), true
}

func decWcc(r *xdr.Reader) fs.Wcc {
	var c fs.Wcc
	if c.HavePre = r.Bool(); c.HavePre {
		c.Pre.Size = r.Uint64()
		c.Pre.Mtime = decTime(r)
		c.Pre.Ctime = decTime(r)
	}
	if c.HavePost = r.Bool(); c.HavePost {
		c.Post = decFattr3(r)
	}
	return c
}

func decFH(t testing.TB, r *xdr.Reader) fs.Handle {
	t.Helper()
	h, err := fs.ParseHandle(r.Opaque(64))
	if err != nil {
		t.Fatalf("reply handle: %v (%v)", err, r.Err())
	}
	return h
}

func decPostOpFH(t testing.TB, r *xdr.Reader) (fs.Handle, bool) {
	t.Helper()
	if !r.Bool() {
		return fs.Handle{}, false
	}
	return decFH(t, r), true
}

// wire is the subset of fs.Attr that fattr3 carries.
func wire(a fs.Attr) fs.Attr {
	return fs.Attr{
		Type: a.Type, Mode: a.Mode & 07777, Nlink: a.Nlink, UID: a.UID, GID: a.GID,
		Size: a.Size, Used: a.Used, Major: a.Major, Minor: a.Minor, FSID: a.FSID,
		FileID: a.FileID, Atime: a.Atime, Mtime: a.Mtime, Ctime: a.Ctime,
	}
}

// attr returns h's current attributes as fattr3 carries them.
func (e *env) attr(h fs.Handle) fs.Attr {
	e.t.Helper()
	a, err := e.fs.GetAttr(context.Background(), h)
	if err != nil {
		e.t.Fatalf("GetAttr: %v", err)
	}
	return wire(a)
}

// Argument encoders.

func fhArg(h fs.Handle) func(w *xdr.Writer) {
	return func(w *xdr.Writer) { w.Opaque(h.Bytes()) }
}

func diropArg(dir fs.Handle, name string) func(w *xdr.Writer) {
	return func(w *xdr.Writer) { w.Opaque(dir.Bytes()); w.String(name) }
}

// Fixtures made through the handler.

func (e *env) create(cred rpc.Cred, dir fs.Handle, name string, mode uint32) fs.Handle {
	e.t.Helper()
	r, st := e.call(ProcCreate, cred, func(w *xdr.Writer) {
		diropArg(dir, name)(w)
		w.Uint32(uint32(fs.Unchecked))
		encSattr(w, clientSattr{mode: u32(mode)})
	})
	if st != StatusOK {
		e.t.Fatalf("CREATE %s: %v", name, st)
	}
	fh, _ := decPostOpFH(e.t, r)
	return fh
}

func (e *env) mkdir(cred rpc.Cred, dir fs.Handle, name string, mode uint32) fs.Handle {
	e.t.Helper()
	r, st := e.call(ProcMkdir, cred, func(w *xdr.Writer) {
		diropArg(dir, name)(w)
		encSattr(w, clientSattr{mode: u32(mode)})
	})
	if st != StatusOK {
		e.t.Fatalf("MKDIR %s: %v", name, st)
	}
	fh, _ := decPostOpFH(e.t, r)
	return fh
}

func (e *env) writeFile(cred rpc.Cred, fh fs.Handle, off uint64, data []byte) {
	e.t.Helper()
	_, st := e.call(ProcWrite, cred, func(w *xdr.Writer) {
		w.Opaque(fh.Bytes())
		w.Uint64(off)
		w.Uint32(uint32(len(data)))
		w.Uint32(uint32(fs.FileSync))
		w.Opaque(data)
	})
	if st != StatusOK {
		e.t.Fatalf("WRITE: %v", st)
	}
}

// stale is a handle of the right form naming no file.
func (e *env) stale() fs.Handle {
	h := e.root
	h.ID += 1000
	return h
}

var outsider = &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 700}

// restricted is a share open only to 10.0.0.0/8.
var restricted = fs.ShareConfig{Name: "restricted", Clients: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
