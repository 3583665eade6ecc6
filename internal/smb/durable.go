package smb

import (
	"cmp"
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"time"

	"github.com/tandemfs/tandem/internal/lock"
)

// Durable handles (MS-SMB2 3.3.5.9.6, 3.3.5.9.10): an open that asks for
// durability (DHnQ, or DH2Q from SMB 3.0) and gets a batch oplock or a
// lease that caches handles outlives its session. When the session ends
// without closing it (its connection is lost, LOGOFF, or a reconnecting
// client names the session as its PreviousSessionId) the open stays,
// disconnected, with its share reservation, its caching grant and its
// byte-range locks in the lock manager, which knows nothing of the
// disconnection: the owners of an open and of a lease stay the same
// across connections. Within its timeout the client reconnects to it on
// a new session (durablereconnect.go); after it the open is closed as
// CLOSE would close it, and whatever waited on it goes on. A tree
// disconnect and CLOSE end a durable open as any other.
//
// A disconnected open cannot acknowledge a break. A break aimed at it
// closes it instead (MS-SMB2 3.3.4.6, 3.3.4.7), so that a conflicting
// open goes on at once, as on Windows and Samba; a CREATE that did so
// looks at the file again, which the close may have deleted.
//
// Options.Durable, when set, keeps a record of each durable open
// (durablerecord.go) from before the response that grants it to its
// close, so that RestoreDurable can rebuild the disconnected opens after
// a restart (durablerestore.go).

// Timeouts of durable opens: Windows' and Samba's.
const (
	defaultDurableV1  = 16 * time.Minute
	defaultDurableV2  = time.Minute
	defaultDurableMax = 300 * time.Second
)

// durableState is where a durable open is in its life.
type durableState uint8

const (
	durableConnected    durableState = iota
	durableDisconnected              // its session went: it waits for a reconnect
	durableClosing                   // expired or purged: it is being closed
)

// durable is what makes an open durable. Guarded by serverOps.mu, but for
// storeMu.
type durable struct {
	v2       bool
	timeout  time.Duration
	user     string // the session's user: only the same user reconnects
	share    string
	state    durableState
	expires  time.Time // when a disconnected open is closed
	timer    *time.Timer
	gen      uint64 // counts disconnections, so that a stale timer does nothing
	restored bool   // rebuilt by RestoreDurable and not reconnected since

	// storeMu orders the open's store calls: a close that races with the
	// grant deletes the record after it was saved, not before.
	storeMu sync.Mutex
}

// createKey names the open a DH2Q request made: the client and the
// CreateGuid it chose.
type createKey struct {
	client string
	guid   [16]byte
}

// disconnected reports a durable open without a session. Call with
// serverOps.mu held.
func (o *open) disconnected() bool { return o.dur != nil && o.dur.state != durableConnected }

// durableTimeout is the timeout a durable request gets: for DH2Q what it
// asks (in milliseconds), 60 s if nothing, never more than the cap.
func (s *Server) durableTimeout(v2 bool, req []byte) time.Duration {
	if !v2 {
		return cmp.Or(s.opt.DurableV1Timeout, defaultDurableV1)
	}
	t := time.Duration(binary.LittleEndian.Uint32(req)) * time.Millisecond
	return min(cmp.Or(t, defaultDurableV2), cmp.Or(s.opt.DurableMaxTimeout, defaultDurableMax))
}

// grantDurable makes the open a CREATE made durable if it asked for it and
// caches handles (a batch oplock: level; a lease: its response context),
// and returns the response context that says so, or "" when it is not
// durable. A named stream or a directory is never durable, as on Samba.
func (s *Server) grantDurable(r *Request, q *createRequest, o *open, level byte, lease []byte) (string, []byte) {
	req, v2 := q.ctx.dhnq, false
	if q.ctx.dh2q != nil && r.Conn.dialect >= Dialect300 {
		req, v2 = q.ctx.dh2q, true
	}
	handles := level == oplockBatch || level == oplockLease && lock.Caching(binary.LittleEndian.Uint32(lease[16:]))&lock.CacheHandle != 0
	if req == nil || !handles || o.isDir || o.stream != "" {
		return "", nil
	}
	d := &durable{v2: v2, timeout: s.durableTimeout(v2, req), user: r.Session.User(), share: r.Tree.ShareName()}
	d.storeMu.Lock()
	defer d.storeMu.Unlock()
	ops := &s.ops
	ops.mu.Lock()
	if ops.opens[o.id.Persistent] != o || o.dur != nil {
		ops.mu.Unlock()
		return "", nil // closed meanwhile
	}
	o.dur = d
	ops.mu.Unlock()
	if s.opt.Durable != nil {
		rec := s.durableRecord(o, d)
		// Not the request's context: a CREATE that waited for breaks
		// answers after its synchronous part ended it.
		if err := s.opt.Durable.Save(context.WithoutCancel(r.Context()), &rec); err != nil {
			s.log.Warn("smb: durable open not saved; granted without durability", "file", o.key(), "err", err)
			ops.mu.Lock()
			if o.dur == d {
				o.dur = nil
			}
			ops.mu.Unlock()
			return "", nil
		}
	}
	b := make([]byte, 8)
	if !v2 {
		return ctxDurableRequest, b
	}
	binary.LittleEndian.PutUint32(b, uint32(d.timeout/time.Millisecond))
	return ctxDurableV2Request, b // flags 0: not persistent
}

