package conformance

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/willscott/go-nfs-client/nfs/rpc"
	"github.com/willscott/go-nfs-client/nfs/xdr"
)

// client sends hand-built calls over go-nfs-client's RPC transport. Copies
// made by as share the connection and differ in credential.
type client struct {
	t    testing.TB
	rc   *rpc.Client
	auth rpc.Auth
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	var rc *rpc.Client
	var err error
	// The library binds a random local port; retry the rare collision.
	for range 5 {
		if rc, err = rpc.DialTCP("tcp", addr, false); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(rc.Close)
	return &client{t: t, rc: rc, auth: authSys(0, 0)}
}

func authSys(uid, gid uint32, gids ...uint32) rpc.Auth {
	if gids == nil {
		gids = []uint32{}
	}
	var b bytes.Buffer
	if err := xdr.Write(&b, authSysParms{Stamp: 1, Machine: "conformance", UID: uid, GID: gid, GIDs: gids}); err != nil {
		panic(err)
	}
	return rpc.Auth{Flavor: 1, Body: b.Bytes()}
}

// as returns a client on the same connection calling as uid/gid.
func (c *client) as(uid, gid uint32, gids ...uint32) *client {
	cp := *c
	cp.auth = authSys(uid, gid, gids...)
	return &cp
}

type callBody[A any] struct {
	rpc.Header
	Args A
}

// call sends one call and returns the reader positioned at the results.
func call[A any](c *client, prog, proc uint32, args A) io.ReadSeeker {
	c.t.Helper()
	res, err := callErr(c, prog, proc, args)
	if err != nil {
		c.t.Fatal(err)
	}
	return res
}

// callErr is call for goroutines other than the test's, which must not
// call Fatal.
func callErr[A any](c *client, prog, proc uint32, args A) (io.ReadSeeker, error) {
	res, err := c.rc.Call(&callBody[A]{
		Header: rpc.Header{Rpcvers: 2, Prog: prog, Vers: 3, Proc: proc, Cred: c.auth, Verf: rpc.AuthNull},
		Args:   args,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %v", procName(prog, proc), err)
	}
	return res, nil
}

// nfsCall calls an NFS procedure and returns its status and the reader
// positioned after it.
func nfsCall[A any](c *client, proc uint32, args A) (uint32, io.ReadSeeker) {
	c.t.Helper()
	r := call(c, 100003, proc, args)
	var st uint32
	if err := xdr.Read(r, &st); err != nil {
		c.t.Fatalf("%s: reading status: %v", procName(100003, proc), err)
	}
	return st, r
}

// decode reads a T and, if last, checks that nothing follows it in the
// reply.
func decode[T any](c *client, what string, r io.ReadSeeker, last bool) T {
	c.t.Helper()
	var v T
	if err := xdr.Read(r, &v); err != nil {
		c.t.Fatalf("%s: decoding %T: %v", what, v, err)
	}
	if last {
		end(c, what, r)
	}
	return v
}

func end(c *client, what string, r io.ReadSeeker) {
	c.t.Helper()
	cur, _ := r.Seek(0, io.SeekCurrent)
	all, _ := r.Seek(0, io.SeekEnd)
	if cur != all {
		c.t.Fatalf("%s: %d unexpected bytes after the results", what, all-cur)
	}
}

// ok calls an NFS procedure that must succeed and decodes its results.
func ok[R, A any](c *client, proc uint32, args A) R {
	c.t.Helper()
	st, r := nfsCall(c, proc, args)
	if st != nfsOK {
		c.t.Fatalf("%s: status %s, want NFS3_OK", procName(100003, proc), statName(st))
	}
	return decode[R](c, procName(100003, proc), r, true)
}

// expect calls an NFS procedure, checks its status and, for a failure,
// that the failure arm of the result decodes with nothing left over.
func expect[A any](c *client, proc uint32, args A, want uint32) {
	c.t.Helper()
	st, r := nfsCall(c, proc, args)
	name := procName(100003, proc)
	if st != want {
		c.t.Errorf("%s %+v: status %s, want %s", name, brief(args), statName(st), statName(want))
		return
	}
	if want == nfsOK {
		return
	}
	switch proc {
	case procGetattr:
	case procLookup, procAccess, procReadlink, procRead, procReaddir, procReaddirplus,
		procFsstat, procFsinfo, procPathconf:
		decode[postOpAttr](c, name, r, false)
	case procLink:
		decode[linkRes](c, name, r, false)
	case procRename:
		decode[renameRes](c, name, r, false)
	default: // SETATTR WRITE CREATE MKDIR SYMLINK MKNOD REMOVE RMDIR COMMIT
		decode[wccData](c, name, r, false)
	}
	end(c, name, r)
}

// brief shortens arguments for messages: handles and data as lengths.
func brief(a any) string {
	s := fmt.Sprintf("%+v", a)
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// mount calls MOUNTPROC3_MNT and returns the root handle.
func (c *client) mount(path string) []byte {
	c.t.Helper()
	st, res := c.mountStatus(path)
	if st != 0 {
		c.t.Fatalf("MNT %s: mountstat3 %d", path, st)
	}
	return res.FH
}

func (c *client) mountStatus(path string) (uint32, mntOK) {
	c.t.Helper()
	r := call(c, 100005, mountMnt, path)
	st := decode[uint32](c, "MNT", r, false)
	if st != 0 {
		end(c, "MNT", r)
		return st, mntOK{}
	}
	return st, decode[mntOK](c, "MNT", r, true)
}

// Shorthands for calls that must succeed.

func (c *client) getattr(fh []byte) fattr3 {
	c.t.Helper()
	return ok[getattrOK](c, procGetattr, fhArgs{fh}).Attr
}

func (c *client) lookup(dir []byte, name string) ([]byte, fattr3) {
	c.t.Helper()
	r := ok[lookupOK](c, procLookup, diropargs3{dir, name})
	if !r.Attr.Present {
		c.t.Fatalf("LOOKUP %s: no post-op attributes", name)
	}
	return r.FH, r.Attr.Attr
}

func setMode(m uint32) sattr3 { return sattr3{Mode: setU32{true, m}} }

func (c *client) create(dir []byte, name string, mode uint32) []byte {
	c.t.Helper()
	r := ok[diropOK](c, procCreate, createArgs{Where: diropargs3{dir, name}, Mode: guarded, Attr: setMode(mode)})
	return handleOf(c, "CREATE "+name, r)
}

func (c *client) mkdir(dir []byte, name string, mode uint32) []byte {
	c.t.Helper()
	r := ok[diropOK](c, procMkdir, mkdirArgs{Where: diropargs3{dir, name}, Attr: setMode(mode)})
	return handleOf(c, "MKDIR "+name, r)
}

func handleOf(c *client, what string, r diropOK) []byte {
	c.t.Helper()
	if !r.FH.Present || !r.Attr.Present {
		c.t.Fatalf("%s: handle present %v, attributes present %v; a server that can should return both",
			what, r.FH.Present, r.Attr.Present)
	}
	return r.FH.FH
}

func (c *client) write(fh []byte, off uint64, data []byte, stable uint32) writeOK {
	c.t.Helper()
	r := ok[writeOK](c, procWrite, writeArgs{FH: fh, Offset: off, Count: uint32(len(data)), Stable: stable, Data: data})
	if r.Count != uint32(len(data)) {
		c.t.Fatalf("WRITE of %d bytes: count %d", len(data), r.Count)
	}
	return r
}

func (c *client) read(fh []byte, off uint64, count uint32) readOK {
	c.t.Helper()
	return ok[readOK](c, procRead, readArgs{FH: fh, Offset: off, Count: count})
}

var statNames = map[uint32]string{
	0: "NFS3_OK", 1: "NFS3ERR_PERM", 2: "NFS3ERR_NOENT", 5: "NFS3ERR_IO", 6: "NFS3ERR_NXIO",
	13: "NFS3ERR_ACCES", 17: "NFS3ERR_EXIST", 18: "NFS3ERR_XDEV", 19: "NFS3ERR_NODEV",
	20: "NFS3ERR_NOTDIR", 21: "NFS3ERR_ISDIR", 22: "NFS3ERR_INVAL", 27: "NFS3ERR_FBIG",
	28: "NFS3ERR_NOSPC", 30: "NFS3ERR_ROFS", 31: "NFS3ERR_MLINK", 63: "NFS3ERR_NAMETOOLONG",
	66: "NFS3ERR_NOTEMPTY", 69: "NFS3ERR_DQUOT", 70: "NFS3ERR_STALE", 71: "NFS3ERR_REMOTE",
	10001: "NFS3ERR_BADHANDLE", 10002: "NFS3ERR_NOT_SYNC", 10003: "NFS3ERR_BAD_COOKIE",
	10004: "NFS3ERR_NOTSUPP", 10005: "NFS3ERR_TOOSMALL", 10006: "NFS3ERR_SERVERFAULT",
	10007: "NFS3ERR_BADTYPE", 10008: "NFS3ERR_JUKEBOX",
}

func statName(st uint32) string {
	if n, ok := statNames[st]; ok {
		return n
	}
	return fmt.Sprintf("nfsstat3(%d)", st)
}

var nfsProcNames = [...]string{"NULL", "GETATTR", "SETATTR", "LOOKUP", "ACCESS", "READLINK", "READ",
	"WRITE", "CREATE", "MKDIR", "SYMLINK", "MKNOD", "REMOVE", "RMDIR", "RENAME", "LINK", "READDIR",
	"READDIRPLUS", "FSSTAT", "FSINFO", "PATHCONF", "COMMIT"}

var mountProcNames = [...]string{"MOUNT NULL", "MNT", "DUMP", "UMNT", "UMNTALL", "EXPORT"}

func procName(prog, proc uint32) string {
	switch {
	case prog == 100003 && int(proc) < len(nfsProcNames):
		return nfsProcNames[proc]
	case prog == 100005 && int(proc) < len(mountProcNames):
		return mountProcNames[proc]
	}
	return fmt.Sprintf("program %d procedure %d", prog, proc)
}
