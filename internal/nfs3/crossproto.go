package nfs3

import (
	"context"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
)

// crossGuard applies SMB's state in the lock manager to NFS requests, which
// have no opens and no locks of their own to be judged by:
//
//   - SMB byte-range locks are mandatory. A lock of an SMB open, shared or
//     exclusive, refuses NFS WRITE into its range; an exclusive one refuses
//     NFS READ too (MS-FSA 2.1.4.10, with NFS as an open that holds no
//     lock). NLM locks stay advisory to NFS I/O, as POSIX says.
//   - SMB share modes bind NFS as they would another open (MS-FSA
//     2.1.5.1.2.2): while an SMB open with data access denies read or
//     write, NFS READ or WRITE and a change of size (SETATTR, CREATE of an
//     existing file with a size) are refused; while one does not share
//     delete, so are REMOVE, RMDIR and RENAME of its file and a RENAME
//     over it.
//   - A directory with an SMB open anywhere below it is not renamed or
//     removed, whatever that open shares (crossdir.go).
//
// Each method is asked by one procedure before it touches the file and
// returns nil to go on, or the error to answer: fs.ErrLocked, which is
// NFS3ERR_ACCES, or fs.ErrJukebox (retry) while what refuses it is prior
// state that its client may reclaim after a restart, or lose. A guard without a lock manager (NFS served alone) allows
// everything. On a file with no lock state at all, which is nearly every
// file, READ, WRITE and SETATTR cost an atomic load and allocate nothing;
// REMOVE, RENAME and CREATE, which name the file by a directory entry,
// look the name up only while some file has lock state.
//
// The check and the operation are two steps: an SMB open or lock that
// arrives between them is not seen by the NFS request, which then ran, as
// far as either client can tell, just before it.
type crossGuard struct {
	locks *lock.Manager
	fs    *fs.FS
	// contend breaks the SMB caching grants an operation conflicts with
	// and waits for them (Handler.contend).
	contend func(fs.Handle, lock.Contention) error
	// contendKeys does the same for several files at once.
	contendKeys func([]lock.FileKey, lock.Contention) error
}

// read guards READ of n bytes at off.
func (g *crossGuard) read(ctx context.Context, fh fs.Handle, off uint64, n int) error {
	return g.io(fh, off, n, lock.AccessRead)
}

// write guards WRITE of n bytes at off.
func (g *crossGuard) write(ctx context.Context, fh fs.Handle, off uint64, n int) error {
	return g.io(fh, off, n, lock.AccessWrite)
}

func (g *crossGuard) io(fh fs.Handle, off uint64, n int, a lock.Access) error {
	if g.locks == nil {
		return nil
	}
	k := lock.KeyOf(fh)
	if g.locks.Idle(k) {
		return nil
	}
	if r, denied := g.locks.ShareDenies(k, a); denied {
		return refusal(r.Owner)
	}
	if l, held := g.locks.CheckIO(k, lock.Owner{}, off, uint64(n), a == lock.AccessWrite); held {
		return refusal(l.Owner)
	}
	return nil
}

// refusal is the answer to an operation that meets holder's state: it is
// refused, or, while the state is prior (held before a restart, not yet
// reclaimed: it may be released at the end of the grace period), the
// client is told to try again.
func refusal(holder lock.Owner) error {
	if holder.Prior {
		return fs.ErrJukebox
	}
	return fs.ErrLocked
}

// setattr guards SETATTR: a change of size writes the file. Byte-range
// locks do not bind it, as they do not bind SMB's own change of the end of
// file here (SET_INFO FileEndOfFileInformation checks none).
func (g *crossGuard) setattr(ctx context.Context, fh fs.Handle, sa *fs.SetAttr) error {
	if g.locks == nil || sa.Mask&fs.SetSize == 0 {
		return nil
	}
	if r, denied := g.locks.ShareDenies(lock.KeyOf(fh), lock.AccessWrite); denied {
		return refusal(r.Owner)
	}
	return nil
}

// create guards CREATE: UNCHECKED with a size reuses an existing file and
// sets its size (Linux sends it for open with O_CREAT|O_TRUNC), which
// writes the file as SETATTR would.
func (g *crossGuard) create(ctx context.Context, cl *fs.Caller, dir fs.Handle, name string, how *fs.CreateHow) error {
	if g.locks == nil || how.Mode != fs.Unchecked || how.Attr.Mask&fs.SetSize == 0 || g.locks.Empty() {
		return nil
	}
	h, _, _, err := g.fs.Lookup(ctx, cl, dir, name)
	if err != nil {
		return nil // no file to reuse, or CREATE fails the same way
	}
	return g.setattr(ctx, h, &how.Attr)
}

// remove guards REMOVE and RMDIR of name in dir.
func (g *crossGuard) remove(ctx context.Context, cl *fs.Caller, dir fs.Handle, name string) error {
	if g.locks == nil || g.locks.Empty() {
		return nil
	}
	return g.deletes(ctx, cl, dir, name)
}

// rename guards RENAME: it deletes the source's name and, if the target
// name exists, the file it names.
func (g *crossGuard) rename(ctx context.Context, cl *fs.Caller, fromDir fs.Handle, fromName string, toDir fs.Handle, toName string) error {
	if g.locks == nil || g.locks.Empty() {
		return nil
	}
	if err := g.deletes(ctx, cl, fromDir, fromName); err != nil {
		return err
	}
	return g.deletes(ctx, cl, toDir, toName)
}

// deletes refuses the deletion of name in dir while an SMB open of the
// file it names does not share delete, once the SMB clients that cache
// handles of it have given them up (NFS3ERR_JUKEBOX while they take long). A name that cannot be looked up is
// left for the operation itself to fail on.
func (g *crossGuard) deletes(ctx context.Context, cl *fs.Caller, dir fs.Handle, name string) error {
	if name == "." || name == ".." {
		return nil // never removable; the operation says why
	}
	h, attr, _, err := g.fs.Lookup(ctx, cl, dir, name)
	if err != nil {
		return nil
	}
	// A client that caches handles (H) keeps opens its application has
	// closed: break H first, so that it closes them, and judge the opens
	// that stay.
	if err := g.contend(h, lock.ContendRemove); err != nil {
		return err
	}
	if r, denied := g.locks.ShareDenies(lock.KeyOf(h), lock.AccessDelete); denied {
		return refusal(r.Owner)
	}
	if attr.Type == fs.TypeDir {
		return g.opensBelow(ctx, h)
	}
	return nil
}
