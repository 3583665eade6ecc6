package smb

import (
	"encoding/binary"
	"testing"
)

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

// A rename breaks the handle caching of the file's other holders and
// waits, asynchronously, until they acknowledge: a cached handle keeps the
// old name open on its client.
func TestRenameWaitsForHandleBreak(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	q := createReq{name: "src", access: rw | accessDelete, share: shareAll, disp: dispCreate, contexts: ctxChain(ctxLeaseRequest, leaseCtx(1, 3))}
	r := c.createOplock(q, oplockLease)
	h1 := decodeCreate(t, r).ID
	q = createReq{name: "src", access: fileGenericRead, share: shareAll, disp: dispOpen, contexts: ctxChain(ctxLeaseRequest, leaseCtx(2, 3))}
	if r := c.createOplock(q, oplockLease); decodeCreate(t, r).contexts[ctxLeaseRequest][16] != 3 {
		t.Fatalf("second lease: %x", decodeCreate(t, r).contexts[ctxLeaseRequest])
	}

	// The break comes before the answer to a request sent right after
	// the rename, as a client that reads them in order expects (smbtorture
	// acknowledges the break it saw while opening the target).
	c.send(c.msg(CmdSetInfo, setInfoBody(h1, infoFile, classFileRename, renameInfo("dst", true), 0), nil))
	c.send(c.msg(CmdCreate, openReq("dst").body(), nil))
	var interim resp
	var brk []byte
	for created := false; !created; {
		r := c.recv()[0]
		switch {
		case r.Command == CmdOplockBreak && r.MessageID == ^uint64(0):
			brk = r.body
		case r.Command == CmdSetInfo && r.Status == StatusPending:
			interim = r
		case r.Command == CmdCreate && brk != nil:
			if r.Status != StatusObjectNameNotFound {
				t.Fatalf("the target while the rename waits: %v", r.Status)
			}
			created = true
		default:
			t.Fatalf("rename: %v %v before the break", r.Command, r.Status)
		}
	}
	if interim.Status != StatusPending {
		t.Fatal("no interim response to the rename")
	}
	if brk[8] != 2 || binary.LittleEndian.Uint32(brk[24:]) != 3 || binary.LittleEndian.Uint32(brk[28:]) != 1 {
		t.Fatalf("break %x, want lease 2 from RH to R", brk)
	}
	ack := make([]byte, 36)
	binary.LittleEndian.PutUint16(ack, 36)
	ack[8] = 2
	binary.LittleEndian.PutUint32(ack[24:], 1)
	c.send(c.msg(CmdOplockBreak, ack, nil))
	got := map[Command]resp{}
	for range 2 {
		r := c.recv()[0]
		got[r.Command] = r
	}
	if got[CmdOplockBreak].Status != StatusSuccess {
		t.Fatalf("ack: %v", got[CmdOplockBreak].Status)
	}
	if f := got[CmdSetInfo]; f.Status != StatusSuccess || f.AsyncID != interim.AsyncID {
		t.Fatalf("rename after the ack: %v", f.Status)
	}
	if cr := c.create(openReq("dst")); cr.Status != StatusSuccess {
		t.Fatalf("the target after the rename: %v", cr.Status)
	}
}
