package smb

import (
	"encoding/binary"
	"strings"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
)

// Reconnecting a durable open (MS-SMB2 3.3.5.9.7 for DHnC, 3.3.5.9.12 for
// DH2C). The reconnect names the open by its persistent FileId, and for
// DH2C by the CreateGuid of the request that made it (zero for an open of
// DHnQ: DHnC takes back an open of either request). Every other field of
// the CREATE is ignored; only a lease and, for an open with a lease, the
// file's name are checked, as on Windows and Samba (an on-disk id query
// is answered too):
//
//   - no open by that id, not durable, another CreateGuid, a lease context
//     where the open has none or none where it has one, another lease key,
//     another client's lease, an open still connected, another share:
//     STATUS_OBJECT_NAME_NOT_FOUND;
//   - another user: STATUS_ACCESS_DENIED;
//   - an open with a lease and another name: STATUS_INVALID_PARAMETER.
//
// The open joins the request's tree with the same FileId and keeps what
// it held in the lock manager; the response carries its lease state and
// epoch or its oplock level, and no durable context.

// reconnectWait bounds how long a reconnect waits for the connection its
// client left to be seen gone.
const reconnectWait = time.Second

// statusStillConnected is takeDisconnected's internal answer for an open
// of the same client whose connection has not been seen to end yet.
const statusStillConnected = Status(0xfffffffd)

// serveReconnect answers a CREATE with DHnC or DH2C; raw is its name.
func (s *Server) serveReconnect(w *Response, r *Request, q *createRequest, raw []byte) {
	cc := &q.ctx
	v2 := cc.dh2c != nil
	if cc.dhnc != nil && (v2 || cc.dh2q != nil) || v2 && (cc.dhnq != nil || cc.dh2q != nil) {
		w.Error(StatusInvalidParameter) // a reconnect and another durable context
		return
	}
	lease := cc.lease
	if r.Conn.dialect < Dialect210 {
		lease = nil
	}
	// Only a lease, and with DHnC a DHnQ, may come along, as Samba
	// holds; and a query for the on-disk id, which the Linux client puts
	// in every CREATE, its reconnects included (Samba refuses those, so
	// that the Linux client's durable handles never come back there).
	allowed := 1
	if !v2 && cc.dhnq != nil {
		allowed++
	}
	if lease != nil {
		allowed++
	}
	if cc.queryID {
		allowed++
	}
	if cc.count != allowed {
		w.Error(StatusObjectNameNotFound)
		return
	}
	data := cc.dhnc
	var guid [16]byte
	if v2 {
		data = cc.dh2c
		copy(guid[:], data[16:32])
	}
	o, d, st := s.takeDisconnected(r, binary.LittleEndian.Uint64(data), v2, guid, lease, raw)
	// A client reconnects a handle once it has given its connection up,
	// and may do so before this server has seen that connection end (a
	// CREATE can overtake the teardown of the connection it left): wait a
	// moment for it, as for a break.
	for deadline := time.Now().Add(reconnectWait); st == statusStillConnected; {
		if time.Now().After(deadline) {
			st = StatusObjectNameNotFound
			break
		}
		time.Sleep(5 * time.Millisecond)
		o, d, st = s.takeDisconnected(r, binary.LittleEndian.Uint64(data), v2, guid, lease, raw)
	}
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	ctx := r.Context()
	if d.restored && !s.reclaim(o) {
		s.log.Debug("smb: restored durable open could not take back its locks", "file", o.key(), "id", o.id.Persistent)
		s.closeDurable(o)
		w.Error(StatusObjectNameNotFound)
		return
	}
	a, err := s.fs.GetAttr(ctx, o.h)
	if err != nil {
		s.closeDurable(o)
		w.Error(StatusObjectNameNotFound)
		return
	}
	if st := r.Tree.ops.add(o); st != StatusSuccess {
		s.redisconnect(o, d)
		w.Error(st)
		return
	}
	s.log.Debug("smb: durable open reconnected", "file", o.key(), "id", o.id.Persistent, "v2", v2)
	r.FileID(o.id)
	s.reopenReply(w, o, actionOpened, &a, nil)
}

