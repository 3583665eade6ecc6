package smb

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/tandemfs/tandem/internal/lock"
)

// Request builders and calls of the raw client for the file commands.

// createReq is a CREATE as the tests build it.
type createReq struct {
	name                                string
	access, attrs, share, disp, options uint32
	contexts                            []byte // a chain made by ctxChain
}

// openReq is the common case: open an existing file for reading.
func openReq(name string) createReq {
	return createReq{name: name, access: fileGenericRead, share: 7, disp: dispOpen}
}

func (q createReq) body() []byte {
	n := utf16le(q.name)
	b := make([]byte, 56, 64+len(n)+len(q.contexts))
	binary.LittleEndian.PutUint16(b, 57)
	binary.LittleEndian.PutUint32(b[4:], 2) // impersonation
	binary.LittleEndian.PutUint32(b[24:], q.access)
	binary.LittleEndian.PutUint32(b[28:], q.attrs)
	binary.LittleEndian.PutUint32(b[32:], q.share)
	binary.LittleEndian.PutUint32(b[36:], q.disp)
	binary.LittleEndian.PutUint32(b[40:], q.options)
	binary.LittleEndian.PutUint16(b[44:], HeaderSize+56)
	binary.LittleEndian.PutUint16(b[46:], uint16(len(n)))
	b = append(b, n...)
	if len(n) == 0 {
		b = append(b, 0)
	}
	if len(q.contexts) > 0 {
		for len(b)%8 != 0 {
			b = append(b, 0)
		}
		binary.LittleEndian.PutUint32(b[48:], uint32(HeaderSize+len(b)))
		binary.LittleEndian.PutUint32(b[52:], uint32(len(q.contexts)))
		b = append(b, q.contexts...)
	}
	return b
}

// ctxChain chains create contexts given as name, data pairs.
func ctxChain(pairs ...any) []byte {
	var out []byte
	last := -1
	for i := 0; i < len(pairs); i += 2 {
		name, data := pairs[i].(string), pairs[i+1].([]byte)
		for len(out)%8 != 0 {
			out = append(out, 0)
		}
		if last >= 0 {
			binary.LittleEndian.PutUint32(out[last:], uint32(len(out)-last))
		}
		last = len(out)
		h := make([]byte, 24)
		binary.LittleEndian.PutUint16(h[4:], 16)
		binary.LittleEndian.PutUint16(h[6:], uint16(len(name)))
		if len(data) > 0 {
			binary.LittleEndian.PutUint16(h[10:], 24)
		}
		binary.LittleEndian.PutUint32(h[12:], uint32(len(data)))
		copy(h[16:], name)
		out = append(append(out, h...), data...)
	}
	return out
}

// createResp is a decoded CREATE response.
type createResp struct {
	Status   Status
	Action   uint32
	ID       FileID
	Attrs    uint32
	Size     uint64
	Alloc    uint64
	Times    [4]uint64
	contexts map[string][]byte
}

func decodeCreate(t testing.TB, r resp) createResp {
	t.Helper()
	cr := createResp{Status: r.Status}
	if r.Status != StatusSuccess {
		return cr
	}
	b := r.body
	if len(b) < 88 || binary.LittleEndian.Uint16(b) != 89 {
		t.Fatalf("CREATE response body %x", b)
	}
	cr.Action = binary.LittleEndian.Uint32(b[4:])
	for i := range 4 {
		cr.Times[i] = binary.LittleEndian.Uint64(b[8+8*i:])
	}
	cr.Alloc = binary.LittleEndian.Uint64(b[40:])
	cr.Size = binary.LittleEndian.Uint64(b[48:])
	cr.Attrs = binary.LittleEndian.Uint32(b[56:])
	cr.ID = DecodeFileID(b[64:])
	off, n := binary.LittleEndian.Uint32(b[80:]), binary.LittleEndian.Uint32(b[84:])
	if n > 0 {
		if off%8 != 0 || int(off)+int(n) > len(r.msg) {
			t.Fatalf("create contexts at %d+%d in a %d byte response", off, n, len(r.msg))
		}
		cr.contexts = map[string][]byte{}
		c := r.msg[off : off+n]
		for {
			next := binary.LittleEndian.Uint32(c)
			nameOff, nameLen := binary.LittleEndian.Uint16(c[4:]), binary.LittleEndian.Uint16(c[6:])
			dataOff, dataLen := binary.LittleEndian.Uint16(c[10:]), binary.LittleEndian.Uint32(c[12:])
			cr.contexts[string(c[nameOff:nameOff+nameLen])] = c[dataOff : uint32(dataOff)+dataLen]
			if next == 0 {
				break
			}
			c = c[next:]
		}
	}
	return cr
}

func (c *raw) create(q createReq) createResp {
	c.t.Helper()
	return decodeCreate(c.t, c.call(CmdCreate, q.body(), nil))
}

// mustCreate creates or opens and fails the test unless it succeeds.
func (c *raw) mustCreate(q createReq) FileID {
	c.t.Helper()
	cr := c.create(q)
	if cr.Status != StatusSuccess {
		c.t.Fatalf("CREATE %q: %v", q.name, cr.Status)
	}
	return cr.ID
}

