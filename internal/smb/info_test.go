package smb

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/identity"
)

// lookupAttr is the attributes of a path's file in the export.
func (e *env) lookupAttr(t testing.TB, path ...string) (fs.Handle, fs.Attr) {
	t.Helper()
	ctx := context.Background()
	h := e.root()
	var a fs.Attr
	var err error
	for _, p := range path {
		if h, a, _, err = e.fs.Lookup(ctx, nil, h, p); err != nil {
			t.Fatalf("lookup %v: %v", path, err)
		}
	}
	return h, a
}

func TestQueryInfoFile(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	c.close(c.mustCreate(createReq{name: "d", access: fileGenericRead, share: shareAll, disp: dispCreate, options: optDirectory}))
	id := c.mustCreate(createReq{name: `d\file.bin`, access: rw, share: shareAll, disp: dispCreate, attrs: attrHidden})
	c.write(id, 0, bytes.Repeat([]byte("x"), 5000))
	_, a := e.lookupAttr(t, "d", "file.bin")

	basic, st := c.queryInfo(id, infoFile, classFileBasic, 40, 0)
	if st != StatusSuccess || len(basic) != 40 {
		t.Fatalf("basic: %v %d", st, len(basic))
	}
	for i, ns := range []int64{a.Btime, a.Atime, a.Mtime, a.Ctime} {
		if got := binary.LittleEndian.Uint64(basic[8*i:]); got != ntTime(ns) {
			t.Errorf("basic time %d: %d, want %d", i, got, ntTime(ns))
		}
	}
	if got := binary.LittleEndian.Uint32(basic[32:]); got != attrHidden|attrArchive {
		t.Errorf("basic attributes %#x", got)
	}
	std, _ := c.queryInfo(id, infoFile, classFileStandard, 24, 0)
	if binary.LittleEndian.Uint64(std) != 8192 || binary.LittleEndian.Uint64(std[8:]) != 5000 ||
		binary.LittleEndian.Uint32(std[16:]) != 1 || std[20] != 0 || std[21] != 0 {
		t.Errorf("standard: %x", std)
	}
	internal, _ := c.queryInfo(id, infoFile, classFileInternal, 8, 0)
	if binary.LittleEndian.Uint64(internal) != a.FileID {
		t.Errorf("internal: %x, want file id %d", internal, a.FileID)
	}
	name, _ := c.queryInfo(id, infoFile, classFileName, 1024, 0)
	if want := append([]byte{byte(2 * len(`\d\file.bin`)), 0, 0, 0}, utf16le(`\d\file.bin`)...); !bytes.Equal(name, want) {
		t.Errorf("name: %x", name)
	}
	all, st := c.queryInfo(id, infoFile, classFileAll, 4096, 0)
	if st != StatusSuccess || len(all) != 100+len(name)-4 || !bytes.Equal(all[:40], basic) || !bytes.Equal(all[40:64], std) ||
		binary.LittleEndian.Uint64(all[64:]) != a.FileID || binary.LittleEndian.Uint32(all[76:]) != rw || !bytes.Equal(all[96:], name) {
		t.Errorf("all: %v %x", st, all)
	}
	// Too small for the name: cut, with BUFFER_OVERFLOW; too small for the
	// fixed part: INFO_LENGTH_MISMATCH.
	cut, st := c.queryInfo(id, infoFile, classFileAll, 104, 0)
	if st != StatusBufferOverflow || !bytes.Equal(cut, all[:104]) {
		t.Errorf("all in 104 bytes: %v %x", st, cut)
	}
	if _, st := c.queryInfo(id, infoFile, classFileAll, 99, 0); st != StatusInfoLengthMismatch {
		t.Errorf("all in 99 bytes: %v", st)
	}
	netw, _ := c.queryInfo(id, infoFile, classFileNetworkOpen, 56, 0)
	if !bytes.Equal(netw[:32], basic[:32]) || binary.LittleEndian.Uint64(netw[32:]) != 8192 ||
		binary.LittleEndian.Uint64(netw[40:]) != 5000 || binary.LittleEndian.Uint32(netw[48:]) != attrHidden|attrArchive {
		t.Errorf("network open: %x", netw)
	}
	streams, _ := c.queryInfo(id, infoFile, classFileStream, 4096, 0)
	if len(streams) != 24+14 || binary.LittleEndian.Uint64(streams[8:]) != 5000 || !bytes.Equal(streams[24:], utf16le("::$DATA")) {
		t.Errorf("streams: %x", streams)
	}
	fid, _ := c.queryInfo(id, infoFile, classFileID, 24, 0)
	if binary.LittleEndian.Uint64(fid[8:]) != a.FileID {
		t.Errorf("file id information: %x", fid)
	}
	access, _ := c.queryInfo(id, infoFile, classFileAccess, 4, 0)
	if binary.LittleEndian.Uint32(access) != rw {
		t.Errorf("access: %x", access)
	}
	tag, _ := c.queryInfo(id, infoFile, classFileAttributeTag, 8, 0)
	if binary.LittleEndian.Uint32(tag) != attrHidden|attrArchive {
		t.Errorf("attribute tag: %x", tag)
	}
	if _, st := c.queryInfo(id, infoFile, classFileFullEa, 100, 0); st != StatusNoEASOnFile {
		t.Errorf("EAs: %v", st)
	}
	if b, st := c.queryInfo(id, infoFile, classFileAlternateName, 100, 0); st != StatusSuccess || !bytes.Equal(b, append([]byte{16, 0, 0, 0}, utf16le("FILE.BIN")...)) {
		t.Errorf("short name: %x, %v", b, st)
	}
	if _, st := c.queryInfo(id, infoFile, 99, 100, 0); st != StatusInvalidInfoClass {
		t.Errorf("unknown class: %v", st)
	}
	if _, st := c.queryInfo(id, 9, 1, 100, 0); st != StatusInvalidInfoClass {
		t.Errorf("unknown type: %v", st)
	}
	c.close(id)
	noAttrs := c.mustCreate(createReq{name: `d\file.bin`, access: fileReadData, share: shareAll, disp: dispOpen})
	if _, st := c.queryInfo(noAttrs, infoFile, classFileBasic, 40, 0); st != StatusAccessDenied {
		t.Errorf("basic without READ_ATTRIBUTES: %v", st)
	}

	dir := c.mustCreate(createReq{name: "d", access: fileGenericRead, share: shareAll, disp: dispOpen})
	std, _ = c.queryInfo(dir, infoFile, classFileStandard, 24, 0)
	if binary.LittleEndian.Uint64(std[8:]) != 0 || std[21] != 1 {
		t.Errorf("standard of a directory: %x", std)
	}
	if streams, st := c.queryInfo(dir, infoFile, classFileStream, 4096, 0); st != StatusSuccess || len(streams) != 0 {
		t.Errorf("streams of a directory: %x %v", streams, st)
	}
}