// takeDisconnected finds the disconnected durable open a reconnect names,
// checks the reconnect against it and, if it may, makes it the request's
// again: connected, on the request's tree.
func (s *Server) takeDisconnected(r *Request, id uint64, v2 bool, guid [16]byte, lease, raw []byte) (*open, *durable, Status) {
	ops := &s.ops
	ops.mu.Lock()
	defer ops.mu.Unlock()
	o := ops.opens[id]
	if o == nil || o.dur == nil {
		return nil, nil, StatusObjectNameNotFound
	}
	d := o.dur
	switch {
	case v2 && o.createGuid != guid:
		return nil, nil, StatusObjectNameNotFound
	case o.cache.lease != (lease != nil):
		return nil, nil, StatusObjectNameNotFound
	case lease != nil && ([16]byte(lease[:16]) != o.cache.key || o.cache.holder.Host != r.Conn.lockClient()):
		// A lease belongs to its client: another ClientGuid has another
		// lease of the same key.
		return nil, nil, StatusObjectNameNotFound
	case d.state == durableConnected && o.owner.Host == r.Conn.lockClient():
		return nil, nil, statusStillConnected
	case d.state != durableDisconnected:
		return nil, nil, StatusObjectNameNotFound
	case !sameOwner(o, d, r.Session):
		return nil, nil, StatusAccessDenied
	case !strings.EqualFold(d.share, r.Tree.ShareName()):
		return nil, nil, StatusObjectNameNotFound
	case lease != nil && !sameName(raw, o.file.path):
		return nil, nil, StatusInvalidParameter
	}
	d.state = durableConnected
	d.expires = time.Time{}
	d.timer.Stop()
	o.tree.Store(r.Tree)
	return o, d, StatusSuccess
}

// sameOwner reports whether sess is of the user who opened o.
func sameOwner(o *open, d *durable, sess *Session) bool {
	return equalFold(d.user, sess.User()) && o.caller.UID == sess.caller.UID && o.caller.Anonymous == sess.caller.Anonymous
}

