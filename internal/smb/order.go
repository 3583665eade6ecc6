package smb

import (
	"encoding/binary"
	"sync"
)

// Frames that are not served in order (conn.go) run concurrently, so a
// request could overtake one the client sent before it on the same open:
// a CLOSE sent right after a QUERY_DIRECTORY, a READ, a WRITE or a
// SET_INFO would close the handle under them and they would fail with
// STATUS_FILE_CLOSED. fileOrder prevents it: a frame naming an open counts
// as in flight on it from when it is read until it has been served (or
// has gone async: what waits then, a blocking LOCK say, is ended by the
// CLOSE, as the protocol says), and a frame with a CLOSE starts once no
// frame read before it is in flight on the open it closes. Nothing else
// is ordered: requests on different opens, or on one open without a
// CLOSE, may run in any order, as MS-SMB2 allows.

// fileOrder keeps, per open (by volatile FileId) of one connection, the
// flight of frames in flight on it: the frames read since the last CLOSE
// of that id. A CLOSE ends the flight: it waits for the frames in it, and
// frames read after it start a new one, so a CLOSE waits only for frames
// read before it and waits never form a cycle. A flight outlives its
// frames until the CLOSE, so that a client sending one request at a time
// does not make one per request.
type fileOrder struct {
	mu  sync.Mutex
	cur map[uint64]*flight
}

// flight is the frames in flight on one open since its last CLOSE.
type flight struct {
	n       int             // frames in it not yet served
	closers []chan struct{} // CLOSEs waiting for n to reach 0
}

// frameOrder is what one frame registered: the flights it joined and what
// it must wait for before it runs.
type frameOrder struct {
	joined [4]*flight
	n      int
	wait   []chan struct{}
}

// fileIDAt is where the FileId of a request lies in its body, or -1 for a
// command that names none.
func fileIDAt(cmd Command, body []byte) int {
	at := -1
	switch cmd {
	case CmdClose, CmdFlush, CmdLock, CmdIoctl, CmdQueryDirectory, CmdChangeNotify:
		at = 8
	case CmdRead, CmdWrite, CmdSetInfo:
		at = 16
	case CmdQueryInfo:
		at = 24
	}
	if at < 0 || len(body) < at+16 {
		return -1
	}
	return at
}

// volatileOf is the volatile FileId a request names, and false for none
// or for the open of the request before it in the frame (all ones).
func volatileOf(m []byte) (Command, uint64, bool) {
	cmd := Command(binary.LittleEndian.Uint16(m[12:]))
	body := m[HeaderSize:]
	at := fileIDAt(cmd, body)
	if at < 0 {
		return cmd, 0, false
	}
	id := binary.LittleEndian.Uint64(body[at+8:])
	return cmd, id, id != ^uint64(0)
}

// enter registers the frame msgs, read just now, and reports what it
// must wait for; the frame calls leave once served. The CLOSEs are taken
// first, so that a frame never waits for itself.
func (o *fileOrder) enter(msgs [][]byte) frameOrder {
	var f frameOrder
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range msgs {
		if cmd, id, ok := volatileOf(m); ok && cmd == CmdClose {
			if g := o.cur[id]; g != nil {
				if g.n > 0 {
					ch := make(chan struct{})
					g.closers = append(g.closers, ch)
					f.wait = append(f.wait, ch)
				}
				delete(o.cur, id)
			}
		}
	}
	for _, m := range msgs {
		cmd, id, ok := volatileOf(m)
		if !ok || cmd == CmdClose || f.n == len(f.joined) {
			continue
		}
		g := o.cur[id]
		if g == nil {
			if o.cur == nil {
				o.cur = map[uint64]*flight{}
			}
			g = new(flight)
			o.cur[id] = g
		}
		if !f.has(g) {
			g.n++
			f.joined[f.n] = g
			f.n++
		}
	}
	return f
}

func (f *frameOrder) has(g *flight) bool {
	for _, x := range f.joined[:f.n] {
		if x == g {
			return true
		}
	}
	return false
}

// leave ends what enter registered, starting the CLOSEs that waited for
// no more than it.
func (o *fileOrder) leave(f *frameOrder) {
	if f.n == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, g := range f.joined[:f.n] {
		if g.n--; g.n == 0 {
			for _, ch := range g.closers {
				close(ch)
			}
			g.closers = nil
		}
	}
}

// serveOrdered serves a frame once what it waits for is done, and
// reports what serveChain does (whether a request went async).
func (c *Conn) serveOrdered(msgs [][]byte, enc *Session, f *frameOrder) bool {
	for _, ch := range f.wait {
		<-ch
	}
	async := c.serveChain(msgs, enc)
	c.order.leave(f)
	return async
}
