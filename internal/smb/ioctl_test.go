package smb

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"net"
	"testing"
)

func TestIoctl(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	src := c.mustCreate(createReq{name: "src", access: rw, share: shareAll, disp: dispCreate})
	data := make([]byte, 2<<20+777)
	rand.Read(data)
	for off := 0; off < len(data); off += 60000 {
		c.write(src, uint64(off), data[off:min(off+60000, len(data))])
	}
	dst := c.mustCreate(createReq{name: "dst", access: rw, share: shareAll, disp: dispCreate})

	// Server-side copy: a resume key for the source, chunks into the
	// target, the data never crossing the wire.
	key, st := c.ioctl(src, fsctlSrvRequestResumeKey, nil, 32)
	if st != StatusSuccess || len(key) != 32 {
		t.Fatalf("resume key: %v %x", st, key)
	}
	chunks := func(key []byte, spans ...[3]uint64) []byte {
		b := append([]byte(nil), key[:24]...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(spans)))
		b = append(b, 0, 0, 0, 0)
		for _, s := range spans {
			b = binary.LittleEndian.AppendUint64(b, s[0])
			b = binary.LittleEndian.AppendUint64(b, s[1])
			b = binary.LittleEndian.AppendUint32(b, uint32(s[2]))
			b = append(b, 0, 0, 0, 0)
		}
		return b
	}
	out, st := c.ioctl(dst, fsctlSrvCopychunkWrite, chunks(key, [3]uint64{0, 0, 1 << 20}, [3]uint64{1 << 20, 1 << 20, 1 << 20}, [3]uint64{2 << 20, 2 << 20, 777}), 12)
	if st != StatusSuccess || binary.LittleEndian.Uint32(out) != 3 || binary.LittleEndian.Uint32(out[8:]) != uint32(len(data)) {
		t.Fatalf("copychunk: %v %x", st, out)
	}
	var got []byte
	for off := 0; off < len(data); off += 65536 {
		b, st := c.read(dst, uint64(off), 65536)
		if st != StatusSuccess {
			t.Fatal(st)
		}
		got = append(got, b...)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("copied data differs")
	}
	// Beyond the limits: refused, with the limits.
	out, st = c.ioctl(dst, fsctlSrvCopychunk, chunks(key, [3]uint64{0, 0, 2 << 20}), 12)
	if st != StatusInvalidParameter || binary.LittleEndian.Uint32(out) != 256 || binary.LittleEndian.Uint32(out[4:]) != 1<<20 || binary.LittleEndian.Uint32(out[8:]) != 16<<20 {
		t.Errorf("chunk over 1 MiB: %v %x", st, out)
	}
	bad := bytes.Clone(key)
	bad[16] ^= 1
	if _, st := c.ioctl(dst, fsctlSrvCopychunk, chunks(bad, [3]uint64{0, 0, 10}), 12); st != StatusObjectNameNotFound {
		t.Errorf("forged resume key: %v", st)
	}
	if _, st := c.ioctl(dst, fsctlSrvCopychunk, chunks(key, [3]uint64{uint64(len(data)), 0, 10}), 12); st != StatusEndOfFile {
		t.Errorf("chunk beyond the source's end: %v", st)
	}
	ro := c.mustCreate(createReq{name: "dst", access: fileGenericRead, share: shareAll, disp: dispOpen})
	if _, st := c.ioctl(ro, fsctlSrvCopychunkWrite, chunks(key, [3]uint64{0, 0, 10}), 12); st != StatusAccessDenied {
		t.Errorf("copy into a read-only open: %v", st)
	}

	// Network interfaces: the address the client reached.
	ifs, st := c.ioctl(relatedFileID, fsctlQueryNetworkIfInfo, nil, 65536)
	if st != StatusSuccess || len(ifs) != 152 || binary.LittleEndian.Uint16(ifs[24:]) != 2 ||
		!net.IP(ifs[28:32]).Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("network interfaces: %v %x", st, ifs)
	}

	// Allocated ranges: all of the file, never sparse.
	q := binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 100), 1<<40)
	ranges, st := c.ioctl(src, fsctlQueryAllocatedRanges, q, 64)
	if st != StatusSuccess || binary.LittleEndian.Uint64(ranges) != 100 || binary.LittleEndian.Uint64(ranges[8:]) != uint64(len(data))-100 {
		t.Errorf("allocated ranges: %v %x", st, ranges)
	}
	// Zero data.
	z := binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 10), 20)
	if _, st := c.ioctl(src, fsctlSetZeroData, z, 0); st != StatusSuccess {
		t.Errorf("set zero data: %v", st)
	}
	if b, _ := c.read(src, 8, 14); !bytes.Equal(b, append(append(bytes.Clone(data[8:10]), make([]byte, 10)...), data[20:22]...)) {
		t.Errorf("after zeroing 10-20: %x", b)
	}

	for _, tc := range []struct {
		code uint32
		want Status
	}{
		{fsctlGetReparsePoint, StatusNotAReparsePoint},
		{fsctlSetReparsePoint, StatusIOReparseTagInvalid},
		{fsctlDFSGetReferrals, StatusFSDriverRequired},
		{fsctlSetSparse, StatusSuccess},
		{0x00090000, StatusNotSupported},
	} {
		if _, st := c.ioctl(src, tc.code, make([]byte, 8), 1024); st != tc.want {
			t.Errorf("FSCTL %#x: %v, want %v", tc.code, st, tc.want)
		}
	}
	// Object id: stable.
	a, st := c.ioctl(src, fsctlCreateOrGetObjectID, nil, 64)
	b, _ := c.ioctl(src, fsctlCreateOrGetObjectID, nil, 64)
	if st != StatusSuccess || len(a) != 64 || !bytes.Equal(a, b) {
		t.Errorf("object id: %v %x", st, a)
	}
	// An IOCTL that is not an FSCTL.
	body := ioctlBody(src, fsctlSetSparse, nil, 0)
	binary.LittleEndian.PutUint32(body[48:], 0)
	if r := c.call(CmdIoctl, body, nil); r.Status != StatusNotSupported {
		t.Errorf("non-FSCTL IOCTL: %v", r.Status)
	}
	// On IPC$ the server-wide controls are answered too.
	ipc := e.connect("IPC$")
	if _, st := ipc.ioctl(relatedFileID, fsctlQueryNetworkIfInfo, nil, 65536); st != StatusSuccess {
		t.Errorf("network interfaces on IPC$: %v", st)
	}
	if _, st := ipc.ioctl(relatedFileID, fsctlDFSGetReferrals, make([]byte, 4), 65536); st != StatusFSDriverRequired {
		t.Errorf("DFS referral on IPC$: %v", st)
	}
}

