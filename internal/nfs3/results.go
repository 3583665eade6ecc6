package nfs3

import (
	"encoding/binary"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// ftype3 values; fs.FileType uses the same numbers.
const (
	typeRegular fs.FileType = 1
	typeDir     fs.FileType = 2
	typeBlock   fs.FileType = 3
	typeChar    fs.FileType = 4
	typeSymlink fs.FileType = 5
	typeSocket  fs.FileType = 6
	typeFIFO    fs.FileType = 7
)

// fattr3Size is the encoded length of an fattr3: five 32-bit fields and
// eight 64-bit ones (size, used, rdev, fsid, fileid and three times).
const fattr3Size = 84

// hasAttr reports whether fs filled a: a zero Attr (Type 0, which is no
// file type) means the file system had no attributes to report, as on a
// failure before the file was found.
func hasAttr(a *fs.Attr) bool { return a.Type != 0 }

// putTime encodes an nfstime3. Times before the epoch have no nfstime3
// (seconds are unsigned); they wrap as the other servers' do.
func putTime(b []byte, ns int64) {
	sec, nsec := ns/1e9, ns%1e9
	if nsec < 0 {
		sec--
		nsec += 1e9
	}
	binary.BigEndian.PutUint32(b, uint32(sec))
	binary.BigEndian.PutUint32(b[4:], uint32(nsec))
}

// putFattr3 encodes a into b[:fattr3Size]. Writing into a slice rather
// than a Writer lets READ and READDIR fill attributes in front of data
// they have already placed.
func putFattr3(b []byte, a *fs.Attr) {
	_ = b[fattr3Size-1]
	be := binary.BigEndian
	be.PutUint32(b[0:], uint32(a.Type))
	be.PutUint32(b[4:], a.Mode&07777)
	be.PutUint32(b[8:], a.Nlink)
	be.PutUint32(b[12:], a.UID)
	be.PutUint32(b[16:], a.GID)
	be.PutUint64(b[20:], a.Size)
	be.PutUint64(b[28:], a.Used)
	be.PutUint32(b[36:], a.Major)
	be.PutUint32(b[40:], a.Minor)
	be.PutUint64(b[44:], a.FSID)
	be.PutUint64(b[52:], a.FileID)
	putTime(b[60:], a.Atime)
	putTime(b[68:], a.Mtime)
	putTime(b[76:], a.Ctime)
}

func writeFattr3(w *xdr.Writer, a *fs.Attr) {
	off := w.Reserve(fattr3Size)
	putFattr3(w.Bytes()[off:], a)
}

func writeTime(w *xdr.Writer, ns int64) {
	off := w.Reserve(8)
	putTime(w.Bytes()[off:], ns)
}

// writePostOpAttr writes a post_op_attr: a, if fs filled it.
func writePostOpAttr(w *xdr.Writer, a *fs.Attr) {
	if !hasAttr(a) {
		w.Bool(false)
		return
	}
	w.Bool(true)
	writeFattr3(w, a)
}

// writeWcc writes a wcc_data.
func writeWcc(w *xdr.Writer, c *fs.Wcc) {
	w.Bool(c.HavePre)
	if c.HavePre {
		w.Uint64(c.Pre.Size)
		writeTime(w, c.Pre.Mtime)
		writeTime(w, c.Pre.Ctime)
	}
	w.Bool(c.HavePost)
	if c.HavePost {
		writeFattr3(w, &c.Post)
	}
}

func writeFH(w *xdr.Writer, h fs.Handle) {
	var buf [fs.HandleSize]byte
	w.Opaque(h.Append(buf[:0]))
}

// writePostOpFH writes a post_op_fh3; the zero Handle is "no handle".
func writePostOpFH(w *xdr.Writer, h fs.Handle) {
	if h == (fs.Handle{}) {
		w.Bool(false)
		return
	}
	w.Bool(true)
	writeFH(w, h)
}

func writeStatus(w *xdr.Writer, s Status) { w.Uint32(uint32(s)) }

// A deferred header is a status followed by a post_op_attr that is
// written after the body that follows it, for replies whose attributes
// come from the same fs call that produces the body (READ, READDIR): the
// longest form is reserved first and finishDeferred fills it in, moving
// the body back over the unused space when there are no attributes.
const deferredHdr = 4 + 4 + fattr3Size

func reserveDeferred(w *xdr.Writer) int { return w.Reserve(deferredHdr) }

// finishDeferred writes NFS3_OK and a's post_op_attr at start, the offset
// reserveDeferred returned; the body is everything written after the
// reservation. It returns the body's offset.
func finishDeferred(w *xdr.Writer, start int, a *fs.Attr) int {
	b := w.Bytes()
	binary.BigEndian.PutUint32(b[start:], uint32(StatusOK))
	if hasAttr(a) {
		binary.BigEndian.PutUint32(b[start+4:], 1)
		putFattr3(b[start+8:], a)
		return start + deferredHdr
	}
	binary.BigEndian.PutUint32(b[start+4:], 0)
	n := copy(b[start+8:], b[start+deferredHdr:])
	w.Truncate(start + 8 + n)
	return start + 8
}
