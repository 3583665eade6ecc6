package rpc

import "sync/atomic"

// Calls run on long-lived worker goroutines rather than a new goroutine
// each: a new goroutine starts with a small stack that the handler's first
// calls into the stores grow (copying it) every time, which on small
// requests (GETATTR, LOOKUP, a 4 KiB READ) cost more CPU than the request.
// A worker keeps its grown stack from one call to the next.

// maxIdleWorkers bounds the workers kept waiting for calls; a burst beyond
// it gets goroutines that end with their call.
const maxIdleWorkers = 128

// work hands a call to an idle worker; unbuffered, so a send succeeds only
// when one is waiting.
var (
	work        = make(chan *request)
	idleWorkers atomic.Int32
)

// dispatch runs req's handler, then its reply, on a worker.
func dispatch(req *request) {
	select {
	case work <- req:
	default:
		go worker(req)
	}
}

func worker(req *request) {
	for {
		req.serve()
		if idleWorkers.Add(1) > maxIdleWorkers {
			idleWorkers.Add(-1)
			return
		}
		req = <-work
		idleWorkers.Add(-1)
	}
}

// serve handles a TCP call and sends its reply; the request goes back to
// the pool.
func (req *request) serve() {
	c, h := req.conn, req.h
	req.conn, req.h = nil, nil
	out, hdr := c.s.handle(h, req)
	c.reply(req, out, hdr)
	c.release(req)
}
