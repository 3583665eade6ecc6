package rpc

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// ServeTCP accepts connections on l and serves each in its own goroutine.
// It returns ErrServerClosed after Shutdown, or the error that ended the
// listener. Transient accept errors (out of file descriptors) are retried
// with a growing pause.
func (s *Server) ServeTCP(l net.Listener) error {
	if !s.track(l, nil) {
		l.Close()
		return ErrServerClosed
	}
	defer s.untrack(l, nil)
	var pause time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			s.log.Warn("rpc: accept failed; retrying", "addr", l.Addr(), "err", err, "pause", pause)
			time.Sleep(pause)
			continue
		}
		pause = 0
		c := s.newConn(nc)
		if c == nil {
			nc.Close()
			continue
		}
		go c.serve()
	}
}

// readBufSize is the per-connection read buffer. Larger records bypass it.
const readBufSize = 32 << 10

// conn is one TCP connection. One goroutine reads and decodes records;
// each call that reaches a handler runs on a worker (workers.go), and
// replies go out in the order handlers finish, one record per write under
// wmu.
type conn struct {
	s      *Server
	nc     net.Conn
	br     *bufio.Reader
	rr     recordReader
	local  net.Addr
	remote net.Addr
	names  nameCache // used by the reading goroutine only

	deadline time.Time // the read deadline last set (reading goroutine only)

	slots    chan struct{} // one token per call in flight
	inflight sync.WaitGroup

	wmu  sync.Mutex
	iov  [2][]byte
	bufs net.Buffers
}

func (s *Server) newConn(nc net.Conn) *conn {
	br := bufio.NewReaderSize(nc, readBufSize)
	c := &conn{
		s:      s,
		nc:     nc,
		br:     br,
		rr:     recordReader{r: br, maxSize: s.maxRecord, maxFrags: s.maxFrags},
		local:  nc.LocalAddr(),
		remote: nc.RemoteAddr(),
		slots:  make(chan struct{}, s.maxInFlight),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return nil
	}
	s.conns[c] = struct{}{}
	s.active.Add(1)
	return c
}

func (c *conn) serve() {
	err := c.readLoop()
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), c.s.closing.Load():
	case errors.Is(err, errRecordTooLarge), errors.Is(err, errTooManyFragments), errors.Is(err, errNotRPC):
		// The stream cannot be trusted past a broken record: drop the
		// connection now rather than after the calls in flight.
		c.s.log.Warn("rpc: closing connection", "remote", c.remote, "reason", err)
		c.nc.Close()
	default:
		c.s.log.Debug("rpc: connection ended", "remote", c.remote, "err", err)
	}
	c.inflight.Wait()
	c.nc.Close()
	c.s.mu.Lock()
	delete(c.s.conns, c)
	c.s.mu.Unlock()
	c.s.active.Done()
}

var errNotRPC = errors.New("rpc: peer sent a record that is not an RPC message")

// readLoop reads and dispatches calls until the stream ends or breaks.
func (c *conn) readLoop() error {
	idle := c.s.idle
	for {
		if idle > 0 {
			if c.br.Buffered() == 0 {
				// Wait for the next record. Silence is not idleness while
				// calls are in flight: the client is waiting for us.
				c.setReadDeadline(time.Now().Add(idle))
				if _, err := c.br.Peek(1); err != nil {
					if isTimeout(err) && len(c.slots) > 0 && !c.s.closing.Load() {
						continue
					}
					return err
				}
			}
			c.setReadDeadline(time.Now().Add(idle))
		}
		req := getRequest()
		rec, err := c.rr.read(req.rec)
		req.rec = rec
		if err != nil {
			putRequest(req)
			return err
		}
		c.slots <- struct{}{}
		c.inflight.Add(1)
		req.call.Network = "tcp"
		req.call.LocalAddr, req.call.RemoteAddr = c.local, c.remote
		h, out, hdr, notRPC := c.s.prepare(req, &c.names)
		if notRPC {
			c.release(req)
			return errNotRPC
		}
		if h == nil {
			c.reply(req, out, hdr)
			c.release(req)
			continue
		}
		req.conn, req.h = c, h
		dispatch(req)
	}
}

// setReadDeadline sets a read deadline unless Shutdown has expired them
// all; the re-check after setting closes the race with Shutdown.
// A deadline less than a sixteenth of the idle timeout later than the one
// set is left as it is: moving the timer on every record costs more than
// the request on small calls, and the timeout is no more exact than that.
func (c *conn) setReadDeadline(t time.Time) {
	if t.Sub(c.deadline) < c.s.idle/16 {
		return
	}
	c.deadline = t
	c.nc.SetReadDeadline(t)
	if c.s.closing.Load() {
		c.nc.SetReadDeadline(aLongTimeAgo)
	}
}

func (c *conn) release(req *request) {
	putRequest(req)
	<-c.slots
	c.inflight.Done()
}

// reply sends the answer to req as one record. hdr lies in req.hdr just
// after the four bytes kept for the record mark.
func (c *conn) reply(req *request, out outcome, hdr []byte) {
	if out == replyNone {
		return
	}
	var body []byte
	if out == replyResults {
		body = req.w.Bytes()
	}
	if len(hdr)+len(body) > maxFragmentLen {
		hdr = appendAccepted(req.hdr[4:4], req.call.XID, SystemErr)
		body = nil
	}
	rec := req.hdr[:4+len(hdr)]
	putRecordMark(rec, len(hdr)+len(body))

	c.wmu.Lock()
	if c.s.idle > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(c.s.idle))
	}
	var err error
	if len(body) == 0 {
		_, err = c.nc.Write(rec)
	} else {
		c.iov[0], c.iov[1] = rec, body
		c.bufs = c.iov[:]
		_, err = c.bufs.WriteTo(c.nc)
		c.iov[0], c.iov[1] = nil, nil
	}
	c.wmu.Unlock()
	if err != nil {
		// A partly written record leaves the stream unusable; closing
		// also wakes the reader.
		c.nc.Close()
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
