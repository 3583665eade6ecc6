package nfs3

import (
	"errors"
	"math"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// XDR bounds of variable-length arguments. A file handle over FHSIZE3 is
// not an nfs_fh3 at all. Names and paths get bounds well above what the
// file system accepts, so that a long but plausible name is answered with
// NFS3ERR_NAMETOOLONG by the file system rather than GARBAGE_ARGS, while an
// absurd length is rejected before anything is allocated.
const (
	maxFHSize   = 64
	maxNameXDR  = 1024
	maxPathXDR  = 8192
	maxWriteXDR = math.MaxInt32
)

var errBadValue = errors.New("nfs3: argument value out of range")

// time_how values of sattr3.
const (
	dontChange      = 0
	setToServerTime = 1
	setToClientTime = 2
)

// decodeFH reads an nfs_fh3. The result aliases the arguments; parseFH
// makes it a handle once the whole call has decoded.
func decodeFH(r *xdr.Reader) []byte { return r.Opaque(maxFHSize) }

// parseFH turns a wire handle into an fs.Handle; a handle of any other
// length than ours is NFS3ERR_BADHANDLE without asking fs.
func parseFH(b []byte) (fs.Handle, error) {
	if len(b) != fs.HandleSize {
		return fs.Handle{}, fs.ErrBadHandle
	}
	return fs.ParseHandle(b)
}

func decodeName(r *xdr.Reader) string { return r.String(maxNameXDR) }

// decodeTime reads an nfstime3 as nanoseconds since the epoch. Seconds are
// unsigned on the wire.
func decodeTime(r *xdr.Reader) int64 {
	sec := r.Uint32()
	nsec := r.Uint32()
	if nsec >= 1e9 {
		r.SetErr(errBadValue)
	}
	return int64(sec)*1e9 + int64(nsec)
}

// decodeSattr reads an sattr3 into sa.
func decodeSattr(r *xdr.Reader, sa *fs.SetAttr) {
	if r.Bool() {
		sa.Mask |= fs.SetMode
		sa.Mode = r.Uint32() & 07777
	}
	if r.Bool() {
		sa.Mask |= fs.SetUID
		sa.UID = r.Uint32()
	}
	if r.Bool() {
		sa.Mask |= fs.SetGID
		sa.GID = r.Uint32()
	}
	if r.Bool() {
		sa.Mask |= fs.SetSize
		sa.Size = r.Uint64()
	}
	switch r.Uint32() {
	case dontChange:
	case setToServerTime:
		sa.Mask |= fs.SetAtimeNow
	case setToClientTime:
		sa.Mask |= fs.SetAtime
		sa.Atime = decodeTime(r)
	default:
		r.SetErr(errBadValue)
	}
	switch r.Uint32() {
	case dontChange:
	case setToServerTime:
		sa.Mask |= fs.SetMtimeNow
	case setToClientTime:
		sa.Mask |= fs.SetMtime
		sa.Mtime = decodeTime(r)
	default:
		r.SetErr(errBadValue)
	}
}

// diropArgs is diropargs3: a directory and a name in it.
type diropArgs struct {
	dir  []byte
	name string
}

func (a *diropArgs) decode(r *xdr.Reader) {
	a.dir = decodeFH(r)
	a.name = decodeName(r)
}

type setattrArgs struct {
	fh         []byte
	attr       fs.SetAttr
	guard      bool
	guardCtime int64
}

func (a *setattrArgs) decode(r *xdr.Reader) {
	a.fh = decodeFH(r)
	decodeSattr(r, &a.attr)
	if a.guard = r.Bool(); a.guard {
		a.guardCtime = decodeTime(r)
	}
}

type accessArgs struct {
	fh     []byte
	access uint32
}

func (a *accessArgs) decode(r *xdr.Reader) {
	a.fh = decodeFH(r)
	a.access = r.Uint32()
}

// ioArgs is READ3args and COMMIT3args, which have the same shape.
type ioArgs struct {
	fh     []byte
	offset uint64
	count  uint32
}

func (a *ioArgs) decode(r *xdr.Reader) {
	a.fh = decodeFH(r)
	a.offset = r.Uint64()
	a.count = r.Uint32()
}

type writeArgs struct {
	fh     []byte
	offset uint64
	count  uint32
	stable fs.Stability
	data   []byte
}

func (a *writeArgs) decode(r *xdr.Reader) {
	a.fh = decodeFH(r)
	a.offset = r.Uint64()
	a.count = r.Uint32()
	st := r.Uint32()
	if st > uint32(fs.FileSync) {
		r.SetErr(errBadValue)
	}
	a.stable = fs.Stability(st)
	a.data = r.Opaque(maxWriteXDR)
}

type createArgs struct {
	where diropArgs
	how   fs.CreateHow
}

func (a *createArgs) decode(r *xdr.Reader) {
	a.where.decode(r)
	switch mode := r.Uint32(); mode {
	case uint32(fs.Unchecked), uint32(fs.Guarded):
		a.how.Mode = fs.CreateMode(mode)
		decodeSattr(r, &a.how.Attr)
	case uint32(fs.Exclusive):
		a.how.Mode = fs.Exclusive
		copy(a.how.Verf[:], r.FixedOpaque(8))
	default:
		r.SetErr(errBadValue)
	}
}

type mkdirArgs struct {
	where diropArgs
	attr  fs.SetAttr
}

func (a *mkdirArgs) decode(r *xdr.Reader) {
	a.where.decode(r)
	decodeSattr(r, &a.attr)
}

type symlinkArgs struct {
	where  diropArgs
	attr   fs.SetAttr
	target string
}

func (a *symlinkArgs) decode(r *xdr.Reader) {
	a.where.decode(r)
	decodeSattr(r, &a.attr)
	a.target = r.String(maxPathXDR)
}

// mknodArgs is MKNOD3args. typ is whatever the client sent: the union
// has no arms for regular files, directories and symlinks (or unknown
// types), which decode as void and are answered NFS3ERR_BADTYPE.
type mknodArgs struct {
	where        diropArgs
	typ          fs.FileType
	attr         fs.SetAttr
	major, minor uint32
	badType      bool
}

func (a *mknodArgs) decode(r *xdr.Reader) {
	a.where.decode(r)
	t := r.Uint32()
	switch fs.FileType(t) {
	case typeBlock, typeChar:
		decodeSattr(r, &a.attr)
		a.major = r.Uint32()
		a.minor = r.Uint32()
	case typeSocket, typeFIFO:
		decodeSattr(r, &a.attr)
	default:
		a.badType = true
	}
	if !a.badType {
		a.typ = fs.FileType(t)
	}
}

type renameArgs struct {
	from, to diropArgs
}

func (a *renameArgs) decode(r *xdr.Reader) {
	a.from.decode(r)
	a.to.decode(r)
}

type linkArgs struct {
	fh   []byte
	link diropArgs
}

func (a *linkArgs) decode(r *xdr.Reader) {
	a.fh = decodeFH(r)
	a.link.decode(r)
}

// readdirArgs is READDIR3args (plus false: count goes to maxcount and
// dircount is unused) and READDIRPLUS3args.
type readdirArgs struct {
	fh       []byte
	cookie   uint64
	verf     uint64
	dircount uint32
	maxcount uint32
}

func (a *readdirArgs) decode(r *xdr.Reader, plus bool) {
	a.fh = decodeFH(r)
	a.cookie = r.Uint64()
	a.verf = r.Uint64() // cookieverf3 is opaque[8]; as a hyper it is the same bytes
	if plus {
		a.dircount = r.Uint32()
	}
	a.maxcount = r.Uint32()
}