func (c *raw) close(id FileID) Status {
	c.t.Helper()
	return c.call(CmdClose, closeBody(id), nil).Status
}

func readBody(id FileID, off uint64, n uint32) []byte {
	b := make([]byte, 49)
	binary.LittleEndian.PutUint16(b, 49)
	binary.LittleEndian.PutUint32(b[4:], n)
	binary.LittleEndian.PutUint64(b[8:], off)
	copy(b[16:], id.Append(nil))
	return b
}

func (c *raw) read(id FileID, off uint64, n uint32) ([]byte, Status) {
	c.t.Helper()
	r := c.call(CmdRead, readBody(id, off, n), nil)
	if r.Status != StatusSuccess {
		return nil, r.Status
	}
	doff, dlen := r.body[2], binary.LittleEndian.Uint32(r.body[4:])
	return r.msg[doff : uint32(doff)+dlen], r.Status
}

func writeBody(id FileID, off uint64, data []byte, flags uint32) []byte {
	b := make([]byte, 48, 48+len(data))
	binary.LittleEndian.PutUint16(b, 49)
	binary.LittleEndian.PutUint16(b[2:], HeaderSize+48)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(data)))
	binary.LittleEndian.PutUint64(b[8:], off)
	copy(b[16:], id.Append(nil))
	binary.LittleEndian.PutUint32(b[44:], flags)
	return append(b, data...)
}

func (c *raw) write(id FileID, off uint64, data []byte) Status {
	c.t.Helper()
	r := c.call(CmdWrite, writeBody(id, off, data, 0), nil)
	if r.Status == StatusSuccess && binary.LittleEndian.Uint32(r.body[4:]) != uint32(len(data)) {
		c.t.Fatalf("WRITE of %d bytes wrote %d", len(data), binary.LittleEndian.Uint32(r.body[4:]))
	}
	return r.Status
}

func queryInfoBody(id FileID, typ, class byte, outLen, addl uint32) []byte {
	b := make([]byte, 41)
	binary.LittleEndian.PutUint16(b, 41)
	b[2], b[3] = typ, class
	binary.LittleEndian.PutUint32(b[4:], outLen)
	binary.LittleEndian.PutUint32(b[16:], addl)
	copy(b[24:], id.Append(nil))
	return b
}

// queryInfo returns the output buffer and status of a QUERY_INFO (the
// error data for an error).
func (c *raw) queryInfo(id FileID, typ, class byte, outLen, addl uint32) ([]byte, Status) {
	c.t.Helper()
	r := c.call(CmdQueryInfo, queryInfoBody(id, typ, class, outLen, addl), nil)
	if r.Status.IsError() {
		return errorData(r), r.Status
	}
	off, n := binary.LittleEndian.Uint16(r.body[2:]), binary.LittleEndian.Uint32(r.body[4:])
	if n == 0 {
		return []byte{}, r.Status
	}
	return r.msg[off : uint32(off)+n], r.Status
}

// errorData is the data of an SMB2 ERROR response.
func errorData(r resp) []byte {
	n := binary.LittleEndian.Uint32(r.body[4:])
	if n == 0 {
		return nil
	}
	return r.body[8 : 8+n]
}

func setInfoBody(id FileID, typ, class byte, buf []byte, addl uint32) []byte {
	b := make([]byte, 32, 32+len(buf))
	binary.LittleEndian.PutUint16(b, 33)
	b[2], b[3] = typ, class
	binary.LittleEndian.PutUint32(b[4:], uint32(len(buf)))
	binary.LittleEndian.PutUint16(b[8:], HeaderSize+32)
	binary.LittleEndian.PutUint32(b[12:], addl)
	copy(b[16:], id.Append(nil))
	b = append(b, buf...)
	if len(buf) == 0 {
		b = append(b, 0)
	}
	return b
}

func (c *raw) setInfo(id FileID, typ, class byte, buf []byte, addl uint32) Status {
	c.t.Helper()
	return c.call(CmdSetInfo, setInfoBody(id, typ, class, buf, addl), nil).Status
}

// renameInfo is FILE_RENAME_INFORMATION for SMB2.
func renameInfo(name string, replace bool) []byte {
	n := utf16le(name)
	b := make([]byte, 20, 20+len(n))
	if replace {
		b[0] = 1
	}
	binary.LittleEndian.PutUint32(b[16:], uint32(len(n)))
	return append(b, n...)
}

func queryDirBody(id FileID, class, flags byte, pattern string, outLen uint32) []byte {
	p := utf16le(pattern)
	b := make([]byte, 32, 33+len(p))
	binary.LittleEndian.PutUint16(b, 33)
	b[2], b[3] = class, flags
	copy(b[8:], id.Append(nil))
	binary.LittleEndian.PutUint16(b[24:], HeaderSize+32)
	binary.LittleEndian.PutUint16(b[26:], uint16(len(p)))
	binary.LittleEndian.PutUint32(b[28:], outLen)
	b = append(b, p...)
	if len(p) == 0 {
		b = append(b, 0)
	}
	return b
}

