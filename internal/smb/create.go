package smb

import (
	"context"
	"encoding/binary"
	"errors"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
)

func init() {
	register(CmdCreate, serveCreate)
	register(CmdClose, serveClose)
	register(CmdFlush, serveFlush)
}

// Create dispositions and actions (MS-SMB2 2.2.13, 2.2.14).
const (
	dispSupersede   = 0
	dispOpen        = 1
	dispCreate      = 2
	dispOpenIf      = 3
	dispOverwrite   = 4
	dispOverwriteIf = 5

	actionSuperseded  = 0
	actionOpened      = 1
	actionCreated     = 2
	actionOverwritten = 3
)

// impersonationDelegate is the highest impersonation level.
const impersonationDelegate = 3

// createRequest is a decoded CREATE.
type createRequest struct {
	access, attrs, share, disp, options uint32
	comps                               []string
	stream                              string // the named stream, "" for the file itself
	ctx                                 createContexts
	oplock                              byte       // RequestedOplockLevel
	wait                                *breakWait // set with statusBreakWait
	waited                              bool       // the open waited for breaks
	link                                *linkStop  // with STATUS_STOPPED_ON_SYMLINK: the link met (symlink.go)
	holds                               *createKey // the CreateGuid held while the CREATE runs (durablereconnect.go)
}

// serveCreate opens or creates a file or directory (MS-SMB2 3.3.5.9,
// MS-FSA 2.1.5.1). The checks, in order: the request's fields, the name,
// the path to the file's directory (STATUS_OBJECT_PATH_NOT_FOUND), the
// disposition against existence, the type asked for, the access asked for
// against the caller's maximal access (STATUS_ACCESS_DENIED), a pending
// delete and the share modes of the file's other opens
// (STATUS_SHARING_VIOLATION); then the file is created or overwritten.
// Then the open gets the oplock or lease it asked for (lease.go), after
// the conflicting grants of others were broken.
func serveCreate(w *Response, r *Request) {
	b := r.Body
	if len(b) < 56 || binary.LittleEndian.Uint16(b) != 57 {
		w.Error(StatusInvalidParameter)
		return
	}
	q := createRequest{
		access:  binary.LittleEndian.Uint32(b[24:]),
		attrs:   binary.LittleEndian.Uint32(b[28:]),
		share:   binary.LittleEndian.Uint32(b[32:]),
		disp:    binary.LittleEndian.Uint32(b[36:]),
		options: binary.LittleEndian.Uint32(b[40:]),
		oplock:  b[3],
	}
	nameOff, nameLen := uint32(binary.LittleEndian.Uint16(b[44:])), uint32(binary.LittleEndian.Uint16(b[46:]))
	raw, nameOK := r.Buffer(nameOff, nameLen)
	nameOK = nameOK && (nameLen == 0 || nameOff >= HeaderSize+56)
	ctxSt := StatusSuccess
	if ctxOff, ctxLen := binary.LittleEndian.Uint32(b[48:]), binary.LittleEndian.Uint32(b[52:]); ctxLen > 0 {
		if cb, ok := r.Buffer(ctxOff, ctxLen); !ok || ctxOff%8 != 0 {
			ctxSt = StatusInvalidParameter
		} else {
			q.ctx, ctxSt = parseCreateContexts(cb)
		}
	}
	s := r.Conn.srv
	if r.Conn.dialect < Dialect300 {
		q.ctx.dh2q, q.ctx.dh2c = nil, nil // SMB 3 contexts, unknown before
	}
	// A durable reconnect ignores the request's other fields (MS-SMB2
	// 3.3.5.9.7, 3.3.5.9.12), so it comes before their checks.
	if nameOK && ctxSt == StatusSuccess && (q.ctx.dhnc != nil || q.ctx.dh2c != nil) {
		s.serveReconnect(w, r, &q, raw)
		return
	}
	if st := q.check(binary.LittleEndian.Uint32(b[4:])); st != StatusSuccess {
		w.Error(st)
		return
	}
	switch {
	case !nameOK:
		w.Error(StatusInvalidParameter)
		return
	case ctxSt != StatusSuccess:
		w.Error(ctxSt)
		return
	case q.ctx.dhnq != nil && q.ctx.dh2q != nil:
		w.Error(StatusInvalidParameter) // one durable request, not two
		return
	case q.ctx.timewarp:
		w.Error(StatusObjectNameNotFound) // no previous versions
		return
	case q.ctx.dh2q != nil && s.replayCreate(w, r, &q):
		return
	}
	raw, stream, st := splitStream(raw)
	if st == StatusSuccess {
		q.comps, st = parseName(raw)
	}
	if st == StatusSuccess && namesDataStream(raw) {
		// A data stream is no directory, whatever else holds (streams.go).
		if q.options&optDirectory != 0 {
			st = StatusNotADirectory
		}
		q.options |= optNonDirectory
	}
	if st != StatusSuccess {
		s.releaseCreateGuid(&q)
		w.Error(st)
		return
	}
	q.stream = stream
	o, action, a, st := s.createAny(r.Context(), r, &q)
	if st == statusBreakWait {
		s.createAfterBreaks(r, &q)
		return
	}
	if st != StatusSuccess {
		s.releaseCreateGuid(&q)
		createError(w, r, &q, st)
		return
	}
	r.FileID(o.id)
	s.createReply(w, r, &q, o, action, &a)
}