// keepDurable leaves o, whose session is ending, disconnected rather than
// closed, and reports whether it did: o must be durable and still cache
// handles, with no break in progress that it could no longer acknowledge
// (Samba's rule: a durable open that lost handle caching is closed).
func (s *Server) keepDurable(o *open) bool {
	ops := &s.ops
	ops.mu.Lock()
	defer ops.mu.Unlock()
	d := o.dur
	if d == nil || d.state != durableConnected || ops.opens[o.id.Persistent] != o {
		return false
	}
	// Asked under serverOps.mu: a break that starts after this finds the
	// open disconnected (sendBreak) and closes it.
	g, ok := s.locks().Caching(o.key(), o.cache.holder)
	if !ok || g.State&lock.CacheHandle == 0 || g.Breaking {
		return false
	}
	s.disconnectLocked(o, d.timeout)
	s.log.Debug("smb: durable open disconnected", "file", o.key(), "id", o.id.Persistent, "timeout", d.timeout)
	return true
}

// disconnectLocked marks o disconnected and closes it after wait unless a
// reconnect takes it first. Call with serverOps.mu held.
func (s *Server) disconnectLocked(o *open, wait time.Duration) {
	d := o.dur
	d.state = durableDisconnected
	d.gen++
	d.expires = s.opt.Now().Add(wait)
	gen := d.gen
	d.timer = time.AfterFunc(max(wait, 0), func() { s.expireDurable(o, gen) })
}

// expireDurable closes a disconnected open whose timeout passed.
func (s *Server) expireDurable(o *open, gen uint64) {
	ops := &s.ops
	ops.mu.Lock()
	d := o.dur
	if d == nil || d.state != durableDisconnected || d.gen != gen {
		ops.mu.Unlock()
		return
	}
	d.state = durableClosing
	ops.mu.Unlock()
	s.log.Debug("smb: durable open expired", "file", o.key(), "id", o.id.Persistent)
	s.closeDurable(o)
}

// claimDisconnected picks the opens of list that are disconnected and
// marks them closing, so that no reconnect or timer takes them. Call with
// serverOps.mu held.
func (s *Server) claimDisconnected(list []*open) []*open {
	out := list[:0]
	for _, o := range list {
		if d := o.dur; d != nil && d.state == durableDisconnected {
			d.state = durableClosing
			d.timer.Stop()
			out = append(out, o)
		}
	}
	return out
}

// purge closes disconnected opens that a break was aimed at.
func (s *Server) purge(list []*open) {
	for _, o := range list {
		s.log.Debug("smb: disconnected durable open closed for a break", "file", o.key(), "id", o.id.Persistent)
		s.ops.purges.Add(1)
		s.closeDurable(o)
	}
}

// closeDurable closes a durable open that no session has: one marked
// closing, or one whose reconnect failed.
func (s *Server) closeDurable(o *open) {
	s.ops.mu.Lock()
	restored := o.dur != nil && o.dur.restored
	s.ops.mu.Unlock()
	if restored {
		s.releasePrior(o)
	}
	o.close(context.Background())
}

// forgetDurable takes out of the server's tables what makes o durable or
// replayable, as o closes, and returns its durability, if any. Call with
// serverOps.mu held.
func (s *Server) forgetDurable(o *open) *durable {
	if o.createGuid != ([16]byte{}) {
		k := createKey{o.owner.Host, o.createGuid}
		if s.ops.createGuids[k] == o {
			delete(s.ops.createGuids, k)
		}
	}
	d := o.dur
	if d == nil {
		return nil
	}
	o.dur = nil
	if d.timer != nil {
		d.timer.Stop()
	}
	return d
}