func TestQueryInfoFilesystem(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	root := c.mustCreate(createReq{name: "", access: fileGenericRead, share: shareAll, disp: dispOpen})
	vol, st := c.queryInfo(root, infoFilesystem, classFsVolume, 1024, 0)
	if st != StatusSuccess || len(vol) != 18+12 || !bytes.Equal(vol[18:], utf16le("export")) {
		t.Errorf("volume: %v %x", st, vol)
	}
	attr, _ := c.queryInfo(root, infoFilesystem, classFsAttribute, 1024, 0)
	if binary.LittleEndian.Uint32(attr[4:]) != 255 || !bytes.Equal(attr[12:], utf16le("NTFS")) {
		t.Errorf("attribute: %x", attr)
	}
	dev, _ := c.queryInfo(root, infoFilesystem, classFsDevice, 8, 0)
	if binary.LittleEndian.Uint32(dev) != fsDeviceDisk {
		t.Errorf("device: %x", dev)
	}
	st2, _, _ := e.fs.StatFS(context.Background(), e.root())
	size, _ := c.queryInfo(root, infoFilesystem, classFsFullSize, 32, 0)
	if binary.LittleEndian.Uint64(size) != st2.TotalBytes/4096 || binary.LittleEndian.Uint32(size[24:]) != 8 || binary.LittleEndian.Uint32(size[28:]) != 512 {
		t.Errorf("full size: %x", size)
	}
	small, _ := c.queryInfo(root, infoFilesystem, classFsSize, 24, 0)
	if !bytes.Equal(small[:8], size[:8]) {
		t.Errorf("size: %x", small)
	}
	if sec, st := c.queryInfo(root, infoFilesystem, classFsSectorSize, 28, 0); st != StatusSuccess || binary.LittleEndian.Uint32(sec) != 512 {
		t.Errorf("sector size: %v %x", st, sec)
	}
	if _, st := c.queryInfo(root, infoFilesystem, classFsControl, 48, 0); st != StatusNotSupported {
		t.Errorf("quota control: %v", st)
	}
	if _, st := c.queryInfo(root, infoQuota, 32, 48, 0); st != StatusNotSupported {
		t.Errorf("quota: %v", st)
	}
}

