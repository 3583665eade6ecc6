package server

import (
	"context"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/nfs3"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
	"github.com/tandemfs/tandem/test/smbclient"
)

// callRetry runs proc, retrying while the server answers NFS3ERR_JUKEBOX (an
// SMB client has a break to acknowledge first), and hands the rest of a
// successful reply to res.
func (n *nfsClient) callRetry(proc uint32, args func(*xdr.Writer), res func(*xdr.Reader)) nfs3.Status {
	n.t.Helper()
	cred := rpc.Cred{Flavor: rpc.AuthSys, UID: 1000, GID: 1000, GIDs: []uint32{1000}}
	for deadline := time.Now().Add(10 * time.Second); ; {
		var st nfs3.Status
		err := n.c.Call(context.Background(), nfs3.Program, 3, proc, cred, args, func(r *xdr.Reader) error {
			st = nfs3.Status(r.Uint32())
			if st == nfs3.StatusOK && res != nil {
				res(r)
			}
			return nil
		})
		if err != nil {
			n.t.Fatalf("NFS procedure %d: %v", proc, err)
		}
		if st != nfs3.StatusJukebox || time.Now().After(deadline) {
			return st
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *nfsClient) dirop(name string) func(*xdr.Writer) {
	return func(w *xdr.Writer) { w.Opaque(n.root.Bytes()); w.String(name) }
}

func (n *nfsClient) remove(name string) nfs3.Status {
	return n.callRetry(nfs3.ProcRemove, n.dirop(name), nil)
}

func (n *nfsClient) lookup(name string) nfs3.Status {
	return n.callRetry(nfs3.ProcLookup, n.dirop(name), nil)
}

// emptySattr is an sattr3 that sets nothing.
func emptySattr(w *xdr.Writer) {
	for range 6 {
		w.Uint32(0)
	}
}

func (n *nfsClient) create(name string) nfs3.Status {
	return n.callRetry(nfs3.ProcCreate, func(w *xdr.Writer) {
		n.dirop(name)(w)
		w.Uint32(0) // UNCHECKED
		emptySattr(w)
	}, nil)
}

// ackBreaks acknowledges every lease break c receives with the state it
// breaks to, as a client that flushes at once does.
func ackBreaks(tree *smbclient.Tree, c *smbclient.Conn) {
	go func() {
		for b := range c.Breaks() {
			if b.Lease && b.AckRequired {
				tree.AckLeaseBreak(b.LeaseKey, b.NewState)
			}
		}
	}()
}

func (n *nfsClient) symlink(name, target string) nfs3.Status {
	return n.callRetry(nfs3.ProcSymlink, func(w *xdr.Writer) {
		n.dirop(name)(w)
		emptySattr(w)
		w.String(target)
	}, nil)
}

// readlink looks name up and reads the link's target.
func (n *nfsClient) readlink(name string) (string, nfs3.Status) {
	var fh []byte
	if st := n.callRetry(nfs3.ProcLookup, n.dirop(name), func(r *xdr.Reader) {
		fh = append([]byte(nil), r.Opaque(fs.HandleSize)...)
	}); st != nfs3.StatusOK {
		return "", st
	}
	var target string
	st := n.callRetry(nfs3.ProcReadLink, func(w *xdr.Writer) { w.Opaque(fh) }, func(r *xdr.Reader) {
		if r.Bool() { // post_op_attr
			r.FixedOpaque(84)
		}
		target = r.String(fs.MaxPathLen)
	})
	return target, st
}