// createReply builds the response to a CREATE that opened o.
func (s *Server) createReply(w *Response, r *Request, q *createRequest, o *open, action uint32, a *fs.Attr) {
	if q.ctx.alloc != nil && action != actionOpened {
		o.setAlloc(binary.LittleEndian.Uint64(q.ctx.alloc))
	}
	o.withAlloc(a)
	level, lease := s.grantCaching(o)
	s.noteCreateIDs(q, o, action)
	dhName, dh := s.grantDurable(r, q, o, level, lease)

	cw := createResponse(w, level, action, a, o.id)
	if q.ctx.maxAccess {
		var d [8]byte
		dir, _, _ := o.location()
		m, _ := s.maximalAccess(r.Context(), r, o.h, a, dir, true)
		binary.LittleEndian.PutUint32(d[4:], m)
		cw.add(ctxMaxAccess, d[:])
	}
	if q.ctx.queryID {
		var d [32]byte
		binary.LittleEndian.PutUint64(d[:], a.FileID)
		binary.LittleEndian.PutUint64(d[8:], a.FSID)
		cw.add(ctxQueryOnDiskID, d[:])
	}
	if dhName != "" {
		cw.add(dhName, dh)
	}
	if lease != nil {
		cw.add(ctxLeaseRequest, lease)
	}
	cw.endCreate()
}

// createResponse starts the body of a CREATE response; its contexts
// follow through the writer it returns, and endCreate ends it.
func createResponse(w *Response, level byte, action uint32, a *fs.Attr, id FileID) *contextWriter {
	out := w.Grow(88)
	binary.LittleEndian.PutUint16(out, 89)
	out[2] = level
	binary.LittleEndian.PutUint32(out[4:], action)
	putNetworkOpen(out[8:], a)
	binary.LittleEndian.PutUint64(out[64:], id.Persistent)
	binary.LittleEndian.PutUint64(out[72:], id.Volatile)
	return &contextWriter{w: w}
}

// endCreate records where the contexts of a CREATE response are.
func (cw *contextWriter) endCreate() {
	w := cw.w
	off, n := cw.bounds()
	out := w.Bytes()
	binary.LittleEndian.PutUint32(out[80:], off)
	binary.LittleEndian.PutUint32(out[84:], n)
	if w.Len() == 88 {
		w.Grow(1) // the empty Buffer still takes a byte
	}
}

// check validates the fields of a CREATE that need no file system.
func (q *createRequest) check(impersonation uint32) Status {
	switch {
	case impersonation > impersonationDelegate:
		return StatusBadImpersonationLevel
	case q.disp > dispOverwriteIf:
		return StatusInvalidParameter
	case q.options&(optDirectory|optNonDirectory) == optDirectory|optNonDirectory:
		return StatusInvalidParameter
	case q.options&optDirectory != 0 && q.disp != dispCreate && q.disp != dispOpen && q.disp != dispOpenIf:
		return StatusInvalidParameter
	case q.options&optDeleteOnClose != 0 && mapGeneric(q.access)&accessDelete == 0:
		return StatusInvalidParameter
	case q.options&0xff000000 != 0: // no option is defined there
		return StatusInvalidParameter
	case q.options&(optReserveOpfilter|optOpenByFileID|optCreateTreeConnection) != 0:
		return StatusNotSupported
	case q.access&accessReserved != 0 || q.access == 0:
		return StatusAccessDenied
	case q.attrs&^attrValid != 0:
		return StatusInvalidParameter
	case q.share&^7 != 0:
		return StatusInvalidParameter
	}
	return StatusSuccess
}