func basicInfo(times [4]uint64, attrs uint32) []byte {
	b := make([]byte, 40)
	for i, t := range times {
		binary.LittleEndian.PutUint64(b[8*i:], t)
	}
	binary.LittleEndian.PutUint32(b[32:], attrs)
	return b
}

func TestSetInfoBasic(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate})
	_, before := e.lookupAttr(t, "f")
	birth := time.Date(2000, 1, 2, 3, 4, 5, 600, time.UTC).UnixNano()
	mtime := time.Date(2001, 1, 2, 3, 4, 5, 123456700, time.UTC).UnixNano()
	if st := c.setInfo(id, infoFile, classFileBasic, basicInfo([4]uint64{ntTime(birth), 0, ntTime(mtime), 12345}, attrSystem|attrReadonly), 0); st != StatusSuccess {
		t.Fatal(st)
	}
	_, a := e.lookupAttr(t, "f")
	if a.Btime != birth || a.Mtime != mtime || a.Atime != before.Atime || a.DOSAttrs != attrSystem || a.Mode != 0o444 {
		t.Errorf("after set: btime %d mtime %d atime %d dos %#x mode %o", a.Btime, a.Mtime, a.Atime, a.DOSAttrs, a.Mode)
	}
	basic, _ := c.queryInfo(id, infoFile, classFileBasic, 40, 0)
	if got := binary.LittleEndian.Uint32(basic[32:]); got != attrSystem|attrReadonly {
		t.Errorf("attributes read back: %#x", got)
	}
	// -1 and -2 leave times alone; NORMAL clears everything, READONLY
	// goes and the owner may write again.
	if st := c.setInfo(id, infoFile, classFileBasic, basicInfo([4]uint64{^uint64(0), ^uint64(0) - 1, 0, 0}, attrNormal), 0); st != StatusSuccess {
		t.Fatal(st)
	}
	_, a = e.lookupAttr(t, "f")
	if a.Btime != birth || a.DOSAttrs != 0 || a.Mode != 0o644 {
		t.Errorf("after NORMAL: btime %d dos %#x mode %o", a.Btime, a.DOSAttrs, a.Mode)
	}
	if st := c.setInfo(id, infoFile, classFileBasic, basicInfo([4]uint64{}, attrDirectory), 0); st != StatusInvalidParameter {
		t.Errorf("DIRECTORY on a file: %v", st)
	}
	if st := c.setInfo(id, infoFile, classFileBasic, make([]byte, 20), 0); st != StatusInfoLengthMismatch {
		t.Errorf("short buffer: %v", st)
	}
	ro := c.mustCreate(createReq{name: "f", access: fileGenericRead, share: shareAll, disp: dispOpen})
	if st := c.setInfo(ro, infoFile, classFileBasic, basicInfo([4]uint64{}, attrHidden), 0); st != StatusAccessDenied {
		t.Errorf("set without WRITE_ATTRIBUTES: %v", st)
	}
	// Another user, without write permission, may not change attributes.
	b := e.connectAs("bob", bobPass, "export")
	if cr := b.create(createReq{name: "f", access: fileWriteAttributes, share: shareAll, disp: dispOpen}); cr.Status != StatusAccessDenied {
		t.Errorf("bob asks for WRITE_ATTRIBUTES on alice's 0644 file: %v", cr.Status)
	}
}

