package smb

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"sync"
	"time"

	"github.com/tandemfs/tandem/internal/lock"
)

// Oplocks and leases (MS-SMB2 3.3.5.9.8, 3.3.4.6, 3.3.4.7, 3.3.5.22) are
// caching grants of the unified lock manager: an oplock is held by its
// open, a lease by the client's lease key and shared by the opens that
// name it. A named stream's are its own (streams.go). CREATE first makes
// the grants of other holders that conflict with the new open break (the
// lock manager decides which), waits until those that must be
// acknowledged are (or their break times out and is revoked), then asks
// for its own grant. Breaks go to the holder as unsolicited OPLOCK_BREAK
// notifications; OPLOCK_BREAK requests are the acknowledgments.

func init() { register(CmdOplockBreak, serveOplockBreak) }

// Oplock levels.
const (
	oplockNone      = 0x00
	oplockLevelII   = 0x01
	oplockExclusive = 0x08
	oplockBatch     = 0x09
	oplockLease     = 0xff
)

// Lease flags and break notification flags.
const (
	leaseFlagBreakInProgress = 0x02
	leaseFlagParentKeySet    = 0x04
	breakFlagAckRequired     = 0x01
)

// statAccess is the access of an open that breaks no oplock: it only
// looks at or sets attributes. Reading the security descriptor too breaks
// no lease.
const statAccess = fileReadAttributes | fileWriteAttributes | synchronize

// StatusInvalidOplockProtocol refuses an oplock acknowledgment that
// matches no break.
const StatusInvalidOplockProtocol Status = 0xc00000e3

// cacheRef is what an open asked of caching: an oplock, held by the open
// itself, or a lease.
type cacheRef struct {
	holder    lock.Owner
	want      lock.Caching
	lease     bool
	v2        bool
	key       [16]byte
	parent    [16]byte
	parentSet bool
	epoch     uint16
}

// cacheRequest decodes what the CREATE asks of caching into o.cache.
// Leases need SMB 2.1 (a 2.0.2 client's lease context is ignored) and are
// not granted on directories.
func (o *open) cacheRequest(c *Conn, q *createRequest) {
	o.cache = cacheRef{holder: o.owner}
	switch q.oplock {
	case oplockLease:
		l := q.ctx.lease
		if l == nil || c.dialect < Dialect210 {
			return
		}
		ref := cacheRef{lease: true, want: lock.Caching(binary.LittleEndian.Uint32(l[16:])) & 7}
		copy(ref.key[:], l)
		if len(l) == 52 {
			ref.v2 = true
			ref.parentSet = binary.LittleEndian.Uint32(l[20:])&leaseFlagParentKeySet != 0
			copy(ref.parent[:], l[32:48])
			ref.epoch = binary.LittleEndian.Uint16(l[48:])
		}
		ref.holder = lock.LeaseOwner(c.lockClient(), ref.key)
		o.cache = ref
	case oplockLevelII:
		o.cache.want = lock.CacheRead
	case oplockExclusive:
		o.cache.want = lock.CacheRead | lock.CacheWrite
	case oplockBatch:
		o.cache.want = lock.CacheRead | lock.CacheWrite | lock.CacheHandle
	}
}