func TestReadWrite(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate})
	if st := c.write(id, 5, []byte("abc")); st != StatusSuccess {
		t.Fatal(st)
	}
	if b, st := c.read(id, 0, 100); st != StatusSuccess || string(b) != "\x00\x00\x00\x00\x00abc" {
		t.Errorf("read: %q %v", b, st)
	}
	if _, st := c.read(id, 8, 100); st != StatusEndOfFile {
		t.Errorf("read at the end: %v", st)
	}
	body := readBody(id, 6, 100)
	binary.LittleEndian.PutUint32(body[32:], 5) // MinimumCount
	if r := c.call(CmdRead, body, nil); r.Status != StatusEndOfFile {
		t.Errorf("read below MinimumCount: %v", r.Status)
	}
	if b, st := c.read(id, 0, 0); st != StatusSuccess || len(b) != 0 {
		t.Errorf("read of nothing: %v", st)
	}
	// Offset all-ones is no "end of file" in SMB2: offsets are signed.
	if st := c.write(id, ^uint64(0), []byte("Z")); st != StatusInvalidParameter {
		t.Fatalf("write at offset all-ones: %v", st)
	}
	if st := c.write(id, 8, []byte("Z")); st != StatusSuccess {
		t.Fatal(st)
	}
	// Write through.
	if r := c.call(CmdWrite, writeBody(id, 9, []byte("!"), writeFlagThrough), nil); r.Status != StatusSuccess {
		t.Fatal(r.Status)
	}
	if b, _ := c.read(id, 0, 100); string(b) != "\x00\x00\x00\x00\x00abcZ!" {
		t.Errorf("after append and write-through: %q", b)
	}
	if r := c.call(CmdFlush, closeBody(id), nil); r.Status != StatusSuccess {
		t.Errorf("flush: %v", r.Status)
	}
	c.close(id)

	ro := c.mustCreate(openReq("f"))
	if st := c.write(ro, 0, []byte("x")); st != StatusAccessDenied {
		t.Errorf("write on a read-only open: %v", st)
	}
	if r := c.call(CmdFlush, closeBody(ro), nil); r.Status != StatusAccessDenied {
		t.Errorf("flush of a read-only open: %v", r.Status)
	}
	wo := c.mustCreate(createReq{name: "f", access: fileWriteData, share: shareAll, disp: dispOpen})
	if _, st := c.read(wo, 0, 1); st != StatusAccessDenied {
		t.Errorf("read on a write-only open: %v", st)
	}
	ap := c.mustCreate(createReq{name: "f", access: fileAppendData, share: shareAll, disp: dispOpen})
	c.write(ap, 0, []byte("<end>")) // append-only: at the end, whatever the offset
	if b, _ := c.read(ro, 0, 100); string(b) != "\x00\x00\x00\x00\x00abcZ!<end>" {
		t.Errorf("after an append-only write: %q", b)
	}
	dir := c.mustCreate(createReq{name: "", access: fileGenericRead, share: shareAll, disp: dispOpen})
	if _, st := c.read(dir, 0, 1); st != StatusInvalidDeviceRequest {
		t.Errorf("read of a directory: %v", st)
	}
	big := readBody(ro, 0, 1<<20) // one credit does not pay for 1 MiB
	if r := c.call(CmdRead, big, nil); r.Status != StatusInvalidParameter {
		t.Errorf("read beyond the credit charge: %v", r.Status)
	}
	if r := c.call(CmdRead, big, func(h *Header) { h.CreditCharge = 16 }); r.Status != StatusSuccess {
		t.Errorf("read with the credit charge paid: %v", r.Status)
	}
}
