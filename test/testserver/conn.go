package testserver

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// ONC RPC constants (RFC 5531).
const (
	rpcCall     = 0
	rpcReply    = 1
	msgAccepted = 0
	authSys     = 1
)

// RPCError is a reply that was not SUCCESS: an accept_stat of an accepted
// reply, or a rejected call.
type RPCError struct {
	Rejected bool
	Stat     uint32 // accept_stat, or reject_stat when Rejected
}

func (e *RPCError) Error() string {
	if e.Rejected {
		return fmt.Sprintf("rpc: call rejected (reject_stat %d)", e.Stat)
	}
	return fmt.Sprintf("rpc: accept_stat %d", e.Stat)
}

// ErrTimeout is returned by a call whose reply did not come in time.
var ErrTimeout = errors.New("testserver: rpc call timed out")

// Conn is an ONC RPC client connection over TCP. It is safe for
// concurrent use; calls are pipelined and matched to replies by xid.
type Conn struct {
	nc   net.Conn
	cred []byte // encoded opaque_auth of every call

	// Timeout bounds each call; zero means 60 s.
	Timeout time.Duration

	wmu sync.Mutex // serializes whole records on the wire

	mu      sync.Mutex
	xid     uint32
	pending map[uint32]chan reply
	err     error // set once the connection is broken
}

type reply struct {
	body []byte
	rec  []byte // the record body points into; see recycle
	err  error
}

// Large records (READ replies) are recycled by the calls that copy out of
// them, so that streaming reads do not allocate and clear a megabyte per
// call; a benchmark should measure the server, not this client's garbage.
const poolMin = 64 << 10

var recPool sync.Pool // of *[]byte, each of capacity >= poolMin

func getRecord(n int) []byte {
	if n >= poolMin {
		if p, ok := recPool.Get().(*[]byte); ok {
			if cap(*p) >= n {
				return (*p)[:n]
			}
		}
	}
	return make([]byte, n)
}

func recycle(rec []byte) {
	if cap(rec) >= poolMin {
		recPool.Put(&rec)
	}
}

// Dial connects to an ONC RPC server and authenticates every call with
// AUTH_SYS as uid 0, gid 0.
func Dial(addr string) (*Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	c := &Conn{nc: nc, pending: map[uint32]chan reply{}, xid: uint32(time.Now().UnixNano())}
	c.SetAuthSys(0, 0)
	go c.readLoop()
	return c, nil
}

// SetAuthSys changes the AUTH_SYS identity of the calls made after it.
func (c *Conn) SetAuthSys(uid, gid uint32, gids ...uint32) {
	var body enc
	body.u32(uint32(time.Now().Unix()))
	body.str("testserver")
	body.u32(uid)
	body.u32(gid)
	body.u32(uint32(len(gids)))
	for _, g := range gids {
		body.u32(g)
	}
	var cred enc
	cred.u32(authSys)
	cred.opaque(body)
	c.wmu.Lock()
	c.cred = cred
	c.wmu.Unlock()
}

// Close closes the connection; calls in flight fail.
func (c *Conn) Close() error {
	err := c.nc.Close()
	c.fail(net.ErrClosed)
	return err
}

// Call sends one call whose arguments are the concatenation of args and
// returns the procedure's results (what follows accept_stat SUCCESS).
// Passing a large payload as its own slice avoids copying it.
func (c *Conn) Call(prog, vers, proc uint32, args ...[]byte) ([]byte, error) {
	r := c.call(prog, vers, proc, args)
	return r.body, r.err
}

// call is Call returning the whole reply, whose record the caller may
// recycle once done with the body.
func (c *Conn) call(prog, vers, proc uint32, args [][]byte) reply {
	ch := make(chan reply, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return reply{err: err}
	}
	c.xid++
	xid := c.xid
	c.pending[xid] = ch
	c.mu.Unlock()

	c.wmu.Lock()
	var h enc
	h.u32(0) // record mark, below
	h.u32(xid)
	h.u32(rpcCall)
	h.u32(2)
	h.u32(prog)
	h.u32(vers)
	h.u32(proc)
	h = append(h, c.cred...)
	h.u32(0) // verifier: AUTH_NONE
	h.u32(0)
	n := len(h) - 4
	for _, a := range args {
		n += len(a)
	}
	binary.BigEndian.PutUint32(h, uint32(n)|1<<31)
	bufs := make(net.Buffers, 0, 1+len(args))
	bufs = append(bufs, h)
	bufs = append(bufs, args...)
	_, err := bufs.WriteTo(c.nc)
	c.wmu.Unlock()
	if err != nil {
		c.nc.Close()
		c.fail(err)
	}

	timeout := c.Timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r
	case <-t.C:
		c.mu.Lock()
		delete(c.pending, xid)
		c.mu.Unlock()
		return reply{err: ErrTimeout}
	}
}

// fail breaks the connection: every call in flight and every later call
// returns err.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
	for xid, ch := range c.pending {
		ch <- reply{err: c.err}
		delete(c.pending, xid)
	}
}

func (c *Conn) readLoop() {
	r := bufio.NewReaderSize(c.nc, 256<<10)
	for {
		rec, err := readRecord(r)
		if err != nil {
			c.nc.Close()
			c.fail(fmt.Errorf("testserver: connection lost: %w", err))
			return
		}
		d := dec{b: rec}
		xid := d.u32()
		if d.u32() != rpcReply || d.err != nil {
			continue
		}
		var rep reply
		if d.u32() == msgAccepted {
			d.u32()              // verifier flavor
			d.skip(int(d.u32())) // verifier body (a multiple of 4 from a sane server)
			if st := d.u32(); st != 0 {
				rep.err = &RPCError{Stat: st}
			}
		} else {
			rep.err = &RPCError{Rejected: true, Stat: d.u32()}
		}
		if d.err != nil {
			rep.err = d.err
		}
		rep.body = d.b
		rep.rec = rec
		c.mu.Lock()
		ch := c.pending[xid]
		delete(c.pending, xid)
		c.mu.Unlock()
		if ch != nil {
			ch <- rep
		}
	}
}

// readRecord reads one record-marked record (RFC 5531 section 11),
// joining its fragments.
func readRecord(r io.Reader) ([]byte, error) {
	var rec []byte
	var mark [4]byte
	for {
		if _, err := io.ReadFull(r, mark[:]); err != nil {
			return nil, err
		}
		m := binary.BigEndian.Uint32(mark[:])
		n := int(m & 0x7fffffff)
		if len(rec)+n > 64<<20 {
			return nil, errors.New("record over 64 MiB")
		}
		if rec == nil && m&(1<<31) != 0 {
			rec = getRecord(n)
			_, err := io.ReadFull(r, rec)
			return rec, err
		}
		start := len(rec)
		rec = append(rec, make([]byte, n)...)
		if _, err := io.ReadFull(r, rec[start:]); err != nil {
			return nil, err
		}
		if m&(1<<31) != 0 {
			return rec, nil
		}
	}
}