// leaseElsewhere checks the lease a CREATE names against the file res
// (k its lock table key; zero for a file still to be made). A lease key
// names a lease on one file: one held on another file is refused
// (MS-SMB2 3.3.5.9.8, STATUS_INVALID_PARAMETER), unless that file was
// known by the very name asked for and lost it to another protocol (NFS
// removed or renamed it while open). MS-SMB2 matches leases by name, so
// the client has done nothing wrong: the Linux client asks again with the
// key of the inode it cached for the name. The open then gets no lease,
// and the client, seeing another file id, looks the name up again.
func (s *Server) leaseElsewhere(r *Request, q *createRequest, res *resolved, k lock.FileKey) Status {
	l := q.ctx.lease
	if q.oplock != oplockLease || l == nil || r.Conn.dialect < Dialect210 {
		return StatusSuccess
	}
	holder := lock.LeaseOwner(r.Conn.lockClient(), [16]byte(l[:16]))
	if !s.locks().HoldsCaching(holder) {
		return StatusSuccess
	}
	s.ops.mu.Lock()
	var f *fileState
	var stream string
	for _, x := range s.ops.opens {
		if x.cache.lease && x.cache.holder == holder {
			f, stream = x.file, x.stream
			break
		}
	}
	sameName := f != nil && f.key != k && f.h.Share == r.Tree.Root().Share && stream == q.stream &&
		strings.EqualFold(f.path, res.path)
	s.ops.mu.Unlock()
	switch {
	case sameName:
		q.oplock = oplockNone
	case k == lock.FileKey{} || f != nil && f.key != k:
		return StatusInvalidParameter
	}
	return StatusSuccess // the lock manager decides the rest (PrepareOpen)
}

// breakReadCaching breaks, without waiting, the caching of the file's
// opens that cache reads but not writes (level II oplocks, the opener's
// own included, and the R and RH leases of other keys): o is about to
// change the file's data.
func (s *Server) breakReadCaching(o *open) {
	var except lock.Owner
	if o.cache.lease {
		except = o.cache.holder
	}
	d := s.locks().Contend(o.key(), except, lock.ContendSMBWrite, s.opt.Now().Add(s.breakTimeout()))
	s.route(d.Notices)
}

// breakAttrCaching breaks, without waiting, the caching of every open of
// the file, the changer's own lease included, when READONLY changes: a
// client that caches reads also trusts its cached attributes and would go
// on deciding access by the old READONLY (the Linux client sends the
// change that clears READONLY only if it believes it set).
func (s *Server) breakAttrCaching(o *open) {
	d := s.locks().Contend(lock.KeyOf(o.h), lock.Owner{}, lock.ContendWrite, s.opt.Now().Add(s.breakTimeout()))
	s.route(d.Notices)
}

func (o *open) lockCacheRequest() lock.CacheRequest {
	return lock.CacheRequest{
		File:        o.key(),
		Open:        o.owner,
		Holder:      o.cache.holder,
		Lease:       o.cache.lease,
		Want:        o.cache.want,
		Epochs:      o.cache.v2,
		Epoch:       o.cache.epoch,
		Access:      lockAccess(o.access),
		Share:       lock.ShareAccess(o.shareAccess & 7),
		StatLeases:  o.access&^(statAccess|readControl) == 0,
		StatOplocks: o.access&^statAccess == 0,
	}
}

// breakTimeout is how long a break waits for its acknowledgment.
func (s *Server) breakTimeout() time.Duration {
	if s.opt.BreakTimeout > 0 {
		return s.opt.BreakTimeout
	}
	return lock.DefaultBreakTimeout
}

// breakForOpen breaks the caching grants of others that the open o is
// about to conflict with. While a break that must be acknowledged is in
// progress the open waits: it returns statusBreakWait with q.wait set.
func (s *Server) breakForOpen(o *open, q *createRequest, overwrite bool) Status {
	req := o.lockCacheRequest()
	req.Overwrite, req.Waited = overwrite, q.waited
	req.Deadline = s.opt.Now().Add(s.breakTimeout())
	s.ops.mu.Lock()
	f := s.ops.files[req.File]
	pending, deleting := f != nil && f.deletePending, f != nil && f.deletePending && f.opens == 0 && !f.waitsStreams
	s.ops.mu.Unlock()
	if deleting && s.awaitDeleted(req.File, f) {
		return statusRetry // the name is free now, or another file's
	}
	if pending {
		return StatusDeletePending // breaking would not let the open in
	}
	wakes := &s.ops.caching
	wk := wakes.get(req.File)
	purges := s.ops.purges.Load()
	d := s.locks().PrepareOpen(req)
	s.route(d.Notices)
	switch {
	case d.Status == lock.Invalid:
		wakes.put(req.File, wk)
		return StatusInvalidParameter
	case s.ops.purges.Load() != purges:
		// Disconnected durable opens were closed rather than broken:
		// the file may even be gone with them, so look again.
		wakes.put(req.File, wk)
		return statusRetry
	case !d.Wait:
		wakes.put(req.File, wk)
		return StatusSuccess
	}
	q.wait = &breakWait{key: req.File, wake: wk, deadline: d.Deadline}
	return statusBreakWait
}