// dirEntry is a decoded directory entry.
type dirEntry struct {
	name   string
	attrs  uint32
	size   uint64
	fileID uint64
	raw    []byte
}

// queryDir returns the entries of one QUERY_DIRECTORY.
func (c *raw) queryDir(id FileID, class, flags byte, pattern string, outLen uint32) ([]dirEntry, Status) {
	c.t.Helper()
	r := c.call(CmdQueryDirectory, queryDirBody(id, class, flags, pattern, outLen), nil)
	if r.Status != StatusSuccess {
		return nil, r.Status
	}
	off, n := binary.LittleEndian.Uint16(r.body[2:]), binary.LittleEndian.Uint32(r.body[4:])
	if off != HeaderSize+8 || n > outLen {
		c.t.Fatalf("QUERY_DIRECTORY output at %d, %d bytes for a %d byte buffer", off, n, outLen)
	}
	buf := r.msg[off : uint32(off)+n]
	fixed := entrySize(class)
	var out []dirEntry
	for {
		next := binary.LittleEndian.Uint32(buf)
		e := dirEntry{}
		var nameLen uint32
		if class == classFileNames {
			nameLen = binary.LittleEndian.Uint32(buf[8:])
		} else {
			e.size = binary.LittleEndian.Uint64(buf[40:])
			e.attrs = binary.LittleEndian.Uint32(buf[56:])
			nameLen = binary.LittleEndian.Uint32(buf[60:])
			switch class {
			case classFileIDBothDirectory:
				e.fileID = binary.LittleEndian.Uint64(buf[96:])
			case classFileIDFullDirectory, classFileIDExtdDirectory:
				e.fileID = binary.LittleEndian.Uint64(buf[72:])
			}
		}
		name, err := fromUTF16le(buf[fixed : fixed+int(nameLen)])
		if err != nil {
			c.t.Fatal(err)
		}
		e.name = name
		if next == 0 {
			e.raw = buf
			out = append(out, e)
			return out, r.Status
		}
		if next%8 != 0 {
			c.t.Fatalf("entry %q: NextEntryOffset %d not 8-aligned", name, next)
		}
		e.raw = buf[:next]
		out = append(out, e)
		buf = buf[next:]
	}
}

func ioctlBody(id FileID, code uint32, in []byte, maxOut uint32) []byte {
	b := make([]byte, 56, 56+len(in))
	binary.LittleEndian.PutUint16(b, 57)
	binary.LittleEndian.PutUint32(b[4:], code)
	copy(b[8:], id.Append(nil))
	binary.LittleEndian.PutUint32(b[24:], HeaderSize+56)
	binary.LittleEndian.PutUint32(b[28:], uint32(len(in)))
	binary.LittleEndian.PutUint32(b[44:], maxOut)
	binary.LittleEndian.PutUint32(b[48:], ioctlIsFsctl)
	b = append(b, in...)
	if len(in) == 0 {
		b = append(b, 0)
	}
	return b
}

// ioctl returns the output and status of an FSCTL.
func (c *raw) ioctl(id FileID, code uint32, in []byte, maxOut uint32) ([]byte, Status) {
	c.t.Helper()
	r := c.call(CmdIoctl, ioctlBody(id, code, in, maxOut), nil)
	if r.Status.IsError() && len(r.body) < 48 {
		return nil, r.Status
	}
	if len(r.body) < 48 || binary.LittleEndian.Uint16(r.body) != 49 {
		return nil, r.Status
	}
	off, n := binary.LittleEndian.Uint32(r.body[32:]), binary.LittleEndian.Uint32(r.body[36:])
	return r.msg[off : off+n], r.Status
}

// lockBody is a LOCK of the given elements (offset, length, flags).
func lockBody(id FileID, elems ...[3]uint64) []byte {
	b := make([]byte, 24, 24+24*len(elems))
	binary.LittleEndian.PutUint16(b, 48)
	binary.LittleEndian.PutUint16(b[2:], uint16(len(elems)))
	copy(b[8:], id.Append(nil))
	for _, e := range elems {
		el := make([]byte, 24)
		binary.LittleEndian.PutUint64(el, e[0])
		binary.LittleEndian.PutUint64(el[8:], e[1])
		binary.LittleEndian.PutUint32(el[16:], uint32(e[2]))
		b = append(b, el...)
	}
	return b
}

func (c *raw) lock(id FileID, elems ...[3]uint64) Status {
	c.t.Helper()
	return c.call(CmdLock, lockBody(id, elems...), nil).Status
}

// related marks a request of a compound as related to the one before.
func related(h *Header) {
	h.Flags |= FlagRelated
	h.SessionID, h.TreeID = ^uint64(0), ^uint32(0)
}

// lockKey is the lock manager's key of a file in the export's root.
func lockKey(t testing.TB, e *env, name string) lock.FileKey {
	t.Helper()
	h, _, _, err := e.fs.Lookup(context.Background(), nil, e.root(), name)
	if err != nil {
		t.Fatalf("lookup %s: %v", name, err)
	}
	return lock.KeyOf(h)
}