// deleteDurable forgets the record of a durable open that closed.
func (s *Server) deleteDurable(ctx context.Context, id uint64, d *durable) {
	if s.opt.Durable == nil {
		return
	}
	d.storeMu.Lock()
	defer d.storeMu.Unlock()
	if err := s.opt.Durable.Delete(context.WithoutCancel(ctx), id); err != nil {
		s.log.Warn("smb: durable open record not deleted", "id", id, "err", err)
	}
}

// resaveDurable saves again the records of the durable opens of file f,
// which moved: a reconnect with a lease names the file, and after a
// restart the record says what its name is.
func (s *Server) resaveDurable(f *fileState) {
	if s.opt.Durable == nil {
		return
	}
	type pair struct {
		o *open
		d *durable
	}
	var list []pair
	s.ops.mu.Lock()
	for _, o := range s.ops.opens {
		if o.file == f && o.dur != nil && o.dur.state != durableClosing {
			list = append(list, pair{o, o.dur})
		}
	}
	s.ops.mu.Unlock()
	for _, p := range list {
		p.d.storeMu.Lock()
		s.ops.mu.Lock()
		still := p.o.dur == p.d
		s.ops.mu.Unlock()
		if still {
			rec := s.durableRecord(p.o, p.d)
			if err := s.opt.Durable.Save(context.Background(), &rec); err != nil {
				s.log.Warn("smb: durable open record not updated after a rename", "id", rec.Persistent, "err", err)
			}
		}
		p.d.storeMu.Unlock()
	}
}

// durableRecord is o's record for the store.
func (s *Server) durableRecord(o *open, d *durable) DurableOpen {
	dir, name, path := o.location()
	rec := DurableOpen{
		Persistent: o.id.Persistent, Volatile: o.id.Volatile,
		Client: o.owner.Host, CreateGuid: o.createGuid, V2: d.v2, Timeout: d.timeout,
		User: d.user, UID: o.caller.UID, GID: o.caller.GID, Groups: o.caller.Groups,
		Anonymous: o.caller.Anonymous, Addr: o.caller.Addr.WithZone(""),
		Share: d.share, File: o.h, Dir: dir, Name: name, Path: path,
		Access: o.access, ShareAccess: o.shareAccess,
	}
	if !d.v2 {
		rec.CreateGuid = [16]byte{}
	}
	o.mu.Lock()
	rec.Mode, rec.DeleteOnClose = o.mode, o.deleteOnClose
	o.mu.Unlock()
	if g, ok := s.locks().Caching(o.key(), o.cache.holder); ok {
		rec.Caching, rec.Epoch = g.State, g.Epoch
	}
	if ref := &o.cache; ref.lease {
		rec.Lease, rec.LeaseKey, rec.LeaseV2 = true, ref.key, ref.v2
		if ref.v2 && ref.parentSet {
			rec.ParentSet, rec.ParentKey = true, ref.parent
		}
	}
	if !rec.LeaseV2 {
		rec.Epoch = 0
	}
	return rec
}

// DurableInfo describes a durable open for `tandem locks`: its lock
// manager entries are those of lock.SMBOwner(Client, Persistent) on File.
type DurableInfo struct {
	Persistent   uint64
	File         lock.FileKey
	Client       string
	Holder       lock.Owner // of its caching grant: its lease, or the open itself for an oplock
	Disconnected bool
	Expires      time.Time // when a disconnected open is closed; zero while connected
}

// DurableOpens lists the durable opens, connected or not, by persistent
// FileId; those being closed are left out.
func (s *Server) DurableOpens() []DurableInfo {
	s.ops.mu.Lock()
	var out []DurableInfo
	for _, o := range s.ops.opens {
		if d := o.dur; d != nil && d.state != durableClosing {
			info := DurableInfo{Persistent: o.id.Persistent, File: o.key(), Client: o.owner.Host, Holder: o.cache.holder}
			if d.state != durableConnected {
				info.Disconnected, info.Expires = true, d.expires
			}
			out = append(out, info)
		}
	}
	s.ops.mu.Unlock()
	slices.SortFunc(out, func(a, b DurableInfo) int { return cmp.Compare(a.Persistent, b.Persistent) })
	return out
}

// stopDurable stops the timers of disconnected opens when the server
// shuts down: they stay as they are, for the records to rebuild them.
func (s *Server) stopDurable() {
	s.ops.mu.Lock()
	defer s.ops.mu.Unlock()
	for _, o := range s.ops.opens {
		if d := o.dur; d != nil && d.timer != nil {
			d.timer.Stop()
		}
	}
}
