package smb

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
)

func init() { register(CmdChangeNotify, serveChangeNotify) }

// CHANGE_NOTIFY (MS-SMB2 3.3.5.19, MS-FSA 2.1.5.10) reports changes in a
// directory, or with WATCH_TREE in the tree below it. The first request on
// an open sets up a watch with its CompletionFilter and WATCH_TREE, which
// stay for the life of the open; from then on changes are collected on the
// open, so that none is lost between two requests. A request finds the
// changes collected since the last one and completes at once, or waits for
// the next change. What is collected is bounded by the OutputBufferLength
// of the latest request: beyond it, or when a request's buffer cannot hold
// the changes, the request completes with STATUS_NOTIFY_ENUM_DIR and the
// client must read the directory again.
//
// The changes come from the file system (fs.Watch), whoever makes them:
// an NFS client's changes complete SMB requests too. A change the file
// system reports through a handle (attributes, data) is named by where
// the file was opened over SMB, or, for a file no SMB client has open,
// by the entry of the directory the file system places it in, looked up
// only when a watch covers that directory: FILE_ACTION_MODIFIED, as
// Windows reports another opener's write or attribute change.
//
// A waiting request completes with STATUS_CANCELLED on CANCEL, with
// STATUS_NOTIFY_CLEANUP when its open is closed (CLOSE, tree disconnect,
// logoff) and with STATUS_DELETE_PENDING when its directory is marked for
// deletion or removed by another protocol. Only the last request of a
// compound may wait; one in the middle fails with STATUS_INTERNAL_ERROR.

// Change notify request flags and filter bits (MS-SMB2 2.2.35).
const (
	notifyWatchTree = 0x0001

	notifyFileName    = 0x00000001
	notifyDirName     = 0x00000002
	notifyAttributes  = 0x00000004
	notifySize        = 0x00000008
	notifyLastWrite   = 0x00000010
	notifyLastAccess  = 0x00000020
	notifyCreation    = 0x00000040
	notifySecurity    = 0x00000100
	fileListDirectory = 0x00000001
)

// FILE_NOTIFY_INFORMATION actions (MS-FSCC 2.7.1).
const (
	actionAdded    = 1
	actionRemoved  = 2
	actionModified = 3
	actionOldName  = 4
	actionNewName  = 5
)

// notifyHub is the server's watches.
type notifyHub struct {
	once  sync.Once
	count atomic.Int32 // watches; events are ignored while there are none

	mu      sync.Mutex
	byOpen  map[*open]*watch
	byShare map[uint32]map[*watch]struct{}
}

// watch is the change notification state of one open.
type watch struct {
	o      *open
	dir    fs.Handle
	filter uint32
	tree   bool

	// Guarded by notifyHub.mu.
	max      uint32 // OutputBufferLength of the latest request: the bound of queue
	queue    []notifyChange
	size     int  // encoded size of queue
	overflow bool // changes were lost: the next request gets NOTIFY_ENUM_DIR
	waiting  []*Pending
	outLen   map[*Pending]uint32
}

// notifyChange is one FILE_NOTIFY_INFORMATION entry: name is the path
// from the watched directory.
type notifyChange struct {
	action uint32
	name   string
}

// size is the entry's encoded length, aligned to 4 bytes as Windows
// aligns the entries it chains.
func (c *notifyChange) size() int { return (12 + utf16Len(c.name) + 3) &^ 3 }

func serveChangeNotify(w *Response, r *Request) {
	b := r.Body
	if len(b) < 32 || binary.LittleEndian.Uint16(b) != 32 {
		w.Error(StatusInvalidParameter)
		return
	}
	flags := binary.LittleEndian.Uint16(b[2:])
	outLen := binary.LittleEndian.Uint32(b[4:])
	filter := binary.LittleEndian.Uint32(b[24:])
	o, st := r.openOf(b[8:24])
	switch {
	case st != StatusSuccess:
	case outLen > r.Conn.MaxTransact() || !r.ChargeCovers(outLen):
		st = StatusInvalidParameter
	case !o.isDir:
		st = StatusInvalidParameter
	case !o.may(fileListDirectory):
		st = StatusAccessDenied
	case o.deletePending():
		st = StatusDeletePending
	}
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	s := r.Conn.srv
	hub := &s.ops.notify
	hub.once.Do(func() { s.fs.Watch(s.fileChanged) })
	hub.mu.Lock()
	if r.Tree.ops.get(o.id) != o {
		hub.mu.Unlock()
		w.Error(StatusFileClosed) // closed meanwhile
		return
	}
	wt := hub.byOpen[o]
	if wt == nil {
		wt = &watch{o: o, dir: o.h, filter: filter, tree: flags&notifyWatchTree != 0, outLen: map[*Pending]uint32{}}
		if hub.byOpen == nil {
			hub.byOpen = map[*open]*watch{}
			hub.byShare = map[uint32]map[*watch]struct{}{}
		}
		hub.byOpen[o] = wt
		ws := hub.byShare[o.h.Share]
		if ws == nil {
			ws = map[*watch]struct{}{}
			hub.byShare[o.h.Share] = ws
		}
		ws[wt] = struct{}{}
		hub.count.Add(1)
	}
	wt.max = outLen
	if len(wt.queue) > 0 || wt.overflow {
		changes, overflow := wt.queue, wt.overflow || wt.size > int(outLen)
		wt.queue, wt.size, wt.overflow = nil, 0, false
		hub.mu.Unlock()
		notifyResponse(changes, overflow)(w)
		return
	}
	if r.Header.NextCommand != 0 {
		// Only the last request of a compound may go asynchronous; Windows
		// fails one in the middle, and the rest of the compound is served.
		hub.mu.Unlock()
		w.Error(StatusInternalError)
		return
	}
	p := r.GoAsync()
	wt.waiting = append(wt.waiting, p)
	wt.outLen[p] = outLen
	hub.mu.Unlock()
	p.onSessionEnd(func() { s.endNotify(wt, p, StatusNotifyCleanup) })
	context.AfterFunc(p.Context(), func() { s.endNotify(wt, p, StatusCancelled) })
}

