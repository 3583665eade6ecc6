package smb

import (
	"context"
	"strings"
	"testing"
)

// A directory's delete on close is decided when the open closes (MS-FSA
// 2.1.5.5, phase 1): a directory that still has entries then, even ones
// whose own delete is pending, is kept, and both the CREATE and the CLOSE
// succeed. FileDispositionInformation still refuses a full directory.
func TestDirDeleteOnCloseWithEntries(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	ctx := context.Background()
	exists := func(path string) bool {
		h := e.root()
		for _, name := range strings.Split(path, `\`) {
			nh, _, _, err := e.fs.Lookup(ctx, nil, h, name)
			if err != nil {
				return false
			}
			h = nh
		}
		return true
	}
	rmdir := func(name string) (Status, Status) {
		cr := c.create(createReq{name: name, access: accessDelete, share: shareAll, disp: dispOpen, options: optDirectory | optDeleteOnClose})
		if cr.Status != StatusSuccess {
			return cr.Status, 0
		}
		return cr.Status, c.close(cr.ID)
	}

	c.close(c.mustCreate(createReq{name: "d", access: rw, share: shareAll, disp: dispCreate, options: optDirectory}))
	keep := c.mustCreate(createReq{name: `d\sub`, access: rw | accessDelete, share: shareAll, disp: dispCreate, options: optDirectory})

	// The entry's delete waits for its other open.
	if op, cl := rmdir(`d\sub`); op != StatusSuccess || cl != StatusSuccess {
		t.Fatalf("delete on close of d\\sub: %v, close %v", op, cl)
	}
	if !exists(`d\sub`) {
		t.Fatal(`d\sub deleted while still open`)
	}
	if cr := c.create(createReq{name: `d\sub`, access: fileReadAttributes, share: shareAll, disp: dispOpen}); cr.Status != StatusDeletePending {
		t.Errorf("open of d\\sub: %v, want STATUS_DELETE_PENDING", cr.Status)
	}

	// The parent still has it: the delete on close lapses.
	if op, cl := rmdir("d"); op != StatusSuccess || cl != StatusSuccess {
		t.Errorf("delete on close of d: %v, close %v, want success for both", op, cl)
	}
	if !exists("d") {
		t.Fatal("d deleted with an entry in it")
	}
	d := c.mustCreate(createReq{name: "d", access: accessDelete | fileReadAttributes, share: shareAll, disp: dispOpen, options: optDirectory})
	if st := c.setInfo(d, infoFile, classFileDisposition, []byte{1}, 0); st != StatusDirectoryNotEmpty {
		t.Errorf("disposition of d: %v, want STATUS_DIRECTORY_NOT_EMPTY", st)
	}
	c.close(d)

	// The last close of d\sub deletes it; then d goes.
	if st := c.close(keep); st != StatusSuccess {
		t.Fatal(st)
	}
	if exists(`d\sub`) {
		t.Fatal(`d\sub outlived its last open`)
	}
	if op, cl := rmdir("d"); op != StatusSuccess || cl != StatusSuccess {
		t.Errorf("delete on close of the emptied d: %v, close %v", op, cl)
	}
	if exists("d") {
		t.Error("the emptied d was not deleted")
	}

	// What counts is the directory at the close, not at the open.
	del := c.mustCreate(createReq{name: "e", access: rw | accessDelete, share: shareAll, disp: dispCreate, options: optDirectory | optDeleteOnClose})
	c.close(c.mustCreate(createReq{name: `e\f`, access: rw, share: shareAll, disp: dispCreate}))
	if st := c.close(del); st != StatusSuccess {
		t.Errorf("close: %v", st)
	}
	if !exists(`e\f`) {
		t.Error("e deleted though it had an entry when it closed")
	}
}
