package smb

import (
	"bytes"
	"context"
	"encoding/binary"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/tandemfs/tandem/internal/content/localfs"
	tfs "github.com/tandemfs/tandem/internal/fs"
)

// diskBytes is the space the regular files under dir take on disk.
func diskBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Sys().(*syscall.Stat_t).Blocks * 512
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func qarIn(off, n uint64) []byte {
	return binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, off), n)
}

// ranges decodes FILE_ALLOCATED_RANGE_BUFFERs.
func ranges(b []byte) [][2]uint64 {
	var out [][2]uint64
	for ; len(b) >= 16; b = b[16:] {
		out = append(out, [2]uint64{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])})
	}
	return out
}

func fileAttrs(t *testing.T, c *raw, id FileID) uint32 {
	t.Helper()
	b, st := c.queryInfo(id, infoFile, classFileAttributeTag, 8, 0)
	if st != StatusSuccess {
		t.Fatalf("FileAttributeTagInformation: %v", st)
	}
	return binary.LittleEndian.Uint32(b)
}

// TestSparseFile: a 1 GiB file made sparse over SMB with one 4 KiB block
// written takes about one block on the host disk, reads zeros elsewhere
// over SMB and through the file system NFS serves, reports that one block
// as its allocated range, and gives the block back when it is zeroed.
func TestSparseFile(t *testing.T) {
	dir := t.TempDir()
	store, err := localfs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOn(t, Options{}, store)
	c := e.connect("export")

	vol := c.mustCreate(createReq{name: "", access: fileGenericRead | fileWriteAttributes, share: shareAll, disp: dispOpen})
	b, st := c.queryInfo(vol, infoFilesystem, classFsAttribute, 1024, 0)
	if st != StatusSuccess || binary.LittleEndian.Uint32(b)&fsSupportsSparseFiles == 0 {
		t.Fatalf("FileFsAttributeInformation does not offer sparse files: %v %x", st, b)
	}

	id := c.mustCreate(createReq{name: "sparse", access: rw, share: shareAll, disp: dispCreate})
	if _, st := c.ioctl(id, fsctlSetSparse, nil, 0); st != StatusSuccess {
		t.Fatalf("FSCTL_SET_SPARSE: %v", st)
	}
	if a := fileAttrs(t, c, id); a&attrSparseFile == 0 {
		t.Fatalf("attributes after FSCTL_SET_SPARSE: %#x", a)
	}
	// SET_INFO of the attributes leaves SPARSE_FILE alone either way.
	if st := c.setInfo(id, infoFile, classFileBasic, basicInfo([4]uint64{}, attrArchive|attrHidden), 0); st != StatusSuccess {
		t.Fatal(st)
	}
	if a := fileAttrs(t, c, id); a != attrArchive|attrHidden|attrSparseFile {
		t.Errorf("attributes after setting ARCHIVE|HIDDEN: %#x, want %#x", a, attrArchive|attrHidden|attrSparseFile)
	}

	const size, at = 1 << 30, 512 << 20
	if st := c.setInfo(id, infoFile, classFileEndOfFile, binary.LittleEndian.AppendUint64(nil, size), 0); st != StatusSuccess {
		t.Fatalf("end of file 1 GiB: %v", st)
	}
	block := bytes.Repeat([]byte("tandem!\n"), 512)
	if st := c.write(id, at, block); st != StatusSuccess {
		t.Fatal(st)
	}
	if r := c.call(CmdFlush, closeBody(id), nil); r.Status != StatusSuccess {
		t.Fatal(r.Status)
	}
	if n := diskBytes(t, dir); n > 64<<10 {
		t.Errorf("a 1 GiB file with one 4 KiB block takes %d bytes on disk", n)
	}
	out, st := c.ioctl(id, fsctlQueryAllocatedRanges, qarIn(0, size), 1024)
	if got := ranges(out); st != StatusSuccess || len(got) != 1 || got[0] != [2]uint64{at, 4096} {
		t.Errorf("allocated ranges: %v %v, want [[%d 4096]]", st, got, at)
	}
	for _, off := range []uint64{0, at - 65536, at + 4096, size - 65536} {
		b, st := c.read(id, off, 65536)
		if st != StatusSuccess || len(b) != 65536 || !bytes.Equal(b, make([]byte, 65536)) {
			t.Errorf("SMB read at %d: %v, %d bytes, zeros: %v", off, st, len(b), bytes.Equal(b, make([]byte, len(b))))
		}
	}
	if b, _ := c.read(id, at, 4096); !bytes.Equal(b, block) {
		t.Error("the written block reads back different over SMB")
	}
	h, a := e.lookupAttr(t, "sparse")
	if a.Size != size {
		t.Errorf("size %d, want %d", a.Size, size)
	}
	buf := make([]byte, 8192)
	if n, _, _, err := e.fs.Read(context.Background(), &tfs.Caller{UID: 1000, GID: 1000}, h, at-4096, buf); err != nil || n != 8192 ||
		!bytes.Equal(buf[:4096], make([]byte, 4096)) || !bytes.Equal(buf[4096:], block) {
		t.Errorf("file system read around the block: %d %v", n, err)
	}

	// Zeroing the block punches it out: nothing on disk, no range, the
	// size as it was.
	z := binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, at), at+4096)
	if _, st := c.ioctl(id, fsctlSetZeroData, z, 0); st != StatusSuccess {
		t.Fatalf("FSCTL_SET_ZERO_DATA: %v", st)
	}
	if n := diskBytes(t, dir); n > 32<<10 {
		t.Errorf("after zeroing the block the file takes %d bytes on disk", n)
	}
	if out, st := c.ioctl(id, fsctlQueryAllocatedRanges, qarIn(0, size), 1024); st != StatusSuccess || len(out) != 0 {
		t.Errorf("allocated ranges after zeroing: %v %v", st, ranges(out))
	}
	if b, _ := c.read(id, at, 4096); !bytes.Equal(b, make([]byte, 4096)) {
		t.Error("the zeroed block does not read as zeros")
	}
	if _, a := e.lookupAttr(t, "sparse"); a.Size != size {
		t.Errorf("size after zeroing %d, want %d", a.Size, size)
	}

	// Two blocks, an output with room for one: the first, and
	// STATUS_BUFFER_OVERFLOW.
	c.write(id, 0, block)
	c.write(id, at, block)
	if out, st := c.ioctl(id, fsctlQueryAllocatedRanges, qarIn(0, size), 16); st != StatusBufferOverflow || len(ranges(out)) != 1 || ranges(out)[0] != [2]uint64{0, 4096} {
		t.Errorf("allocated ranges into 16 bytes: %v %v", st, ranges(out))
	}
	// Cleared, the file is reported allocated throughout, as one that is
	// not sparse.
	if _, st := c.ioctl(id, fsctlSetSparse, []byte{0}, 0); st != StatusSuccess {
		t.Fatal(st)
	}
	if a := fileAttrs(t, c, id); a&attrSparseFile != 0 {
		t.Errorf("attributes after clearing sparse: %#x", a)
	}
	if out, st := c.ioctl(id, fsctlQueryAllocatedRanges, qarIn(100, size), 1024); st != StatusSuccess || len(ranges(out)) != 1 || ranges(out)[0] != [2]uint64{100, size - 100} {
		t.Errorf("allocated ranges of a file not sparse: %v %v", st, ranges(out))
	}
	// A directory cannot be sparse; a read-only open may not make it so.
	if _, st := c.ioctl(vol, fsctlSetSparse, nil, 0); st != StatusInvalidParameter {
		t.Errorf("FSCTL_SET_SPARSE on a directory: %v", st)
	}
	ro := c.mustCreate(openReq("sparse"))
	if _, st := c.ioctl(ro, fsctlSetSparse, nil, 0); st != StatusAccessDenied {
		t.Errorf("FSCTL_SET_SPARSE on a read-only open: %v", st)
	}
	if _, st := c.ioctl(ro, fsctlSetZeroData, z, 0); st != StatusAccessDenied {
		t.Errorf("FSCTL_SET_ZERO_DATA on a read-only open: %v", st)
	}
}

// TestCompression: a file system without compression answers
// COMPRESSION_FORMAT_NONE and accepts only that.
func TestCompression(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate})
	if out, st := c.ioctl(id, fsctlGetCompression, nil, 2); st != StatusSuccess || !bytes.Equal(out, []byte{0, 0}) {
		t.Errorf("FSCTL_GET_COMPRESSION: %v %x", st, out)
	}
	for _, tc := range []struct {
		format uint16
		want   Status
	}{{compressionFormatNone, StatusSuccess}, {compressionFormatLZNT1, StatusNotSupported}, {compressionFormatDefault, StatusNotSupported}, {7, StatusInvalidParameter}} {
		if _, st := c.ioctl(id, fsctlSetCompression, binary.LittleEndian.AppendUint16(nil, tc.format), 0); st != tc.want {
			t.Errorf("FSCTL_SET_COMPRESSION %d: %v, want %v", tc.format, st, tc.want)
		}
	}
	ro := c.mustCreate(openReq("f"))
	if _, st := c.ioctl(ro, fsctlSetCompression, []byte{0, 0}, 0); st != StatusAccessDenied {
		t.Errorf("FSCTL_SET_COMPRESSION on a read-only open: %v", st)
	}
}