// createAny does the work of CREATE for a file or for a named stream.
func (s *Server) createAny(ctx context.Context, r *Request, q *createRequest) (*open, uint32, fs.Attr, Status) {
	if q.stream != "" {
		return s.createStream(ctx, r, q, q.stream)
	}
	return s.create(ctx, r, q)
}

// maxCreateTries bounds how often a create that lost a race with another
// one (the name appeared or vanished between the look and the act) starts
// again.
const maxCreateTries = 4

// create does the work of CREATE and returns the registered open, the
// create action and the file's attributes.
func (s *Server) create(ctx context.Context, r *Request, q *createRequest) (*open, uint32, fs.Attr, Status) {
	for range maxCreateTries {
		res, st := s.resolve(ctx, r, q.comps, q.options&optOpenReparsePoint != 0)
		if st != StatusSuccess {
			q.link = res.link
			return nil, 0, fs.Attr{}, st
		}
		var o *open
		var action uint32
		var a fs.Attr
		if res.exists {
			o, action, a, st = s.openExisting(ctx, r, q, &res)
		} else {
			o, action, a, st = s.createNew(ctx, r, q, &res)
		}
		if st == statusRetry {
			continue
		}
		return o, action, a, st
	}
	return nil, 0, fs.Attr{}, StatusSharingViolation
}

// statusRetry is create's internal signal to start again.
const statusRetry = Status(0xffffffff)

// statusBreakWait is create's internal signal that the open waits for
// breaks of others' oplocks or leases (q.wait says which).
const statusBreakWait = Status(0xfffffffe)