// sameName reports whether a CREATE's name (raw UTF-16LE) is the path p,
// without regard to case.
func sameName(raw []byte, p string) bool {
	comps, st := parseName(raw)
	return st == StatusSuccess && strings.EqualFold(strings.Join(comps, `\`), p)
}

// redisconnect puts back a reconnected open that its new tree refused,
// disconnected for another timeout.
func (s *Server) redisconnect(o *open, d *durable) {
	ops := &s.ops
	ops.mu.Lock()
	defer ops.mu.Unlock()
	if o.dur == d && d.state == durableConnected {
		s.disconnectLocked(o, d.timeout)
	}
}

// reopenReply answers a CREATE with an open that exists already: a
// reconnect (replay nil), with the open's oplock level or lease state, or
// a replay, which answers the oplock level the replayed request asks for
// and its durability only if that level could have had it, as Windows and
// Samba do, without changing the open.
func (s *Server) reopenReply(w *Response, o *open, action uint32, a *fs.Attr, replay *createRequest) {
	o.withAlloc(a)
	g, _ := s.locks().Caching(o.key(), o.cache.holder)
	level := oplockLevel(g.State)
	if o.cache.lease {
		level = oplockLease
	}
	withLease := o.cache.lease
	var dh []byte
	if replay != nil {
		level = replay.oplock
		withLease = withLease && replay.ctx.lease != nil
		s.ops.mu.Lock()
		if d := o.dur; d != nil && (level == oplockBatch || level == oplockLease) {
			dh = make([]byte, 8)
			binary.LittleEndian.PutUint32(dh, uint32(d.timeout/time.Millisecond))
		}
		s.ops.mu.Unlock()
	}
	cw := createResponse(w, level, action, a, o.id)
	if dh != nil {
		cw.add(ctxDurableV2Request, dh)
	}
	if withLease {
		g.Epochs = o.cache.v2
		cw.add(ctxLeaseRequest, leaseResponse(&o.cache, g))
	}
	cw.endCreate()
}

// pendingCreate stands in the table of CreateGuids for the open a CREATE
// is still making.
var pendingCreate = &open{}

// noteCreateIDs records with the open a CREATE made the ids the request
// gave it: the CreateGuid of DH2Q, so that a replay of the request finds
// it (replayCreate), and the application instance id (appinstance.go).
func (s *Server) noteCreateIDs(q *createRequest, o *open, action uint32) {
	if q.ctx.dh2q == nil && q.ctx.appInstance == ([16]byte{}) {
		return
	}
	ops := &s.ops
	ops.mu.Lock()
	defer ops.mu.Unlock()
	if q.holds != nil {
		if ops.createGuids[*q.holds] == pendingCreate {
			delete(ops.createGuids, *q.holds)
		}
		q.holds = nil
	}
	if ops.opens[o.id.Persistent] != o {
		return // closed meanwhile
	}
	if q.ctx.appInstance != ([16]byte{}) && o.stream == "" {
		o.appInstance = q.ctx.appInstance
	}
	if q.ctx.dh2q == nil {
		return
	}
	guid := [16]byte(q.ctx.dh2q[16:32])
	o.createGuid, o.action = guid, action
	k := createKey{o.owner.Host, guid}
	if ops.createGuids[k] == nil {
		ops.createGuids[k] = o
	}
}

// releaseCreateGuid gives up the CreateGuid a CREATE held while it ran,
// when it made no open.
func (s *Server) releaseCreateGuid(q *createRequest) {
	if q.holds == nil {
		return
	}
	ops := &s.ops
	ops.mu.Lock()
	if ops.createGuids[*q.holds] == pendingCreate {
		delete(ops.createGuids, *q.holds)
	}
	ops.mu.Unlock()
	q.holds = nil
}

// replayCreate answers a CREATE with DH2Q whose CreateGuid names an open
// of the client already, and reports whether it did (MS-SMB2
// 3.3.5.9.10). A replay (SMB2_FLAGS_REPLAY_OPERATION) gets that open, as
// if the CREATE had been carried out once; without the flag the
// CreateGuid is in use (STATUS_DUPLICATE_OBJECTID). A replay must name
// the same lease (STATUS_ACCESS_DENIED) and reach the open from the
// request's tree. While the CREATE that holds the CreateGuid still runs,
// or its open is disconnected (a reconnect takes it back, not a replay),
// the client is to try again later (STATUS_FILE_NOT_AVAILABLE). A CREATE
// that goes on holds its CreateGuid until it made its open or failed.
func (s *Server) replayCreate(w *Response, r *Request, q *createRequest) bool {
	k := createKey{r.Conn.lockClient(), [16]byte(q.ctx.dh2q[16:32])}
	ops := &s.ops
	ops.mu.Lock()
	o := ops.createGuids[k]
	var st Status
	switch {
	case o == nil:
		ops.createGuids[k] = pendingCreate
		q.holds = &k
		ops.mu.Unlock()
		return false
	case o == pendingCreate:
		st = StatusFileNotAvailable
	case r.Header.Flags&FlagReplay == 0:
		st = StatusDuplicateObjectID
	case o.disconnected() || o.tree.Load() != r.Tree:
		st = StatusFileNotAvailable
	case q.ctx.lease != nil && (!o.cache.lease || [16]byte(q.ctx.lease[:16]) != o.cache.key):
		st = StatusAccessDenied
	}
	ops.mu.Unlock()
	if st != StatusSuccess {
		w.Error(st)
		return true
	}
	a, err := s.fs.GetAttr(r.Context(), o.h)
	if err != nil {
		w.Error(StatusOf(err))
		return true
	}
	r.FileID(o.id)
	s.reopenReply(w, o, o.action, &a, q)
	return true
}