func TestSetInfoSizeAndRename(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "f", access: rw | accessDelete, share: shareAll, disp: dispCreate})
	c.write(id, 0, []byte("0123456789"))
	eof := binary.LittleEndian.AppendUint64(nil, 4)
	if st := c.setInfo(id, infoFile, classFileEndOfFile, eof, 0); st != StatusSuccess {
		t.Fatal(st)
	}
	if _, a := e.lookupAttr(t, "f"); a.Size != 4 {
		t.Errorf("size after EOF 4: %d", a.Size)
	}
	if st := c.setInfo(id, infoFile, classFileAllocation, binary.LittleEndian.AppendUint64(nil, 1<<20), 0); st != StatusSuccess {
		t.Fatal(st)
	}
	if _, a := e.lookupAttr(t, "f"); a.Size != 4 {
		t.Errorf("size after a larger allocation: %d", a.Size)
	}
	if st := c.setInfo(id, infoFile, classFileAllocation, binary.LittleEndian.AppendUint64(nil, 2), 0); st != StatusSuccess {
		t.Fatal(st)
	}
	if data, _ := c.read(id, 0, 100); string(data) != "01" {
		t.Errorf("after a smaller allocation: %q", data)
	}

	// Renames.
	c.close(c.mustCreate(createReq{name: "g", access: rw, share: shareAll, disp: dispCreate}))
	c.close(c.mustCreate(createReq{name: "sub", access: fileGenericRead, share: shareAll, disp: dispCreate, options: optDirectory}))
	for _, tc := range []struct {
		to      string
		replace bool
		want    Status
	}{
		{"g", false, StatusObjectNameCollision},
		{"sub", true, StatusAccessDenied}, // never over a directory
		{`nodir\x`, false, StatusObjectPathNotFound},
		{"bad*name", false, StatusObjectNameInvalid},
		{"", false, StatusAccessDenied},
		{`sub\moved`, false, StatusSuccess},
		{`\sub\moved2`, false, StatusSuccess}, // a leading backslash is tolerated
		{"MOVED2", false, StatusSuccess},      // the file itself: a new spelling
		{"g", true, StatusSuccess},
	} {
		if st := c.setInfo(id, infoFile, classFileRename, renameInfo(tc.to, tc.replace), 0); st != tc.want {
			t.Errorf("rename to %q (replace %v): %v, want %v", tc.to, tc.replace, st, tc.want)
		}
	}
	_, a := e.lookupAttr(t, "g")
	if a.Size != 2 {
		t.Errorf("g is not the renamed file: size %d", a.Size)
	}
	name, _ := c.queryInfo(id, infoFile, classFileName, 1024, 0)
	if !bytes.Equal(name[4:], utf16le(`\g`)) {
		t.Errorf("name after the renames: %q", name[4:])
	}
	// Over an open file: refused.
	other := c.mustCreate(createReq{name: "other", access: rw, share: shareAll, disp: dispCreate})
	if st := c.setInfo(id, infoFile, classFileRename, renameInfo("other", true), 0); st != StatusAccessDenied {
		t.Errorf("rename over an open file: %v", st)
	}
	c.close(other)
	// Without DELETE access: refused.
	noDel := c.mustCreate(createReq{name: "other", access: rw, share: shareAll, disp: dispOpen})
	if st := c.setInfo(noDel, infoFile, classFileRename, renameInfo("other2", false), 0); st != StatusAccessDenied {
		t.Errorf("rename without DELETE: %v", st)
	}
	// Hard link.
	if st := c.setInfo(noDel, infoFile, classFileLink, renameInfo(`sub\link`, false), 0); st != StatusSuccess {
		t.Errorf("link: %v", st)
	}
	if _, a := e.lookupAttr(t, "other"); a.Nlink != 2 {
		t.Errorf("links after FileLinkInformation: %d", a.Nlink)
	}
	if st := c.setInfo(noDel, infoFile, classFileLink, renameInfo("g", false), 0); st != StatusObjectNameCollision {
		t.Errorf("link over an existing name: %v", st)
	}
}