// openExisting opens a file that exists, overwriting it if asked.
func (s *Server) openExisting(ctx context.Context, r *Request, q *createRequest, res *resolved) (*open, uint32, fs.Attr, Status) {
	a := res.attr
	isDir := a.Type == fs.TypeDir
	switch {
	case q.disp == dispCreate:
		return nil, 0, a, StatusObjectNameCollision
	case isDir && q.options&optNonDirectory != 0:
		return nil, 0, a, StatusFileIsADirectory
	case !isDir && q.options&optDirectory != 0:
		return nil, 0, a, StatusNotADirectory
	case isDir && q.disp != dispOpen && q.disp != dispOpenIf:
		return nil, 0, a, StatusInvalidParameter
	case len(q.comps) == 0 && mapGeneric(q.access)&accessDelete != 0:
		return nil, 0, a, StatusAccessDenied // the share's root
	}
	overwrite := q.disp == dispOverwrite || q.disp == dispOverwriteIf || q.disp == dispSupersede
	// A file with a stored DACL is judged by it for every open; one
	// without needs no look at its permissions for an open that only
	// looks at it (a stat is CREATE, QUERY_INFO, CLOSE).
	want := mapGeneric(q.access)
	sd := s.loadSD(ctx, r, res.h, &a)
	judged := sd != nil
	var maximal uint32
	switch {
	case judged:
		maximal = s.daclMaximal(ctx, r, sd, &a, res.dir, want&(accessDelete|maximumAllowed) != 0)
	case want&^alwaysGranted != 0 || overwrite:
		maximal = s.modeMaximal(ctx, r, res.h, &a, res.dir, want&(accessDelete|maximumAllowed) != 0)
	default:
		maximal = alwaysGranted & r.Tree.MaximalAccess()
	}
	access, st := grant(q.access, maximal)
	if st != StatusSuccess {
		return nil, 0, a, st
	}
	if overwrite {
		if maximal&fileWriteData == 0 {
			return nil, 0, a, StatusAccessDenied
		}
		// Overwriting must not lose HIDDEN or SYSTEM the file has
		// (MS-FSA 2.1.5.1.2.1).
		if h := a.DOSAttrs & (attrHidden | attrSystem); h&^q.attrs != 0 {
			return nil, 0, a, StatusAccessDenied
		}
	}
	if overwrite {
		// Overwriting writes: the share modes of other opens must allow
		// it as they would a write through this one.
		access |= fileWriteData
	}
	if st := s.leaseElsewhere(r, q, res, lock.KeyOf(res.h)); st != StatusSuccess {
		return nil, 0, a, st
	}
	s.closeAppInstance(ctx, r, q, res.h)
	o := s.newOpen(r, res.h, isDir, access, q.share, q.options)
	o.caller.Judged = judged
	o.cacheRequest(r.Conn, q)
	if st := s.breakForOpen(o, q, overwrite); st != StatusSuccess {
		return nil, 0, a, st
	}
	if q.options&optDeleteOnClose != 0 {
		// A directory's entries do not fail the open: whether it goes is
		// decided when it closes (MS-FSA 2.1.5.1.2.1, 2.1.5.5).
		if st := o.checkDelete(ctx, &a); st != StatusSuccess && st != StatusDirectoryNotEmpty {
			return nil, 0, a, st
		}
		o.deleteOnClose = true
	}
	if st := o.register(res.dir, res.name, res.path); st != StatusSuccess {
		return nil, 0, a, st
	}
	action := uint32(actionOpened)
	if overwrite {
		sa, _ := attrChange(&a, q.attrs|attrArchive)
		sa.Mask |= fs.SetSize
		sa.Size = 0
		if err := s.setAttrKeepSD(ctx, r, &o.caller, res.h, &a, sa); err != nil {
			r.Tree.ops.remove(o.id)
			o.close(ctx)
			return nil, 0, a, StatusOf(err)
		}
		action = actionOverwritten
		if q.disp == dispSupersede {
			action = actionSuperseded
		}
		if q.ctx.eaBuffer != nil {
			if st := s.setEAs(r, &o.caller, res.h, q.ctx.eaBuffer); st != StatusSuccess {
				r.Tree.ops.remove(o.id)
				o.close(ctx)
				return nil, 0, a, st
			}
		}
		var err error
		if a, err = s.fs.GetAttr(ctx, res.h); err != nil {
			r.Tree.ops.remove(o.id)
			o.close(ctx)
			return nil, 0, a, StatusOf(err)
		}
	}
	return o, action, a, StatusSuccess
}

