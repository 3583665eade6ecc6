package testserver

import "fmt"

// Program numbers and the procedures this client knows (RFC 1813).
const (
	NFSProgram   = 100003
	MountProgram = 100005

	procNull    = 0
	procGetattr = 1
	procLookup  = 3
	procRead    = 6
	procWrite   = 7
	procCreate  = 8
	procRemove  = 12
	procCommit  = 21
	procMnt     = 1
)

// Stable is how durable a WRITE must be (stable_how).
type Stable uint32

// The three stabilities.
const (
	Unstable Stable = 0
	DataSync Stable = 1
	FileSync Stable = 2
)

// NFSError is a non-zero nfsstat3.
type NFSError uint32

func (e NFSError) Error() string { return fmt.Sprintf("nfs: status %d", uint32(e)) }

// MountError is a non-zero mountstat3.
type MountError uint32

func (e MountError) Error() string { return fmt.Sprintf("mount: status %d", uint32(e)) }

// Attr is the part of fattr3 the tests look at.
type Attr struct {
	Type, Mode, Nlink, UID, GID uint32
	Size, Used                  uint64
	FSID, FileID                uint64
	Mtime, Ctime                uint64 // seconds<<32 | nanoseconds
}

func (d *dec) fattr() (a Attr) {
	a.Type = d.u32()
	a.Mode = d.u32()
	a.Nlink = d.u32()
	a.UID = d.u32()
	a.GID = d.u32()
	a.Size = d.u64()
	a.Used = d.u64()
	d.skip(8) // rdev
	a.FSID = d.u64()
	a.FileID = d.u64()
	d.skip(8) // atime
	a.Mtime = d.u64()
	a.Ctime = d.u64()
	return a
}

func (d *dec) postOpAttr() (a Attr, ok bool) {
	if d.bool() {
		return d.fattr(), true
	}
	return a, false
}

func (d *dec) wcc() {
	if d.bool() {
		d.skip(8 + 8 + 8) // size, mtime, ctime
	}
	d.postOpAttr()
}

// status reads an nfsstat3 and turns a failure into an error.
func (d *dec) status() error {
	st := d.u32()
	if d.err != nil {
		return d.err
	}
	if st != 0 {
		return NFSError(st)
	}
	return nil
}

func (c *Conn) nfs(proc uint32, args ...[]byte) (*dec, error) {
	body, err := c.Call(NFSProgram, 3, proc, args...)
	if err != nil {
		return nil, err
	}
	return &dec{b: body}, nil
}

// Null calls NFSPROC3_NULL.
func (c *Conn) Null() error {
	_, err := c.nfs(procNull)
	return err
}

// Mount calls MOUNTPROC3_MNT and returns the root handle of path.
func (c *Conn) Mount(path string) ([]byte, error) {
	var a enc
	a.str(path)
	body, err := c.Call(MountProgram, 3, procMnt, a)
	if err != nil {
		return nil, err
	}
	d := dec{b: body}
	if st := d.u32(); st != 0 {
		return nil, MountError(st)
	}
	fh := d.opaque()
	return append([]byte(nil), fh...), d.err
}

// GetAttr calls GETATTR.
func (c *Conn) GetAttr(fh []byte) (Attr, error) {
	var a enc
	a.opaque(fh)
	d, err := c.nfs(procGetattr, a)
	if err != nil {
		return Attr{}, err
	}
	if err := d.status(); err != nil {
		return Attr{}, err
	}
	at := d.fattr()
	return at, d.err
}

// Lookup calls LOOKUP and returns the handle of name in dir.
func (c *Conn) Lookup(dir []byte, name string) ([]byte, error) {
	var a enc
	a.opaque(dir)
	a.str(name)
	d, err := c.nfs(procLookup, a)
	if err != nil {
		return nil, err
	}
	if err := d.status(); err != nil {
		return nil, err
	}
	fh := d.opaque()
	return append([]byte(nil), fh...), d.err
}