func TestSecurityDescriptor(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "f", access: rw | readControl | writeDAC | writeOwner, share: shareAll, disp: dispCreate})
	m, err := e.ids.Mapper(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sd, st := c.queryInfo(id, infoSecurity, 0, 4096, secOwner|secGroup|secDACL)
	if st != StatusSuccess {
		t.Fatal(st)
	}
	// The exact bytes: header, owner, group, DACL of three entries.
	owner, group := m.UserSID(1000), m.GroupSID(1000)
	want := []byte{1, 0, 0x04, 0x80}
	want = binary.LittleEndian.AppendUint32(want, 20)
	want = binary.LittleEndian.AppendUint32(want, uint32(20+owner.Size()))
	want = binary.LittleEndian.AppendUint32(want, 0)
	want = binary.LittleEndian.AppendUint32(want, uint32(20+owner.Size()+group.Size()))
	want = owner.Append(want)
	want = group.Append(want)
	aces := [][]byte{}
	for _, a := range []struct {
		sid  identity.SID
		mask uint32
	}{
		{owner, readControl | synchronize | fileReadAttributes | fileReadEA | fileReadData | fileWriteData | fileAppendData | fileWriteAttributes | fileWriteEA | writeDAC | writeOwner},
		{group, readControl | synchronize | fileReadAttributes | fileReadEA | fileReadData},
		{identity.SIDEveryone, readControl | synchronize | fileReadAttributes | fileReadEA | fileReadData},
	} {
		ace := []byte{0, 0}
		ace = binary.LittleEndian.AppendUint16(ace, uint16(8+a.sid.Size()))
		ace = binary.LittleEndian.AppendUint32(ace, a.mask)
		aces = append(aces, a.sid.Append(ace))
	}
	acl := bytes.Join(aces, nil)
	want = append(want, 2, 0)
	want = binary.LittleEndian.AppendUint16(want, uint16(8+len(acl)))
	want = binary.LittleEndian.AppendUint16(want, 3)
	want = append(want, 0, 0)
	want = append(want, acl...)
	if !bytes.Equal(sd, want) {
		t.Fatalf("descriptor of a 0644 file of uid 1000:\n got %x\nwant %x", sd, want)
	}
	// Too small: the size needed comes back.
	need, st := c.queryInfo(id, infoSecurity, 0, 20, secOwner|secGroup|secDACL)
	if st != StatusBufferTooSmall || len(need) != 4 || binary.LittleEndian.Uint32(need) != uint32(len(sd)) {
		t.Errorf("small buffer: %v %x", st, need)
	}
	// Setting what was read changes nothing; a DACL giving the group write
	// and everyone nothing makes the mode 0660.
	if st := c.setInfo(id, infoSecurity, 0, sd, secOwner|secGroup|secDACL); st != StatusSuccess {
		t.Fatal(st)
	}
	if _, a := e.lookupAttr(t, "f"); a.Mode != 0o644 || a.UID != 1000 {
		t.Errorf("after setting the same descriptor: mode %o uid %d", a.Mode, a.UID)
	}
	sd2 := bytes.Clone(sd)
	groupACE := len(sd2) - len(aces[1]) - len(aces[2])
	binary.LittleEndian.PutUint32(sd2[groupACE+4:], genericRead|genericWrite)
	binary.LittleEndian.PutUint32(sd2[len(sd2)-len(aces[2])+4:], readControl)
	if st := c.setInfo(id, infoSecurity, 0, sd2, secDACL); st != StatusSuccess {
		t.Fatal(st)
	}
	if _, a := e.lookupAttr(t, "f"); a.Mode != 0o660 {
		t.Errorf("after the new DACL: mode %o", a.Mode)
	}
	// Giving the file away needs root.
	sd3 := bytes.Clone(sd)
	copy(sd3[20:], m.UserSID(1001).Append(nil))
	if st := c.setInfo(id, infoSecurity, 0, sd3, secOwner); st != StatusAccessDenied {
		t.Errorf("chown by a user: %v", st)
	}
	if st := c.setInfo(id, infoSecurity, 0, []byte{1, 0, 0, 0}, secDACL); st != StatusInvalidSecurityDescr {
		t.Errorf("malformed descriptor: %v", st)
	}
	plain := c.mustCreate(createReq{name: "f", access: fileReadData, share: shareAll, disp: dispOpen})
	if _, st := c.queryInfo(plain, infoSecurity, 0, 4096, secDACL); st != StatusAccessDenied {
		t.Errorf("descriptor without READ_CONTROL: %v", st)
	}
	if st := c.setInfo(plain, infoSecurity, 0, sd, secDACL); st != StatusAccessDenied {
		t.Errorf("DACL without WRITE_DAC: %v", st)
	}
	// A descriptor given at creation sets the new file's mode.
	cr := c.create(createReq{name: "new", access: rw, share: shareAll, disp: dispCreate, contexts: ctxChain("SecD", sd2)})
	if cr.Status != StatusSuccess {
		t.Fatal(cr.Status)
	}
	if _, a := e.lookupAttr(t, "new"); a.Mode != 0o660 {
		t.Errorf("mode from the SecD context: %o", a.Mode)
	}
}

