package smb

import "encoding/binary"

// How a connection serves the frames it reads: on goroutines it keeps
// (goServe), on its reader for short requests that cannot wait on the
// client (servedInline), and with buffers it keeps for large WRITE frames
// (recycleFrame).

// job is a frame whose requests are served concurrently with the
// connection's reader.
type job struct {
	frame []byte
	msgs  [][]byte
	enc   *Session
	order frameOrder // what it waits for and joined (order.go)
}

// maxIdleWorkers is how many goroutines a connection keeps waiting for
// the next frame to serve.
const maxIdleWorkers = 4

// goServe serves a frame on a goroutine of its own. One that served an
// earlier frame and waits for more takes it if there is one: its stack
// has grown to what a request through the file system and the store
// needs, where a new goroutine's would grow again, copying itself at
// each step, for every request.
func (c *Conn) goServe(j job) {
	select {
	case c.jobs <- j:
	default:
		go c.work(j)
	}
}

func (c *Conn) work(j job) {
	for {
		c.recycleFrame(j.frame, j.msgs, c.serveOrdered(j.msgs, j.enc, &j.order))
		if c.idleWorkers.Add(1) > maxIdleWorkers {
			c.idleWorkers.Add(-1)
			return
		}
		select {
		case j = <-c.jobs:
			c.idleWorkers.Add(-1)
		case <-c.ctx.Done():
			c.idleWorkers.Add(-1)
			return
		}
	}
}

// Large frames, in practice WRITEs, are read into buffers the connection
// keeps for its next ones, so that a stream of 1 MiB WRITEs neither
// allocates (and clears) a buffer for each nor makes the collector run
// for them.
const (
	minSpareFrame = 64 << 10
	spareFrames   = 2
)

// recycleFrame keeps a frame's buffer for the next frames once its
// requests are served, if nothing can still hold a slice of it: only
// WRITEs, which hand their data to the file system and keep none of it,
// and none went asynchronous. Other large requests are rare, and some
// keep parts of their message (a compound waiting behind a CREATE, a
// pipe's input), so their frames are left to the collector.
func (c *Conn) recycleFrame(frame []byte, msgs [][]byte, async bool) {
	if async || cap(frame) < minSpareFrame {
		return
	}
	for _, m := range msgs {
		if Command(binary.LittleEndian.Uint16(m[12:])) != CmdWrite {
			return
		}
	}
	select {
	case c.spareFrames <- frame[:0]:
	default:
	}
}

// servedInline reports whether the reader may serve a request itself:
// ECHO, QUERY_INFO, and a LOCK whose every element unlocks or fails
// immediately. None of them waits on a client, a break or a timer.
func servedInline(m []byte) bool {
	switch Command(binary.LittleEndian.Uint16(m[12:])) {
	case CmdEcho, CmdQueryInfo:
		return true
	case CmdLock:
		b := m[HeaderSize:]
		if len(b) < 24 {
			return false
		}
		n := int(binary.LittleEndian.Uint16(b[2:]))
		if n == 0 || len(b) < 24+24*n {
			return false
		}
		for i := range n {
			if binary.LittleEndian.Uint32(b[24+24*i+16:])&(lockUnlock|lockFailImmediately) == 0 {
				return false
			}
		}
		return true
	}
	return false
}
