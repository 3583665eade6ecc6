package smb

import (
	"context"
	"encoding/binary"
	"net"

	"github.com/tandemfs/tandem/internal/fs"
)

func init() { register(CmdIoctl, serveIoctl) }

// IOCTL on a disk share carries file system controls (FSCTLs). Served:
// the network interface list (one interface: the address the client
// reached), server-side copy (a resume key names the source open, COPYCHUNK
// copies ranges into the target open without the data crossing the
// network), sparse files and compression (sparse.go), object ids, and the reparse points of symbolic links
// (symlink.go). FSCTL_VALIDATE_NEGOTIATE_INFO is answered by the
// framework. DFS referrals answer STATUS_FS_DRIVER_REQUIRED (this is no
// DFS server), and every other control STATUS_NOT_SUPPORTED.

// FSCTL codes (MS-FSCC 2.3, MS-SMB2 2.2.31).
const (
	fsctlDFSGetReferrals      = 0x00060194
	fsctlDFSGetReferralsEx    = 0x000601b0
	fsctlSetReparsePoint      = 0x000900a4
	fsctlGetReparsePoint      = 0x000900a8
	fsctlDeleteReparsePoint   = 0x000900ac
	fsctlCreateOrGetObjectID  = 0x000900c0
	fsctlSetSparse            = 0x000900c4
	fsctlQueryAllocatedRanges = 0x000940cf
	fsctlSetZeroData          = 0x000980c8
	fsctlSrvRequestResumeKey  = 0x00140078
	fsctlQueryNetworkIfInfo   = 0x001401fc
	fsctlSrvCopychunk         = 0x001440f2
	fsctlSrvCopychunkWrite    = 0x001480f2

	ioctlIsFsctl      = 0x00000001
	ioctlOutputOffset = HeaderSize + 48
)

// Server-side copy limits, as Windows servers announce them.
const (
	copyMaxChunks     = 256
	copyMaxChunkBytes = 1 << 20
	copyMaxTotalBytes = 16 << 20
)

// ioctlRequest is a decoded IOCTL.
type ioctlRequest struct {
	code   uint32
	in     []byte
	maxOut uint32
}

func serveIoctl(w *Response, r *Request) {
	q, st := decodeIoctl(r)
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	if serveServerIoctl(w, r, &q) {
		return
	}
	o, st := r.openOf(r.Body[8:24])
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	var out []byte
	switch q.code {
	case fsctlSrvRequestResumeKey:
		out, st = resumeKey(o, q.maxOut)
	case fsctlSrvCopychunk, fsctlSrvCopychunkWrite:
		out, st = copychunk(r, o, &q)
	case fsctlGetReparsePoint:
		out, st = getReparsePoint(r, o, q.maxOut)
	case fsctlSetReparsePoint:
		st = setReparsePoint(r, o, q.in)
	case fsctlDeleteReparsePoint:
		st = StatusNotSupported
	case fsctlSetSparse:
		st = setSparse(r, o, q.in)
	case fsctlQueryAllocatedRanges:
		out, st = allocatedRanges(r, o, &q)
	case fsctlSetZeroData:
		st = zeroData(r, o, q.in)
	case fsctlCreateOrGetObjectID:
		out, st = objectID(r, o, q.maxOut)
	case fsctlGetCompression:
		out, st = getCompression(q.maxOut)
	case fsctlSetCompression:
		st = setCompression(o, q.in)
	default:
		st = StatusNotSupported
	}
	ioctlAnswer(w, r, st, out)
}

// serveServerIoctl answers the controls that concern the server rather
// than a file, on any tree, IPC$ included; false if q is not one.
func serveServerIoctl(w *Response, r *Request, q *ioctlRequest) bool {
	switch q.code {
	case fsctlQueryNetworkIfInfo:
		// Not about a file: the FileId must be all ones (MS-SMB2 3.3.5.15).
		if DecodeFileID(r.Body[8:24]) != relatedFileID {
			w.Error(StatusInvalidParameter)
			return true
		}
		out, st := networkInterfaces(r, q.maxOut)
		ioctlAnswer(w, r, st, out)
	case fsctlDFSGetReferrals, fsctlDFSGetReferralsEx:
		w.Error(StatusFSDriverRequired)
	default:
		return false
	}
	return true
}

// serveIPCIoctl answers the controls of serveServerIoctl on IPC$, where
// clients send them, and STATUS_NOT_SUPPORTED to any other.
func serveIPCIoctl(w *Response, r *Request) {
	q, st := decodeIoctl(r)
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	if !serveServerIoctl(w, r, &q) {
		w.Error(StatusNotSupported)
	}
}