// breakWait is what a CREATE waits for: a break on the file to end, or
// the break deadline.
type breakWait struct {
	key      lock.FileKey
	wake     *breakWake
	deadline time.Time
}

// wait waits for bw; false means ctx ended first.
func (s *Server) waitBreak(ctx context.Context, bw *breakWait) bool {
	defer s.ops.caching.put(bw.key, bw.wake)
	d := time.Second
	if !bw.deadline.IsZero() {
		d = max(bw.deadline.Sub(s.opt.Now()), time.Millisecond)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-bw.wake.ch:
	case <-t.C:
		s.route(s.locks().Expire())
	case <-ctx.Done():
		return false
	}
	return true
}

// createAfterBreaks finishes a CREATE that waits for breaks: it goes
// asynchronous (MS-SMB2 3.3.4.2), waits, and tries again; the client may
// cancel it meanwhile.
func (s *Server) createAfterBreaks(r *Request, q *createRequest) {
	q.ctx.detach()
	bw := q.wait
	p := r.GoAsync()
	go func() {
		for {
			if !s.waitBreak(p.Context(), bw) {
				s.releaseCreateGuid(q)
				p.Complete(func(w *Response) { w.Error(StatusCancelled) })
				return
			}
			q.wait, q.waited = nil, true
			o, action, a, st := s.createAny(p.Context(), r, q)
			if st == statusBreakWait {
				bw = q.wait
				continue
			}
			// The CreateGuid goes to the open, or is free again, before
			// the response, which is dropped if the session ended.
			if st == StatusSuccess {
				s.noteCreateIDs(q, o, action)
			} else {
				s.releaseCreateGuid(q)
			}
			p.Complete(func(w *Response) {
				if st != StatusSuccess {
					createError(w, r, q, st)
					return
				}
				s.createReply(w, r, q, o, action, &a)
			})
			return
		}
	}()
}

// detach copies what the contexts hold of the request's buffer, which
// an asynchronous CREATE outlives.
func (cc *createContexts) detach() {
	cc.secDesc = bytes.Clone(cc.secDesc)
	cc.dhnq, cc.dh2q = bytes.Clone(cc.dhnq), bytes.Clone(cc.dh2q)
	cc.lease = bytes.Clone(cc.lease)
}

// grantCaching asks for the open's oplock or lease once it is registered
// and returns the oplock level of the response and, for a lease, the data
// of its response context.
func (s *Server) grantCaching(o *open) (byte, []byte) {
	ref := &o.cache
	if !ref.lease && ref.want == 0 || o.isDir {
		return oplockNone, nil
	}
	g, st := s.locks().GrantCaching(o.lockCacheRequest())
	if st != lock.Granted {
		return oplockNone, nil
	}
	if !ref.lease {
		return oplockLevel(g.State), nil
	}
	return oplockLease, leaseResponse(ref, g)
}

// leaseResponse is the data of the lease response context of a CREATE
// whose open has the lease ref in state g. The lease answers in the
// version it was made with (MS-SMB2 3.3.5.9.11).
func leaseResponse(ref *cacheRef, g lock.CacheGrant) []byte {
	n := 32
	if g.Epochs {
		n = 52
	}
	b := make([]byte, n)
	copy(b, ref.key[:])
	binary.LittleEndian.PutUint32(b[16:], uint32(g.State))
	var flags uint32
	if g.Breaking {
		flags |= leaseFlagBreakInProgress
	}
	if g.Epochs {
		if ref.parentSet {
			flags |= leaseFlagParentKeySet
			copy(b[32:], ref.parent[:])
		}
		binary.LittleEndian.PutUint16(b[48:], g.Epoch)
	}
	binary.LittleEndian.PutUint32(b[20:], flags)
	return b
}

