package smb

import (
	"encoding/binary"
	"testing"
)

// listedShortName is the ShortName of a FileIdBothDirectoryInformation
// entry.
func listedShortName(t *testing.T, e dirEntry) string {
	t.Helper()
	n := int(e.raw[68])
	s, err := fromUTF16le(e.raw[70 : 70+n])
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestShortNames: the 8.3 name a listing reports for a long name opens,
// renames and deletes the file it names, as a path component too (MS-FSA
// 2.1.5.1), and is the one FileAlternateNameInformation reports.
func TestShortNames(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	c.close(c.mustCreate(createReq{name: "Long Directory Name", access: fileGenericRead, share: shareAll, disp: dispCreate, options: optDirectory}))
	c.close(c.mustCreate(createReq{name: `Long Directory Name\a file with a long name.text`, access: rw, share: shareAll, disp: dispCreate}))
	c.close(c.mustCreate(createReq{name: `Long Directory Name\another long name.text`, access: rw, share: shareAll, disp: dispCreate}))

	root := c.mustCreate(createReq{name: "", access: fileGenericRead, share: shareAll, disp: dispOpen})
	es, st := c.queryDir(root, classFileIDBothDirectory, 0, "Long*", 4096)
	if st != StatusSuccess || len(es) != 1 {
		t.Fatalf("listing: %v %v", st, names(es))
	}
	dirShort := listedShortName(t, es[0])
	if dirShort != shortName("Long Directory Name") {
		t.Fatalf("listed short name %q, want %q", dirShort, shortName("Long Directory Name"))
	}
	d := c.mustCreate(createReq{name: dirShort, access: fileGenericRead, share: shareAll, disp: dispOpen, options: optDirectory})
	es, st = c.queryDir(d, classFileIDBothDirectory, 0, "*", 4096)
	if st != StatusSuccess || len(es) != 4 {
		t.Fatalf("listing through the short name: %v %v", st, names(es))
	}
	short := map[string]string{}
	ids := map[string]uint64{}
	for _, en := range es {
		short[en.name] = listedShortName(t, en)
		ids[en.name] = en.fileID
	}
	if short["."] != "" || short[".."] != "" {
		t.Errorf(". and .. have short names %q %q", short["."], short[".."])
	}
	a, b := short["a file with a long name.text"], short["another long name.text"]
	if a == "" || b == "" || a == b {
		t.Fatalf("short names %q %q", a, b)
	}
	// Open by the short name, and by a path made of short names.
	for _, name := range []string{dirShort + `\` + a, `Long Directory Name\` + a} {
		cr := c.create(createReq{name: name, access: rw | accessDelete, share: shareAll, disp: dispOpen})
		if cr.Status != StatusSuccess {
			t.Fatalf("open %q: %v", name, cr.Status)
		}
		info, st := c.queryInfo(cr.ID, infoFile, classFileInternal, 8, 0)
		if st != StatusSuccess || binary.LittleEndian.Uint64(info) != ids["a file with a long name.text"] {
			t.Errorf("open %q found file %x, want %x", name, info, ids["a file with a long name.text"])
		}
		alt, st := c.queryInfo(cr.ID, infoFile, classFileAlternateName, 1024, 0)
		if got, _ := fromUTF16le(alt[4:]); st != StatusSuccess || got != a {
			t.Errorf("FileAlternateNameInformation of %q: %v %q, want %q", name, st, got, a)
		}
		c.close(cr.ID)
	}
	// Rename through an open by the short name.
	f := c.mustCreate(createReq{name: dirShort + `\` + a, access: rw | accessDelete, share: shareAll, disp: dispOpen})
	if st := c.setInfo(f, infoFile, classFileRename, renameInfo(`Long Directory Name\renamed.txt`, false), 0); st != StatusSuccess {
		t.Fatalf("rename by the short name: %v", st)
	}
	c.close(f)
	if cr := c.create(openReq(`Long Directory Name\renamed.txt`)); cr.Status != StatusSuccess {
		t.Errorf("the renamed file: %v", cr.Status)
	}
	// Delete on close through an open by the short name.
	g := c.mustCreate(createReq{name: dirShort + `\` + b, access: accessDelete | fileReadAttributes, share: shareAll, disp: dispOpen, options: optDeleteOnClose})
	c.close(g)
	if cr := c.create(openReq(`Long Directory Name\another long name.text`)); cr.Status != StatusObjectNameNotFound {
		t.Errorf("the file deleted by its short name: %v", cr.Status)
	}
	// A short name no file has is not found.
	if cr := c.create(openReq(dirShort + `\NOSUCH~ZZ.TXT`)); cr.Status != StatusObjectNameNotFound {
		t.Errorf("a short name of nothing: %v", cr.Status)
	}
}