// endNotify completes a waiting request of wt with st, if it still waits.
func (s *Server) endNotify(wt *watch, p *Pending, st Status) {
	hub := &s.ops.notify
	hub.mu.Lock()
	found := wt.take(p)
	hub.mu.Unlock()
	if found {
		p.completeAfterEnd(notifyStatus(st))
	}
}

// take removes p from the waiting requests, reporting whether it was there.
func (wt *watch) take(p *Pending) bool {
	for i, q := range wt.waiting {
		if q == p {
			wt.waiting = append(wt.waiting[:i], wt.waiting[i+1:]...)
			delete(wt.outLen, p)
			return true
		}
	}
	return false
}

// notifyClosed ends the watch of an open being closed: its waiting
// requests complete with STATUS_NOTIFY_CLEANUP.
func (s *Server) notifyClosed(o *open) {
	hub := &s.ops.notify
	if hub.count.Load() == 0 {
		return
	}
	hub.mu.Lock()
	wt := hub.byOpen[o]
	if wt == nil {
		hub.mu.Unlock()
		return
	}
	delete(hub.byOpen, o)
	delete(hub.byShare[o.h.Share], wt)
	hub.count.Add(-1)
	waiting := wt.waiting
	wt.waiting, wt.queue = nil, nil
	hub.mu.Unlock()
	for _, p := range waiting {
		p.completeAfterEnd(notifyStatus(StatusNotifyCleanup))
	}
}

// notifyDeletePending completes the waiting requests on a directory just
// marked for deletion with STATUS_DELETE_PENDING.
func (s *Server) notifyDeletePending(key lock.FileKey) {
	hub := &s.ops.notify
	if hub.count.Load() == 0 {
		return
	}
	var done []*Pending
	hub.mu.Lock()
	for wt := range hub.byShare[key.Share] {
		if wt.dir.ID == key.ID {
			done = append(done, wt.waiting...)
			wt.waiting = nil
			clear(wt.outLen)
		}
	}
	hub.mu.Unlock()
	for _, p := range done {
		p.Complete(notifyStatus(StatusDeletePending))
	}
}

// notifyStatus is a final response without changes.
func notifyStatus(st Status) func(w *Response) {
	return func(w *Response) {
		if st.IsError() {
			w.Error(st)
			return
		}
		w.Status = st
		writeNotify(w, nil)
	}
}

// notifyResponse is the final response reporting changes, or
// STATUS_NOTIFY_ENUM_DIR when they were too many.
func notifyResponse(changes []notifyChange, overflow bool) func(w *Response) {
	return func(w *Response) {
		if overflow {
			w.Status = StatusNotifyEnumDir
			writeNotify(w, nil)
			return
		}
		writeNotify(w, changes)
	}
}

// writeNotify writes a CHANGE_NOTIFY response body (MS-SMB2 2.2.36) with
// the changes as chained FILE_NOTIFY_INFORMATION entries (MS-FSCC 2.7.1).
func writeNotify(w *Response, changes []notifyChange) {
	n := 0
	for i := range changes {
		n += changes[i].size()
	}
	b := w.Grow(8)
	binary.LittleEndian.PutUint16(b, 9)
	binary.LittleEndian.PutUint16(b[2:], HeaderSize+8)
	if n == 0 {
		w.Grow(1) // the body's one byte of variable part
		return
	}
	binary.LittleEndian.PutUint32(b[4:], uint32(n))
	out := w.Grow(n)
	for i := range changes {
		c := &changes[i]
		sz := c.size()
		e := out[:sz]
		if i < len(changes)-1 {
			binary.LittleEndian.PutUint32(e, uint32(sz))
		}
		binary.LittleEndian.PutUint32(e[4:], c.action)
		binary.LittleEndian.PutUint32(e[8:], uint32(utf16Len(c.name)))
		putUTF16(e[12:], c.name)
		out = out[sz:]
	}
}