// createNew creates a file or directory that does not exist.
func (s *Server) createNew(ctx context.Context, r *Request, q *createRequest, res *resolved) (*open, uint32, fs.Attr, Status) {
	if q.disp == dispOpen || q.disp == dispOverwrite {
		return nil, 0, fs.Attr{}, StatusObjectNameNotFound
	}
	if st := checkComponent(res.name); st != StatusSuccess {
		return nil, 0, fs.Attr{}, st
	}
	if st := s.leaseElsewhere(r, q, res, lock.FileKey{}); st != StatusSuccess {
		return nil, 0, fs.Attr{}, st
	}
	dir := q.options&optDirectory != 0
	if mapGeneric(q.access)&accessSystemSecurity != 0 {
		return nil, 0, fs.Attr{}, StatusPrivilegeNotHeld
	}
	// MS-FSA 2.1.5.1.1: no temporary directory, and a read-only file
	// cannot be made to be deleted on close.
	switch {
	case dir && q.attrs&attrTemporary != 0:
		return nil, 0, fs.Attr{}, StatusInvalidParameter
	case !dir && q.attrs&attrReadonly != 0 && q.options&optDeleteOnClose != 0:
		return nil, 0, fs.Attr{}, StatusCannotDelete
	}
	sa := fs.SetAttr{Mask: fs.SetDOSAttrs, DOSAttrs: q.attrs & attrStored}
	if dir {
		sa.DOSAttrs |= q.attrs & attrReadonly // fileinfo.go
	} else {
		sa.DOSAttrs |= attrArchive
		if q.attrs&attrReadonly != 0 {
			sa.Mask |= fs.SetMode
			sa.Mode = 0o444
		}
	}
	psd, c, st := s.mayAdd(ctx, r, res.dir, dir)
	if st != StatusSuccess {
		return nil, 0, fs.Attr{}, st
	}
	var h fs.Handle
	var a fs.Attr
	var err error
	if dir {
		h, a, _, err = s.fs.Mkdir(ctx, c, res.dir, res.name, sa)
	} else {
		h, a, _, err = s.fs.Create(ctx, c, res.dir, res.name, fs.CreateHow{Mode: fs.Guarded, Attr: sa})
	}
	switch {
	case errors.Is(err, fs.ErrExist):
		if q.disp == dispCreate {
			return nil, 0, a, StatusObjectNameCollision
		}
		return nil, 0, a, statusRetry // made meanwhile: open it
	case errors.Is(err, fs.ErrStale), errors.Is(err, fs.ErrNotExist):
		return nil, 0, a, statusRetry // the directory went meanwhile
	case errors.Is(err, fs.ErrNameTooLong), errors.Is(err, fs.ErrInval):
		return nil, 0, a, StatusObjectNameInvalid
	case err != nil:
		return nil, 0, a, StatusOf(err)
	}
	a = s.inheritSD(ctx, r, psd, h, a)
	if q.ctx.secDesc != nil {
		a = s.applyNewSD(ctx, r, h, a, q.ctx.secDesc)
	}
	if q.ctx.eaBuffer != nil {
		if st := s.setEAs(r, r.Caller(), h, q.ctx.eaBuffer); st != StatusSuccess {
			s.fs.RemoveHandle(ctx, r.Caller(), res.dir, res.name, h)
			return nil, 0, a, st
		}
	}
	// The creator gets what it asked for: a file made read-only can still
	// be written through the handle that made it, as on Windows.
	access := mapGeneric(q.access)
	if access&maximumAllowed != 0 {
		access = access&^maximumAllowed | fileAllAccess
	}
	access &= r.Tree.MaximalAccess()
	o := s.newOpen(r, h, dir, access, q.share, q.options)
	// The creator's handle does what it asked (deleting on close
	// included) where a DACL let it create, or where the descriptor the
	// file got leaves the mode short of it.
	o.caller.Judged = psd != nil || q.ctx.secDesc != nil && s.loadSD(ctx, r, h, &a) != nil
	o.cacheRequest(r.Conn, q)
	o.deleteOnClose = q.options&optDeleteOnClose != 0
	if st := o.register(res.dir, res.name, res.path); st != StatusSuccess {
		return nil, 0, a, st
	}
	return o, actionCreated, a, StatusSuccess
}

// applyNewSD gives a new file the descriptor its creator sent, the parts
// it leaves out inherited (sdinherit.go) or made from the new file's
// mode; what the file system refuses is left as it was made.
func (s *Server) applyNewSD(ctx context.Context, r *Request, h fs.Handle, a fs.Attr, sd []byte) fs.Attr {
	p, ok := splitSD(sd)
	if !ok {
		return a
	}
	var info uint32
	if p.owner != nil {
		info |= secOwner
	}
	if p.group != nil {
		info |= secGroup
	}
	if p.control&seDACLPresent != 0 {
		info |= secDACL
	}
	if info == 0 {
		return a
	}
	if na, st := s.applySD(ctx, r, r.Caller(), h, a, sd, info); st == StatusSuccess {
		return na
	}
	if na, err := s.fs.GetAttr(ctx, h); err == nil {
		return na
	}
	return a
}

// checkDelete says whether the file o opens may be marked for deletion:
// not a read-only file (STATUS_CANNOT_DELETE), not a directory with
// entries (STATUS_DIRECTORY_NOT_EMPTY), not the share's root.
func (o *open) checkDelete(ctx context.Context, a *fs.Attr) Status {
	switch {
	case o.h == o.tree.Load().Root():
		return StatusAccessDenied
	case a.Type != fs.TypeDir && a.Mode&0o200 == 0:
		return StatusCannotDelete
	case a.Type == fs.TypeDir:
		empty, err := o.srv.fs.DirEmpty(ctx, o.h)
		if err != nil {
			return StatusOf(err)
		}
		if !empty {
			return StatusDirectoryNotEmpty
		}
	}
	return StatusSuccess
}
