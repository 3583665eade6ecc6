package smb

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
)

// open is one SMB open (a handle): a file, what the opener may do with it
// and what it lets others do.
type open struct {
	id     FileID
	srv    *Server
	tree   atomic.Pointer[Tree] // nil for an open restored without a connection
	caller fs.Caller            // the opener, kept for a close after the session is gone
	h      fs.Handle
	isDir  bool
	file   *fileState

	access      uint32 // granted access mask
	shareAccess uint32
	owner       lock.Owner
	cache       cacheRef // the oplock or lease asked for (lease.go)
	seqs        lockSequences
	createGuid  [16]byte // of a DH2Q request, zero without (durable.go)
	action      uint32   // the create action, for a replay of a DH2Q request
	appInstance [16]byte // the application instance id it was made under (appinstance.go)
	dur         *durable // set when durability was granted; guarded by serverOps.mu

	mu            sync.Mutex
	deleteOnClose bool
	position      uint64 // FilePositionInformation
	mode          uint32 // FileModeInformation
	enum          *dirEnum
	ctimeSet      bool   // the change time was set through this open (setinfo.go)
	stream        string // the named stream opened (streams.go), "" for the data

	chseq channelSeq // channelseq.go
}

// Create options (MS-SMB2 2.2.13).
const (
	optDirectory         = 0x00000001
	optWriteThrough      = 0x00000002
	optSequentialOnly    = 0x00000004
	optNoIntermediateBuf = 0x00000008
	optSyncIOAlert       = 0x00000010
	optSyncIONonalert    = 0x00000020
	optNonDirectory      = 0x00000040
	optDeleteOnClose     = 0x00001000
	optOpenByFileID      = 0x00002000
	optReserveOpfilter   = 0x00100000
	optOpenReparsePoint  = 0x00200000

	// The options FileModeInformation reports.
	optModeMask = optWriteThrough | optSequentialOnly | optNoIntermediateBuf | optSyncIOAlert | optSyncIONonalert | optDeleteOnClose
)

// newOpen makes an open of h on r's tree, not yet registered.
func (s *Server) newOpen(r *Request, h fs.Handle, isDir bool, access, share, options uint32) *open {
	n := s.ops.nextOpen.Add(1)
	o := &open{
		id:          FileID{Persistent: n, Volatile: n ^ s.ops.volatile ^ rand.Uint64()<<32},
		srv:         s,
		caller:      *r.Caller(),
		h:           h,
		isDir:       isDir,
		access:      access,
		shareAccess: share,
		mode:        options & optModeMask,
	}
	o.tree.Store(r.Tree)
	o.owner = lock.SMBOwner(r.Conn.lockClient(), n)
	o.chseq.seq = uint16(r.Header.Status) // the CREATE's ChannelSequence (channelseq.go)
	return o
}

// register makes an open known: to the state its file's opens share
// (refused with STATUS_DELETE_PENDING while a delete is pending), to the
// lock manager's share reservations (STATUS_SHARING_VIOLATION when they
// conflict) and to the tables by which requests find it. dir, name and
// path say where the file was found.
func (o *open) register(dir fs.Handle, name, path string) Status {
	ops := &o.srv.ops
	key := o.key()
	if o.stream == "" && o.access&accessDelete != 0 && o.srv.streamsDenyDelete(o.h) {
		return StatusSharingViolation // streamops.go
	}
	ops.mu.Lock()
	f := ops.files[key]
	if f != nil && f.deletePending || o.stream != "" && ops.fileWaitsStreams(o.h) {
		ops.mu.Unlock()
		return StatusDeletePending
	}
	_, st := o.srv.locks().AddShare(key, o.owner, lockAccess(o.access), lock.ShareAccess(o.shareAccess&7))
	switch st {
	case lock.Granted:
	case lock.LimitExceeded:
		ops.mu.Unlock()
		return StatusInsufficientResources
	default:
		ops.mu.Unlock()
		return StatusSharingViolation
	}
	if f == nil {
		f = &fileState{key: key, h: o.h}
		ops.files[key] = f
	}
	f.dir, f.name, f.path = dir, name, path
	f.opens++
	o.file = f
	ops.opens[o.id.Persistent] = o
	ops.streamNoDelete += o.deniesFileDelete()
	o.srv.fs.Hold(o.h) // the file outlives its name while open (close)
	ops.mu.Unlock()
	if st := o.tree.Load().ops.add(o); st != StatusSuccess {
		o.close(context.Background())
		return st
	}
	return StatusSuccess
}