// Create calls CREATE UNCHECKED with the given mode (no size: an existing
// file keeps its content) and returns the new file's handle.
func (c *Conn) Create(dir []byte, name string, mode uint32) ([]byte, error) {
	var a enc
	a.opaque(dir)
	a.str(name)
	a.u32(0) // UNCHECKED
	a.u32(1) // sattr3: set mode,
	a.u32(mode)
	for range 5 { // leave uid, gid, size, atime and mtime alone
		a.u32(0)
	}
	d, err := c.nfs(procCreate, a)
	if err != nil {
		return nil, err
	}
	if err := d.status(); err != nil {
		return nil, err
	}
	if d.bool() {
		fh := d.opaque()
		return append([]byte(nil), fh...), d.err
	}
	if d.err != nil {
		return nil, d.err
	}
	return c.Lookup(dir, name)
}

// WriteResult is a WRITE reply.
type WriteResult struct {
	Count     uint32
	Committed Stable
	Verf      [8]byte
}

// Write calls WRITE; data goes on the wire without being copied.
func (c *Conn) Write(fh []byte, off uint64, data []byte, stable Stable) (WriteResult, error) {
	var a enc
	a.opaque(fh)
	a.u64(off)
	a.u32(uint32(len(data)))
	a.u32(uint32(stable))
	a.u32(uint32(len(data)))
	d, err := c.nfs(procWrite, a, data, make([]byte, pad(len(data))))
	if err != nil {
		return WriteResult{}, err
	}
	if err := d.status(); err != nil {
		return WriteResult{}, err
	}
	d.wcc()
	var r WriteResult
	r.Count = d.u32()
	r.Committed = Stable(d.u32())
	r.Verf = d.fixed8()
	return r, d.err
}

// Commit calls COMMIT and returns the write verifier.
func (c *Conn) Commit(fh []byte, off uint64, count uint32) ([8]byte, error) {
	var a enc
	a.opaque(fh)
	a.u64(off)
	a.u32(count)
	d, err := c.nfs(procCommit, a)
	if err != nil {
		return [8]byte{}, err
	}
	if err := d.status(); err != nil {
		return [8]byte{}, err
	}
	d.wcc()
	v := d.fixed8()
	return v, d.err
}

// Read calls READ for len(buf) bytes at off and copies the data into buf.
func (c *Conn) Read(fh []byte, off uint64, buf []byte) (n int, eof bool, err error) {
	var a enc
	a.opaque(fh)
	a.u64(off)
	a.u32(uint32(len(buf)))
	r := c.call(NFSProgram, 3, procRead, [][]byte{a})
	if r.err != nil {
		return 0, false, r.err
	}
	defer recycle(r.rec)
	d := &dec{b: r.body}
	if err := d.status(); err != nil {
		return 0, false, err
	}
	d.postOpAttr()
	count := d.u32()
	eof = d.bool()
	data := d.opaque()
	switch {
	case d.err != nil:
		return 0, false, d.err
	case uint32(len(data)) != count:
		return 0, false, fmt.Errorf("nfs: READ count %d but %d bytes of data", count, len(data))
	case len(data) > len(buf):
		return 0, false, fmt.Errorf("nfs: READ of %d bytes returned %d", len(buf), len(data))
	}
	return copy(buf, data), eof, nil
}

// ReadAll reads a whole file in chunks of size bytes.
func (c *Conn) ReadAll(fh []byte, chunk int) ([]byte, error) {
	var out []byte
	buf := make([]byte, chunk)
	for {
		n, eof, err := c.Read(fh, uint64(len(out)), buf)
		if err != nil {
			return out, err
		}
		out = append(out, buf[:n]...)
		if eof {
			return out, nil
		}
		if n == 0 {
			return out, fmt.Errorf("nfs: READ at %d returned no data and no eof", len(out))
		}
	}
}

// Remove calls REMOVE.
func (c *Conn) Remove(dir []byte, name string) error {
	var a enc
	a.opaque(dir)
	a.str(name)
	d, err := c.nfs(procRemove, a)
	if err != nil {
		return err
	}
	return d.status()
}