// decodeIoctl checks an IOCTL request: its size, that it is an FSCTL,
// that its input lies in the message and that its credits pay for it.
func decodeIoctl(r *Request) (ioctlRequest, Status) {
	b := r.Body
	if len(b) < 56 || binary.LittleEndian.Uint16(b) != 57 {
		return ioctlRequest{}, StatusInvalidParameter
	}
	q := ioctlRequest{code: binary.LittleEndian.Uint32(b[4:]), maxOut: binary.LittleEndian.Uint32(b[44:])}
	inOff, inLen := binary.LittleEndian.Uint32(b[24:]), binary.LittleEndian.Uint32(b[28:])
	if binary.LittleEndian.Uint32(b[48:])&ioctlIsFsctl == 0 {
		return q, StatusNotSupported
	}
	in, ok := r.Buffer(inOff, inLen)
	if !ok || inLen > r.Conn.MaxTransact() || q.maxOut > r.Conn.MaxTransact() || !r.ChargeCovers(max(inLen, q.maxOut)) {
		return q, StatusInvalidParameter
	}
	q.in = in
	return q, StatusSuccess
}

// ioctlAnswer writes the IOCTL response: on success, or on an error that
// carries output (a copy beyond the limits), the output buffer.
func ioctlAnswer(w *Response, r *Request, st Status, out []byte) {
	if st.IsError() && out == nil {
		w.Error(st)
		return
	}
	w.Status = st
	b := w.Grow(48)
	binary.LittleEndian.PutUint16(b, 49)
	copy(b[4:8], r.Body[4:8])   // CtlCode
	copy(b[8:24], r.Body[8:24]) // FileId
	binary.LittleEndian.PutUint32(b[24:], ioctlOutputOffset)
	binary.LittleEndian.PutUint32(b[32:], ioctlOutputOffset)
	binary.LittleEndian.PutUint32(b[36:], uint32(len(out)))
	w.Write(out)
	if len(out) == 0 {
		w.Grow(1)
	}
}

// networkInterfaces is the NETWORK_INTERFACE_INFO list: the address of
// this connection, so that a client offering multichannel finds nothing
// more to bind to.
func networkInterfaces(r *Request, maxOut uint32) ([]byte, Status) {
	const entry = 152
	if maxOut < entry {
		return nil, StatusBufferTooSmall
	}
	b := make([]byte, entry)
	binary.LittleEndian.PutUint32(b[4:], 1)               // IfIndex
	binary.LittleEndian.PutUint64(b[16:], 10_000_000_000) // LinkSpeed: 10 Gb/s
	addr, _ := r.Conn.nc.LocalAddr().(*net.TCPAddr)
	sa := b[24:]
	switch {
	case addr != nil && addr.IP.To4() != nil:
		binary.LittleEndian.PutUint16(sa, 0x0002) // InterNetwork
		binary.BigEndian.PutUint16(sa[2:], uint16(addr.Port))
		copy(sa[4:8], addr.IP.To4())
	case addr != nil:
		binary.LittleEndian.PutUint16(sa, 0x0017) // InterNetworkV6
		binary.BigEndian.PutUint16(sa[2:], uint16(addr.Port))
		copy(sa[8:24], addr.IP.To16())
	}
	return b, StatusSuccess
}

// resumeKey names o for a server-side copy: its FileId and a per-server
// value, so that a key is useful only on this server.
func resumeKey(o *open, maxOut uint32) ([]byte, Status) {
	if maxOut < 32 {
		return nil, StatusInvalidParameter
	}
	b := make([]byte, 32)
	binary.LittleEndian.PutUint64(b, o.id.Persistent)
	binary.LittleEndian.PutUint64(b[8:], o.id.Volatile)
	binary.LittleEndian.PutUint64(b[16:], o.srv.ops.volatile)
	return b, StatusSuccess
}

// sourceOf finds the open a resume key names.
func (s *Server) sourceOf(key []byte) *open {
	if binary.LittleEndian.Uint64(key[16:]) != s.ops.volatile {
		return nil
	}
	id := FileID{binary.LittleEndian.Uint64(key), binary.LittleEndian.Uint64(key[8:])}
	s.ops.mu.Lock()
	defer s.ops.mu.Unlock()
	o := s.ops.opens[id.Persistent]
	if o == nil || o.id != id {
		return nil
	}
	return o
}

