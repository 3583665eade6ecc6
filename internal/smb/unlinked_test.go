package smb

import (
	"context"
	"errors"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
)

// A file removed by name by another protocol (NFS REMOVE is fs.Remove)
// while an SMB open that shares delete has it: the name is free at once,
// and the open reads, writes and flushes the file until it closes, as
// POSIX has it; then the file goes.
func TestOpenOutlivesRemoveByName(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	ctx := context.Background()
	q := createReq{name: "f", access: rw | accessDelete, share: shareAll, disp: dispCreate, contexts: ctxChain(ctxLeaseRequest, leaseCtx(1, 7))}
	r := c.createOplock(q, oplockLease)
	id := decodeCreate(t, r).ID
	if st := c.write(id, 0, []byte("hello")); st != StatusSuccess {
		t.Fatal(st)
	}
	h, _ := e.lookupAttr(t, "f")
	alice := &fs.Caller{UID: 1000, GID: 1000}
	if _, err := e.fs.Remove(ctx, alice, e.root(), "f"); err != nil {
		t.Fatalf("remove by name: %v", err)
	}

	if st := c.write(id, 5, []byte(" world")); st != StatusSuccess {
		t.Fatalf("write after the remove: %v", st)
	}
	if b, st := c.read(id, 0, 64); st != StatusSuccess || string(b) != "hello world" {
		t.Fatalf("read after the remove: %v %q", st, b)
	}
	if r := c.call(CmdFlush, closeBody(id), nil); r.Status != StatusSuccess {
		t.Fatalf("flush after the remove: %v", r.Status)
	}

	// The name is free. The client asks with the lease key of the open it
	// still has (the Linux client reuses the key of the inode it cached
	// for the name): the name is the lease's, but the file is another,
	// so the open gets no lease rather than a refusal.
	r = c.createOplock(q, oplockLease)
	cr := decodeCreate(t, r)
	if cr.Status != StatusSuccess || r.body[2] != oplockNone {
		t.Fatalf("create of the removed name with the old lease key: %v, oplock %#x", cr.Status, r.body[2])
	}
	if b, st := c.read(cr.ID, 0, 64); st != StatusEndOfFile {
		t.Fatalf("the new file reads %v %q; want it empty", st, b)
	}
	// The old open no longer has the name: renaming or linking through it
	// moves nothing, the new file least of all.
	if st := c.setInfo(id, infoFile, classFileRename, renameInfo("moved", false), 0); st != StatusObjectNameNotFound {
		t.Fatalf("rename through the open of the removed file: %v", st)
	}
	if st := c.setInfo(id, infoFile, classFileLink, renameInfo("linked", false), 0); st != StatusObjectNameNotFound {
		t.Fatalf("link through the open of the removed file: %v", st)
	}
	// Another name under that key is still refused (MS-SMB2 3.3.5.9.8).
	q.name = "g"
	if r := c.createOplock(q, oplockLease); r.Status != StatusInvalidParameter {
		t.Fatalf("another name with a held lease key: %v", r.Status)
	}
	c.close(cr.ID)

	if _, err := e.fs.GetAttr(ctx, h); err != nil {
		t.Fatalf("the removed file while open: %v", err)
	}
	if st := c.close(id); st != StatusSuccess {
		t.Fatal(st)
	}
	if _, err := e.fs.GetAttr(ctx, h); !errors.Is(err, fs.ErrStale) {
		t.Fatalf("the removed file after its last close: %v, want ErrStale", err)
	}
}
