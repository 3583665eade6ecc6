package smb

import "testing"

// A compound whose first request is marked related is malformed: that
// request and the related ones after it fail, whatever FileId they name;
// an unrelated request after them is served.
func TestCompoundFirstRelated(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate})
	c.send(compound(
		c.msg(CmdCreate, createReq{name: "g", access: rw, share: shareAll, disp: dispCreate}.body(), related),
		c.msg(CmdClose, closeBody(id), related),
		c.msg(CmdQueryInfo, queryInfoBody(id, infoFile, classFileBasic, 40, 0), related),
		c.msg(CmdClose, closeBody(relatedFileID), nil),
	))
	rs := c.recv()
	want := []Status{StatusInvalidParameter, StatusInvalidParameter, StatusInvalidParameter, StatusFileClosed}
	if len(rs) != len(want) {
		t.Fatalf("%d responses", len(rs))
	}
	for i, r := range rs {
		if r.Status != want[i] {
			t.Errorf("response %d (%v): %v, want %v", i, r.Command, r.Status, want[i])
		}
	}
	if st := c.close(id); st != StatusSuccess {
		t.Errorf("the related CLOSE closed the file after all: %v", st)
	}
	if _, _, _, err := e.fs.Lookup(t.Context(), nil, e.root(), "g"); err == nil {
		t.Error("the related CREATE first in the chain created its file")
	}
}

// A related request takes the session and tree of the request before it;
// when that one had none that worked, the related request fails with
// STATUS_INVALID_PARAMETER.
func TestCompoundRelatedAfterSessionFailure(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	bogus := func(h *Header) { h.SessionID, h.TreeID = ^uint64(0), ^uint32(0) }
	c.send(compound(
		c.msg(CmdCreate, createReq{name: "f", access: rw, share: shareAll, disp: dispCreate}.body(), nil),
		c.msg(CmdClose, closeBody(relatedFileID), related),
		c.msg(CmdClose, closeBody(relatedFileID), bogus),
		c.msg(CmdClose, closeBody(relatedFileID), bogus),
		c.msg(CmdClose, closeBody(relatedFileID), related),
	))
	rs := c.recv()
	want := []Status{StatusSuccess, StatusSuccess, StatusUserSessionDeleted, StatusUserSessionDeleted, StatusInvalidParameter}
	if len(rs) != len(want) {
		t.Fatalf("%d responses", len(rs))
	}
	for i, r := range rs {
		if r.Status != want[i] {
			t.Errorf("response %d (%v): %v, want %v", i, r.Command, r.Status, want[i])
		}
	}
}

// Every response of a compound is padded to 8 bytes, the last one too; a
// lone response is not.
func TestCompoundResponsePadding(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate})
	if st := c.write(id, 0, []byte("123")); st != StatusSuccess {
		t.Fatal(st)
	}
	c.send(compound(
		c.msg(CmdRead, readBody(id, 0, 3), nil),
		c.msg(CmdRead, readBody(id, 0, 3), nil),
	))
	rs := c.recv()
	if len(rs) != 2 {
		t.Fatalf("%d responses", len(rs))
	}
	for i, r := range rs {
		if r.Status != StatusSuccess || len(r.body) != 24 {
			t.Errorf("response %d: %v, %d byte body, want 24", i, r.Status, len(r.body))
		}
	}
	if r := c.call(CmdRead, readBody(id, 0, 3), nil); len(r.body) != 19 {
		t.Errorf("lone READ response: %d byte body, want 19", len(r.body))
	}
}