// close ends an open: its locks and share reservation go, and if it was
// the file's last open and a delete is pending, the file is deleted. The
// open must already be out of its tree's table. It reports whether the
// file was deleted.
func (o *open) close(ctx context.Context) bool {
	s := o.srv
	if o.stream != "" {
		defer s.finishFileDelete(ctx, o.h) // streamops.go
	}
	s.notifyClosed(o)
	ns := s.locks().ReleaseOwner(o.owner)
	s.journal().Lazy()
	s.route(ns)
	o.mu.Lock()
	doc := o.deleteOnClose
	o.enum = nil
	o.mu.Unlock()
	if doc && o.isDir {
		// A directory with entries is kept: its delete on close lapses
		// (MS-FSA 2.1.5.5, phase 1).
		if empty, err := s.fs.DirEmpty(ctx, o.h); err == nil && !empty {
			doc = false
		}
	}

	// POSIX semantics for a name removed by another protocol: the file
	// stayed while open (fs.Hold), and goes with its last open.
	s.fs.Release(context.WithoutCancel(ctx), o.h)

	ops := &s.ops
	ops.mu.Lock()
	delete(ops.opens, o.id.Persistent)
	ops.streamNoDelete -= o.deniesFileDelete()
	dur := s.forgetDurable(o)
	f := o.file
	if doc && !f.deletePending {
		f.deletePending, f.deleter = true, o.caller
		defer s.notifyDeletePending(f.key) // once ops.mu is released
	}
	f.opens--
	if dur != nil {
		defer s.deleteDurable(ctx, o.id.Persistent, dur)
	}
	if f.opens > 0 {
		ops.mu.Unlock()
		return false
	}
	if !f.deletePending {
		delete(ops.files, f.key)
		ops.mu.Unlock()
		return false
	}
	// Keep the state while deleting, so that an open racing with the
	// delete is told a delete is pending rather than find a dying file.
	dir, name, deleter := f.dir, f.name, f.deleter
	if o.stream == "" && ops.streamOpensLeft(f.h) {
		f.waitsStreams = true // the last of them deletes it (streamops.go)
		ops.mu.Unlock()
		return false
	}
	ops.mu.Unlock()
	var err error
	if o.stream != "" {
		err = s.removeStream(ctx, &deleter, f.h, o.stream) // streamops.go
	} else {
		_, err = s.fs.RemoveHandle(ctx, &deleter, dir, name, f.h)
	}
	if err != nil {
		s.log.Debug("smb: delete on close failed", "file", f.key, "name", name, "err", err)
	}
	ops.mu.Lock()
	if ops.files[f.key] == f && f.opens == 0 {
		delete(ops.files, f.key)
	}
	ops.mu.Unlock()
	return err == nil
}

// setDeletePending sets or clears the file's pending delete
// (FileDispositionInformation) on behalf of o.
func (o *open) setDeletePending(pending bool) {
	ops := &o.srv.ops
	ops.mu.Lock()
	o.file.deletePending = pending
	if pending {
		o.file.deleter = o.caller
	}
	ops.mu.Unlock()
	if pending {
		o.srv.notifyDeletePending(o.file.key)
	}
	if !pending {
		o.mu.Lock()
		o.deleteOnClose = false
		o.mu.Unlock()
	}
}

// deletePending reports the file's pending delete.
func (o *open) deletePending() bool {
	ops := &o.srv.ops
	ops.mu.Lock()
	defer ops.mu.Unlock()
	return o.file.deletePending
}

// location is where the file is: its directory, name and path.
func (o *open) location() (fs.Handle, string, string) {
	ops := &o.srv.ops
	ops.mu.Lock()
	defer ops.mu.Unlock()
	return o.file.dir, o.file.name, o.file.path
}

// moved records a rename of the file through o.
func (o *open) moved(dir fs.Handle, name, path string) {
	ops := &o.srv.ops
	ops.mu.Lock()
	o.file.dir, o.file.name, o.file.path = dir, name, path
	ops.mu.Unlock()
	o.srv.resaveDurable(o.file)
}

// fileOpen reports whether the file h has an open on this server.
func (s *Server) fileOpen(h fs.Handle) bool {
	s.ops.mu.Lock()
	defer s.ops.mu.Unlock()
	f := s.ops.files[lock.KeyOf(h)]
	return f != nil && f.opens > 0
}

// openOf finds the open a request names by the FileId in wire (16 bytes).
func (r *Request) openOf(wire []byte) (*open, Status) {
	id, st := r.FileID(DecodeFileID(wire))
	if st != StatusSuccess {
		return nil, st
	}
	o := r.Tree.ops.get(id)
	if o == nil {
		return nil, StatusFileClosed
	}
	if st := o.chseq.admit(r); st != StatusSuccess {
		return nil, st
	}
	return o, StatusSuccess
}

// writeThrough reports whether writes through o are durable before they
// are answered: FILE_WRITE_THROUGH at CREATE, or set since with
// FileModeInformation.
func (o *open) writeThrough() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.mode&optWriteThrough != 0
}

// may reports whether the open was granted any of the access bits.
func (o *open) may(bits uint32) bool { return o.access&bits != 0 }

// deletedWait bounds how long an open waits for a delete on close that is
// being carried out.
const deletedWait = time.Second

// awaitDeleted waits until the delete on close of f, whose last open has
// closed (a connection that went, say), is done, and reports whether it
// was within deletedWait. An open that comes meanwhile, from the client
// whose connection went among others, is then served after the delete it
// expects rather than told a delete is pending.
func (s *Server) awaitDeleted(key lock.FileKey, f *fileState) bool {
	for deadline := time.Now().Add(deletedWait); ; time.Sleep(5 * time.Millisecond) {
		s.ops.mu.Lock()
		gone := s.ops.files[key] != f
		s.ops.mu.Unlock()
		if gone {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