// oplockLevel is the oplock level of a caching state.
func oplockLevel(c lock.Caching) byte {
	switch {
	case c&lock.CacheWrite != 0 && c&lock.CacheHandle != 0:
		return oplockBatch
	case c&lock.CacheWrite != 0:
		return oplockExclusive
	case c&lock.CacheRead != 0:
		return oplockLevelII
	}
	return oplockNone
}

// breakWakes wakes the CREATEs waiting for breaks on a file when one ends.
type breakWakes struct {
	mu sync.Mutex
	m  map[lock.FileKey]*breakWake
}

type breakWake struct {
	ch chan struct{} // closed when a break on the file ends
	n  int
}

// get returns the file's wake, to wait on after asking the lock manager:
// a break that ends in between closes it already.
func (b *breakWakes) get(k lock.FileKey) *breakWake {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[lock.FileKey]*breakWake{}
	}
	w := b.m[k]
	if w == nil {
		w = &breakWake{ch: make(chan struct{})}
		b.m[k] = w
	}
	w.n++
	return w
}

func (b *breakWakes) put(k lock.FileKey, w *breakWake) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w.n--
	if w.n == 0 && b.m[k] == w {
		delete(b.m, k)
	}
}

func (b *breakWakes) wake(k lock.FileKey) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if w := b.m[k]; w != nil {
		close(w.ch)
		delete(b.m, k)
	}
}

// deliverCaching acts on a caching notice: sends a break, or wakes the
// requests that wait for breaks on a file.
func (s *Server) deliverCaching(n lock.Notice) {
	switch n.Status {
	case lock.BreakDone:
		s.ops.caching.wake(n.Lock.File)
	case lock.Breaking:
		s.sendBreak(&n.Break)
	}
}

// sendBreak sends a break to the holder: an oplock's open, or a
// connection of an open of the lease. A holder whose opens are all
// durable and disconnected cannot acknowledge: those opens are closed
// instead (MS-SMB2 3.3.4.6, 3.3.4.7), which ends the break. Any other
// holder with no live connection gets nothing; the break then times out.
func (s *Server) sendBreak(b *lock.Break) {
	ops := &s.ops
	ops.mu.Lock()
	var o *open
	var gone []*open
	if b.Lease {
		for _, x := range ops.opens {
			if !x.cache.lease || x.cache.holder != b.Holder {
				continue
			}
			if x.disconnected() {
				gone = append(gone, x)
			} else if t := x.tree.Load(); t != nil && t.session.liveConn() != nil {
				o = x
				break
			}
		}
	} else if x := ops.opens[b.Holder.Open]; x != nil && x.owner == b.Holder {
		if x.disconnected() {
			gone = append(gone, x)
		} else {
			o = x
		}
	}
	if o != nil {
		gone = nil
	}
	gone = s.claimDisconnected(gone)
	ops.mu.Unlock()
	if len(gone) > 0 {
		s.purge(gone)
		return
	}
	if o == nil {
		return
	}
	w := newResponse()
	if b.Lease {
		body := w.Grow(44)
		binary.LittleEndian.PutUint16(body, 44)
		binary.LittleEndian.PutUint16(body[2:], b.Epoch) // 0 for a v1 lease
		if b.AckRequired {
			binary.LittleEndian.PutUint32(body[4:], breakFlagAckRequired)
		}
		copy(body[8:24], o.cache.key[:])
		binary.LittleEndian.PutUint32(body[24:], uint32(b.From))
		binary.LittleEndian.PutUint32(body[28:], uint32(b.To))
	} else {
		body := w.Grow(24)
		binary.LittleEndian.PutUint16(body, 24)
		body[2] = oplockLevel(b.To)
		binary.LittleEndian.PutUint64(body[8:], o.id.Persistent)
		binary.LittleEndian.PutUint64(body[16:], o.id.Volatile)
	}
	s.observeBreak(b)
	s.sendUnsolicited(o, w)
}

