package smb

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// TestCloseAfterQueryDirectory: a CLOSE sent right after a QUERY_DIRECTORY
// on the same handle, each in a frame of its own and without waiting for
// the first answer, is served after it: the listing succeeds whole, then
// the handle closes.
func TestCloseAfterQueryDirectory(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	c.close(c.mustCreate(createReq{name: "d", access: fileGenericRead, share: shareAll, disp: dispCreate, options: optDirectory}))
	const files = 300
	for i := range files {
		c.close(c.mustCreate(createReq{name: fmt.Sprintf(`d\file-%03d`, i), access: rw, share: shareAll, disp: dispCreate}))
	}
	for round := range 20 {
		d := c.mustCreate(createReq{name: "d", access: fileGenericRead, share: shareAll, disp: dispOpen, options: optDirectory})
		qd := c.msg(CmdQueryDirectory, queryDirBody(d, classFileIDBothDirectory, 0, "*", 1<<16), nil)
		cl := c.msg(CmdClose, closeBody(d), nil)
		c.send(qd)
		c.send(cl)
		got := map[Command]Status{}
		var entries uint32
		for range 2 {
			r := c.recv()[0]
			got[r.Command] = r.Status
			if r.Command == CmdQueryDirectory && r.Status == StatusSuccess {
				entries = binary.LittleEndian.Uint32(r.body[4:])
			}
		}
		if got[CmdQueryDirectory] != StatusSuccess || got[CmdClose] != StatusSuccess || entries == 0 {
			t.Fatalf("round %d: QUERY_DIRECTORY %v (%d bytes), CLOSE %v", round, got[CmdQueryDirectory], entries, got[CmdClose])
		}
	}
	// The same for a WRITE and a READ just before the CLOSE.
	data := make([]byte, 60000)
	for round := range 20 {
		f := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispOpenIf})
		c.send(c.msg(CmdWrite, writeBody(f, 0, data, 0), nil))
		c.send(c.msg(CmdRead, readBody(f, 0, 100), nil))
		c.send(c.msg(CmdClose, closeBody(f), nil))
		got := map[Command]Status{}
		for range 3 {
			r := c.recv()[0]
			got[r.Command] = r.Status
		}
		if got[CmdWrite] != StatusSuccess || got[CmdClose] != StatusSuccess || got[CmdRead] == StatusFileClosed {
			t.Fatalf("round %d: WRITE %v, READ %v, CLOSE %v", round, got[CmdWrite], got[CmdRead], got[CmdClose])
		}
	}
}
