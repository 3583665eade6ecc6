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
//   - SMB caching grants the request conflicts with are broken first, and
//     the request waits a short while for them (caching.go).
//
// On a share whose locking is unix (lock.Locking) only the last rule
// holds: locks and share modes are advisory across the protocols there.
//
// Each method is asked by one procedure before it touches the file and
// returns the error to answer, or nil and what it holds for the
// operation, to be released (release) once the operation is done: the
// check and the operation are one step as SMB sees them. The request's
// intent stays in the lock manager meanwhile (lock.Manager.BeginIO), so an
// SMB open, lock or lease arriving in between sees the request in progress
// and waits for it or is refused, as it would be by an open doing the
// same. The error is fs.ErrLocked, which is NFS3ERR_ACCES, or
// fs.ErrJukebox (retry) while what refuses it is prior state that its
// client may reclaim after a restart, or lose, or breaks take long. A
// guard without a lock manager (NFS served alone) allows everything. On a
// file with no lock state at all, which is nearly every file, READ, WRITE
// and SETATTR cost a few atomic operations and allocate nothing; REMOVE,
// RENAME and CREATE with a size first look up the file their name names.
type crossGuard struct {
	locks *lock.Manager
	fs    *fs.FS
	// contend breaks the SMB caching grants an operation conflicts with
	// and waits for them (Handler.contend).
	contend func(fs.Handle, lock.Contention) error
	// contendKeys does the same for several files at once.
	contendKeys func([]lock.FileKey, lock.Contention) error
	// route delivers the lock manager's notices (Handler.route).
	route func([]lock.Notice)
}

// held is what a guard holds for one operation: the intents of the files
// it touches (two for a RENAME over an existing name).
type held struct{ in [2]lock.Intent }

// maxBreakRounds bounds how often a request breaks caching grants that
// keep coming back before it tells its client to retry.
const maxBreakRounds = 3

// begin checks an NFS request of kind on fh (n bytes at off for READ and
// WRITE) against SMB's state and holds its intent.
func (g *crossGuard) begin(fh fs.Handle, kind lock.IOKind, off uint64, n int) (lock.Intent, error) {
	if g.locks == nil {
		return lock.Intent{}, nil
	}
	k := lock.KeyOf(fh)
	for round := 0; ; round++ {
		in, holder, st := g.locks.BeginIO(k, kind, off, uint64(n))
		switch st {
		case lock.Granted:
			return in, nil
		case lock.Denied:
			g.end(&in)
			return lock.Intent{}, refusal(holder)
		}
		// A caching grant conflicts: break it, wait for it and ask again.
		g.end(&in)
		if round == maxBreakRounds {
			return lock.Intent{}, fs.ErrJukebox
		}
		if err := g.contend(fh, kind.Contention()); err != nil {
			return lock.Intent{}, err
		}
	}
}

// end ends one intent and delivers what its end grants.
func (g *crossGuard) end(in *lock.Intent) {
	if ns := in.End(); len(ns) > 0 {
		g.route(ns)
	}
}

// release ends what a guard held for an operation.
func (g *crossGuard) release(h *held) {
	for i := range h.in {
		g.end(&h.in[i])
	}
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

// read guards READ of n bytes at off.
func (g *crossGuard) read(fh fs.Handle, off uint64, n int) (lock.Intent, error) {
	return g.begin(fh, lock.IORead, off, n)
}

// write guards WRITE of n bytes at off.
func (g *crossGuard) write(fh fs.Handle, off uint64, n int) (lock.Intent, error) {
	return g.begin(fh, lock.IOWrite, off, n)
}

// setattr guards SETATTR: a change of size writes the file. Byte-range
// locks do not bind it, as they do not bind SMB's own change of the end of
// file here (SET_INFO FileEndOfFileInformation checks none).
func (g *crossGuard) setattr(fh fs.Handle, sa *fs.SetAttr) (lock.Intent, error) {
	if sa.Mask&fs.SetSize == 0 {
		return lock.Intent{}, nil
	}
	return g.begin(fh, lock.IOResize, 0, 0)
}

// create guards CREATE: UNCHECKED with a size reuses an existing file and
// sets its size (Linux sends it for open with O_CREAT|O_TRUNC), which
// writes the file as SETATTR would.
func (g *crossGuard) create(ctx context.Context, cl *fs.Caller, dir fs.Handle, name string, how *fs.CreateHow) (lock.Intent, error) {
	if g.locks == nil || how.Mode != fs.Unchecked || how.Attr.Mask&fs.SetSize == 0 {
		return lock.Intent{}, nil
	}
	h, _, _, err := g.fs.Lookup(ctx, cl, dir, name)
	if err != nil {
		return lock.Intent{}, nil // no file to reuse, or CREATE fails the same way
	}
	return g.setattr(h, &how.Attr)
}

// remove guards REMOVE and RMDIR of name in dir.
func (g *crossGuard) remove(ctx context.Context, cl *fs.Caller, dir fs.Handle, name string) (held, error) {
	var h held
	var err error
	if g.locks != nil {
		h.in[0], err = g.deletes(ctx, cl, dir, name)
	}
	return h, err
}

// rename guards RENAME: it deletes the source's name and, if the target
// name exists, the file it names.
func (g *crossGuard) rename(ctx context.Context, cl *fs.Caller, fromDir fs.Handle, fromName string, toDir fs.Handle, toName string) (held, error) {
	var h held
	if g.locks == nil {
		return h, nil
	}
	var err error
	if h.in[0], err = g.deletes(ctx, cl, fromDir, fromName); err != nil {
		return h, err
	}
	if h.in[1], err = g.deletes(ctx, cl, toDir, toName); err != nil {
		g.release(&h)
	}
	return h, err
}

// deletes refuses the deletion of name in dir while an SMB open of the
// file it names does not share delete, once the SMB clients that cache
// handles of it have given them up (NFS3ERR_JUKEBOX while they take long),
// and, for a directory, while SMB opens below it stay. A name that cannot
// be looked up is left for the operation itself to fail on.
func (g *crossGuard) deletes(ctx context.Context, cl *fs.Caller, dir fs.Handle, name string) (lock.Intent, error) {
	if name == "." || name == ".." {
		return lock.Intent{}, nil // never removable; the operation says why
	}
	h, attr, _, err := g.fs.Lookup(ctx, cl, dir, name)
	if err != nil {
		return lock.Intent{}, nil
	}
	// A client that caches handles (H) keeps opens its application has
	// closed: begin breaks H first, so that it closes them, and judges
	// the opens that stay.
	in, err := g.begin(h, lock.IODelete, 0, 0)
	if err != nil {
		return in, err
	}
	if attr.Type == fs.TypeDir {
		if err := g.opensBelow(ctx, h, g.locks.Locking(h.Share) == lock.Unified); err != nil {
			g.end(&in)
			return lock.Intent{}, err
		}
	}
	return in, nil
}

// settle breaks the write caching SMB clients hold of the file fh names
// and waits a short while for them to flush, so that the attributes a
// reply carries include what they wrote: an NFS client reads a file only
// up to the size its attributes say, so a size missing cached bytes would
// hide them from it even though a READ would break the lease and get
// them. It reports whether the file had any lock state (attributes read
// before it may be stale); past the wait the attributes are what the
// server has.
func (h *Handler) settle(fh fs.Handle) bool {
	if h.locks == nil || h.locks.Idle(lock.KeyOf(fh)) {
		return false
	}
	_ = h.contend(fh, lock.ContendRead)
	return true
}