// sendUnsolicited sends a notification on the connection of o's session:
// MessageId all ones, no session in the header, encrypted when the
// session or tree requires it (MS-SMB2 3.3.4.6, 3.3.4.7).
func (s *Server) sendUnsolicited(o *open, w *Response) {
	t := o.tree.Load()
	if t == nil {
		return
	}
	sess := t.session
	c := sess.liveConn() // any channel of the session will do
	if c == nil {
		return
	}
	h := Header{Command: CmdOplockBreak, Flags: FlagResponse, MessageID: ^uint64(0)}
	h.encode(w.buf)
	var enc *Session
	if sess.encrypter != nil && (sess.encryptData || t.encrypt) {
		enc = sess
	}
	if err := c.send([]*Response{w}, enc); err != nil {
		c.nc.Close()
	}
}

// serveOplockBreak serves the acknowledgment of an oplock break (24
// bytes) or of a lease break (36 bytes).
func serveOplockBreak(w *Response, r *Request) {
	b := r.Body
	if len(b) < 2 {
		w.Error(StatusInvalidParameter)
		return
	}
	switch binary.LittleEndian.Uint16(b) {
	case 24:
		if len(b) >= 24 {
			ackOplock(w, r, b)
			return
		}
	case 36:
		if len(b) >= 36 {
			ackLease(w, r, b)
			return
		}
	}
	w.Error(StatusInvalidParameter)
}

// ackOplock serves an oplock break acknowledgment (MS-SMB2 3.3.5.22.1).
func ackOplock(w *Response, r *Request, b []byte) {
	o, st := r.openOf(b[8:24])
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	var c lock.Caching
	switch b[2] {
	case oplockNone:
	case oplockLevelII:
		c = lock.CacheRead
	default:
		w.Error(StatusInvalidParameter)
		return
	}
	s := r.Conn.srv
	if o.cache.lease {
		w.Error(StatusInvalidOplockProtocol)
		return
	}
	g, lst, ns := s.locks().AckBreak(o.owner, c)
	s.observeAck(o.owner, lst)
	s.route(ns)
	s.ackPersisted(r)
	if lst != lock.Granted {
		w.Error(StatusInvalidOplockProtocol)
		return
	}
	out := w.Grow(24)
	binary.LittleEndian.PutUint16(out, 24)
	out[2] = oplockLevel(g.State)
	binary.LittleEndian.PutUint64(out[8:], o.id.Persistent)
	binary.LittleEndian.PutUint64(out[16:], o.id.Volatile)
}

// ackLease serves a lease break acknowledgment (MS-SMB2 3.3.5.22.2).
func ackLease(w *Response, r *Request, b []byte) {
	s := r.Conn.srv
	if r.Conn.dialect < Dialect210 {
		w.Error(StatusInvalidParameter)
		return
	}
	var key [16]byte
	copy(key[:], b[8:24])
	state := lock.Caching(binary.LittleEndian.Uint32(b[24:]))
	if state&^7 != 0 {
		w.Error(StatusRequestNotAccepted)
		return
	}
	holder := lock.LeaseOwner(r.Conn.lockClient(), key)
	g, st, ns := s.locks().AckBreak(holder, state)
	s.observeAck(holder, st)
	s.route(ns)
	s.ackPersisted(r)
	switch st {
	case lock.Granted:
	case lock.NotLocked:
		w.Error(StatusObjectNameNotFound)
		return
	case lock.Denied:
		w.Error(StatusUnsuccessful)
		return
	default:
		w.Error(StatusRequestNotAccepted)
		return
	}
	out := w.Grow(36)
	binary.LittleEndian.PutUint16(out, 36)
	copy(out[8:24], key[:])
	binary.LittleEndian.PutUint32(out[24:], uint32(g.State))
}

// ackPersisted waits until the caching an acknowledgment left is written
// where a kill of the server cannot lose it: a durable open reconnected
// after a restart must not come back caching what its client gave up.
func (s *Server) ackPersisted(r *Request) {
	if err := s.journal().Released(r.Context()); err != nil {
		s.log.Error("smb: break acknowledgment not persisted", "err", err)
	}
}
