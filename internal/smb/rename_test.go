package smb

import "testing"

// A rename opens the target's directory for a moment; opens of that
// directory decide whether it may.
func TestRenameTargetDirectorySharing(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	d := e.connect("export")
	c.close(c.mustCreate(createReq{name: "dir", access: fileGenericRead, share: shareAll, disp: dispCreate, options: optDirectory}))
	dirAll := uint32(fileGenericRead) | fileGenericWrite | fileExecute
	for _, tc := range []struct {
		name          string
		access, share uint32
		want          Status
	}{
		{"delete access, all shared", dirAll | accessDelete, shareAll, StatusSharingViolation},
		{"delete access, nothing shared", dirAll | accessDelete, 0, StatusSharingViolation},
		{"no delete access, all shared", dirAll, shareAll, StatusSuccess},
		{"no delete access, nothing shared", dirAll, 0, StatusSharingViolation},
		{"attributes only, nothing shared", fileReadAttributes | synchronize, 0, StatusSuccess},
		{"read, read and write shared", fileGenericRead, 3, StatusSuccess},
	} {
		f := c.mustCreate(createReq{name: `dir\f`, access: rw | accessDelete, share: 0, disp: dispCreate})
		dh := d.mustCreate(createReq{name: "dir", access: tc.access, share: tc.share, disp: dispOpen, options: optDirectory})
		if st := c.setInfo(f, infoFile, classFileRename, renameInfo(`dir\g`, false), 0); st != tc.want {
			t.Errorf("%s: rename %v, want %v", tc.name, st, tc.want)
		}
		d.close(dh)
		c.setInfo(f, infoFile, classFileDisposition, []byte{1}, 0)
		c.close(f)
	}
	// Only the target's directory counts: an open of the source's does not.
	f := c.mustCreate(createReq{name: `dir\f`, access: rw | accessDelete, share: 0, disp: dispCreate})
	dh := d.mustCreate(createReq{name: "dir", access: dirAll | accessDelete, share: 0, disp: dispOpen, options: optDirectory})
	if st := c.setInfo(f, infoFile, classFileRename, renameInfo("moved", false), 0); st != StatusSuccess {
		t.Errorf("rename out of a directory opened with DELETE: %v", st)
	}
	d.close(dh)
	c.close(f)
}

func TestRenameDirectoryWithOpenFiles(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	all := uint32(rw | accessDelete)
	d := c.mustCreate(createReq{name: "d", access: all, share: shareAll, disp: dispCreate, options: optDirectory})
	c.close(c.mustCreate(createReq{name: `d\sub`, access: fileGenericRead, share: shareAll, disp: dispCreate, options: optDirectory}))
	f := c.mustCreate(createReq{name: `d\sub\f`, access: rw, share: shareAll, disp: dispCreate})
	if st := c.setInfo(d, infoFile, classFileRename, renameInfo("d2", false), 0); st != StatusAccessDenied {
		t.Errorf("rename of a directory with a file open two levels below: %v", st)
	}
	// A sibling whose name merely starts with the directory's is not below it.
	s := c.mustCreate(createReq{name: "dx", access: rw, share: shareAll, disp: dispCreate})
	c.close(f)
	if st := c.setInfo(d, infoFile, classFileRename, renameInfo("D2", false), 0); st != StatusSuccess {
		t.Errorf("rename once the file is closed: %v", st)
	}
	c.close(s)
	// The directory's own open (the one renaming) does not count.
	if st := c.setInfo(d, infoFile, classFileRename, renameInfo("d3", false), 0); st != StatusSuccess {
		t.Errorf("second rename: %v", st)
	}
	c.close(d)
}