// copychunk copies ranges of a source open into o (SRV_COPYCHUNK_COPY:
// source key, chunk count, then offset, target offset and length of each
// chunk). Requests beyond the limits are refused with the limits as
// output, as the protocol says, so that the client can retry within them.
func copychunk(r *Request, o *open, q *ioctlRequest) ([]byte, Status) {
	in := q.in
	if len(in) < 32 || q.maxOut < 12 {
		return nil, StatusInvalidParameter
	}
	count := binary.LittleEndian.Uint32(in[24:])
	if uint64(len(in)) < 32+24*uint64(count) {
		return nil, StatusInvalidParameter
	}
	out := make([]byte, 12)
	var total uint64
	tooBig := count > copyMaxChunks
	for i := range count {
		n := binary.LittleEndian.Uint32(in[32+24*i+16:])
		total += uint64(n)
		tooBig = tooBig || n == 0 || n > copyMaxChunkBytes
	}
	if tooBig || total > copyMaxTotalBytes {
		binary.LittleEndian.PutUint32(out, copyMaxChunks)
		binary.LittleEndian.PutUint32(out[4:], copyMaxChunkBytes)
		binary.LittleEndian.PutUint32(out[8:], copyMaxTotalBytes)
		return out, StatusInvalidParameter
	}
	s := r.Conn.srv
	src := s.sourceOf(in[:24])
	switch {
	case src == nil:
		return nil, StatusObjectNameNotFound
	case o.isDir || src.isDir:
		return nil, StatusInvalidDeviceRequest
	case !src.may(fileReadData):
		return nil, StatusAccessDenied
	case !o.may(fileWriteData):
		return nil, StatusAccessDenied
	case q.code == fsctlSrvCopychunk && !o.may(fileReadData):
		return nil, StatusAccessDenied
	}
	ctx := r.Context()
	buf := make([]byte, copyMaxChunkBytes)
	var chunks, written uint32
	for i := range count {
		c := in[32+24*i:]
		from, to := binary.LittleEndian.Uint64(c), binary.LittleEndian.Uint64(c[8:])
		n := binary.LittleEndian.Uint32(c[16:])
		if st := copyRange(ctx, r, src, o, from, to, buf[:n]); st != StatusSuccess {
			binary.LittleEndian.PutUint32(out, chunks)
			binary.LittleEndian.PutUint32(out[8:], written)
			return out, st
		}
		chunks++
		written += n
	}
	binary.LittleEndian.PutUint32(out, chunks)
	binary.LittleEndian.PutUint32(out[8:], written)
	return out, StatusSuccess
}

// copyRange copies len(buf) bytes at from in src to to in dst, honouring
// the byte-range locks of both.
func copyRange(ctx context.Context, r *Request, src, dst *open, from, to uint64, buf []byte) Status {
	s := r.Conn.srv
	n := uint64(len(buf))
	if _, held := s.locks().CheckIO(src.key(), src.owner, from, n, false); held {
		return StatusFileLockConflict
	}
	if _, held := s.locks().CheckIO(dst.key(), dst.owner, to, n, true); held {
		return StatusFileLockConflict
	}
	if src.stream != "" || dst.stream != "" {
		return copyStreamRange(ctx, src, dst, from, to, buf) // streamops.go
	}
	got, _, _, err := s.fs.Read(ctx, &src.caller, src.h, from, buf)
	if err != nil {
		return StatusOf(err)
	}
	if got < len(buf) {
		return StatusEndOfFile
	}
	stable := fs.Unstable
	if dst.writeThrough() {
		stable = fs.FileSync
	}
	if _, _, _, err := s.fs.Write(ctx, &dst.caller, dst.h, to, buf, stable); err != nil {
		return StatusOf(err)
	}
	return StatusSuccess
}

// objectID answers FSCTL_CREATE_OR_GET_OBJECT_ID with an id made of the
// file id and the share: stable, and unique on this server.
func objectID(r *Request, o *open, maxOut uint32) ([]byte, Status) {
	if maxOut < 64 {
		return nil, StatusInvalidParameter
	}
	b := make([]byte, 64)
	binary.LittleEndian.PutUint64(b, o.h.ID)
	binary.LittleEndian.PutUint32(b[8:], o.h.Share)
	copy(b[16:32], r.Conn.srv.guid[:]) // BirthVolumeId
	copy(b[32:48], b[:16])             // BirthObjectId
	return b, StatusSuccess
}