func TestSetInfoMisc(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "f", access: rw | accessDelete, share: shareAll, disp: dispCreate, options: optWriteThrough})
	c.write(id, 0, []byte("0123456789"))
	for _, tc := range []struct {
		class byte
		buf   []byte
		want  Status
	}{
		{classFilePosition, binary.LittleEndian.AppendUint64(nil, 7), StatusSuccess},
		{classFileMode, binary.LittleEndian.AppendUint32(nil, optSequentialOnly), StatusSuccess},
		{classFileMode, binary.LittleEndian.AppendUint32(nil, optDeleteOnClose), StatusInvalidParameter},
		{classFileValidDataLength, binary.LittleEndian.AppendUint64(nil, 5), StatusSuccess},
		{classFileShortName, make([]byte, 8), StatusNotSupported},
		{classFileFullEa, make([]byte, 8), StatusEAListInconsistent},
		{99, make([]byte, 8), StatusInvalidInfoClass},
		{classFilePosition, make([]byte, 4), StatusInfoLengthMismatch},
	} {
		if st := c.setInfo(id, infoFile, tc.class, tc.buf, 0); st != tc.want {
			t.Errorf("class %d: %v, want %v", tc.class, st, tc.want)
		}
	}
	pos, _ := c.queryInfo(id, infoFile, classFilePosition, 8, 0)
	mode, _ := c.queryInfo(id, infoFile, classFileMode, 4, 0)
	if binary.LittleEndian.Uint64(pos) != 7 || binary.LittleEndian.Uint32(mode) != optSequentialOnly {
		t.Errorf("position %x, mode %x", pos, mode)
	}
	if st := c.setInfo(id, infoFilesystem, classFsControl, make([]byte, 48), 0); st != StatusNotSupported {
		t.Errorf("set file system information: %v", st)
	}
	// FileDispositionInformationEx with ON_CLOSE marks only this open.
	other := c.mustCreate(createReq{name: "f", access: fileReadAttributes, share: shareAll, disp: dispOpen})
	if st := c.setInfo(id, infoFile, classFileDispositionEx, binary.LittleEndian.AppendUint32(nil, dispositionDelete|dispositionOnClose), 0); st != StatusSuccess {
		t.Fatal(st)
	}
	if cr := c.create(openReq("f")); cr.Status != StatusSuccess {
		t.Errorf("open before the marked open closes: %v", cr.Status)
	} else {
		c.close(cr.ID)
	}
	c.close(id)
	if cr := c.create(openReq("f")); cr.Status != StatusDeletePending {
		t.Errorf("open after the marked open closed: %v", cr.Status)
	}
	c.close(other)
	if cr := c.create(openReq("f")); cr.Status != StatusObjectNameNotFound {
		t.Errorf("after the last close: %v", cr.Status)
	}

	// Zeroing: inside the file, and through its end (the size stays).
	id = c.mustCreate(createReq{name: "z", access: rw, share: shareAll, disp: dispCreate})
	c.write(id, 0, []byte("abcdefghij"))
	zero := func(from, to uint64) Status {
		_, st := c.ioctl(id, fsctlSetZeroData, binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, from), to), 0)
		return st
	}
	if st := zero(2, 4); st != StatusSuccess {
		t.Fatal(st)
	}
	if st := zero(8, 1000); st != StatusSuccess {
		t.Fatal(st)
	}
	if b, _ := c.read(id, 0, 100); string(b) != "ab\x00\x00efgh\x00\x00" {
		t.Errorf("after zeroing: %q", b)
	}
	if st := zero(5, 1); st != StatusInvalidParameter {
		t.Errorf("backwards range: %v", st)
	}
	if st := zero(0, 1<<40); st != StatusSuccess {
		t.Errorf("zeroing to far past the end: %v", st)
	}
	if _, a := e.lookupAttr(t, "z"); a.Size != 10 {
		t.Errorf("size after zeroing everything: %d", a.Size)
	}
}
