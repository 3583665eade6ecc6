package rpc

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// ErrClientClosed is returned by calls on a Client after Close.
var ErrClientClosed = errors.New("rpc: client closed")

var errBadReply = errors.New("rpc: malformed reply")

// ReplyError is a reply other than MSG_ACCEPTED/SUCCESS. errors.Is matches
// it against ErrProcUnavail, ErrGarbageArgs, ErrSystem and ErrAuthTooWeak
// for the corresponding replies.
type ReplyError struct {
	// Denied is true for MSG_DENIED, false for MSG_ACCEPTED.
	Denied bool
	// Stat is the accept_stat (ProgUnavail, ProgMismatch, ProcUnavail,
	// GarbageArgs, SystemErr) or, when Denied, the reject_stat
	// (RPCMismatch or AuthError).
	Stat uint32
	// Auth is the auth_stat of an AUTH_ERROR.
	Auth uint32
	// Low and High are the versions supported, for PROG_MISMATCH and
	// RPC_MISMATCH.
	Low, High uint32
}

func (e *ReplyError) Error() string {
	if e.Denied {
		switch e.Stat {
		case RPCMismatch:
			return fmt.Sprintf("rpc: RPC version mismatch (server supports %d-%d)", e.Low, e.High)
		case AuthError:
			return fmt.Sprintf("rpc: authentication error %d", e.Auth)
		}
		return fmt.Sprintf("rpc: call denied (reject_stat %d)", e.Stat)
	}
	switch e.Stat {
	case ProgUnavail:
		return "rpc: program unavailable"
	case ProgMismatch:
		return fmt.Sprintf("rpc: program version mismatch (server supports %d-%d)", e.Low, e.High)
	case ProcUnavail:
		return "rpc: procedure unavailable"
	case GarbageArgs:
		return "rpc: server could not decode arguments"
	case SystemErr:
		return "rpc: server system error"
	}
	return fmt.Sprintf("rpc: call failed (accept_stat %d)", e.Stat)
}

// Is makes errors.Is(err, ErrProcUnavail) and the like true for the reply
// a Handler returning that error produces.
func (e *ReplyError) Is(target error) bool {
	switch target {
	case ErrProcUnavail:
		return !e.Denied && e.Stat == ProcUnavail
	case ErrGarbageArgs:
		return !e.Denied && e.Stat == GarbageArgs
	case ErrSystem:
		return !e.Denied && e.Stat == SystemErr
	case ErrAuthTooWeak:
		return e.Denied && e.Stat == AuthError && e.Auth == AuthTooWeak
	}
	return false
}

// ClientOptions configure a Client. The zero value gives the defaults.
type ClientOptions struct {
	// Dialer connects to the server; nil means a zero net.Dialer. Set its
	// LocalAddr to call from a particular address or reserved port.
	Dialer *net.Dialer
	// Retransmit is how long a UDP call waits for its reply before it is
	// sent again; the wait doubles with each retransmission up to
	// MaxRetransmit. Zero means DefaultRetransmit.
	Retransmit time.Duration
	// MaxReplySize bounds one reply on TCP. Zero means
	// DefaultMaxRecordSize.
	MaxReplySize int
}

// Defaults for ClientOptions.
const (
	DefaultRetransmit = time.Second
	MaxRetransmit     = 16 * time.Second
)

// Client calls procedures on one server over one TCP connection or UDP
// socket. Calls may be made concurrently; on TCP they share the connection
// and replies are matched to calls by XID. A Client whose connection
// breaks fails its calls with the error and stays failed: dial a new one.
type Client struct {
	nc         net.Conn
	stream     bool
	retransmit time.Duration
	xid        atomic.Uint32

	wmu sync.Mutex // one record at a time on a stream

	mu      sync.Mutex
	pending map[uint32]chan reply
	err     error         // why the client stopped; set once
	done    chan struct{} // closed when err is set
}

type reply struct {
	msg []byte
	err error
}

// Dial connects to addr over network ("tcp", "tcp4", "tcp6", "udp",
// "udp4" or "udp6") with default options.
func Dial(ctx context.Context, network, addr string) (*Client, error) {
	return DialOptions(ctx, network, addr, ClientOptions{})
}

// DialOptions is Dial with options.
func DialOptions(ctx context.Context, network, addr string, opt ClientOptions) (*Client, error) {
	var stream bool
	switch network {
	case "tcp", "tcp4", "tcp6":
		stream = true
	case "udp", "udp4", "udp6":
	default:
		return nil, fmt.Errorf("rpc: unsupported network %q", network)
	}
	d := opt.Dialer
	if d == nil {
		d = new(net.Dialer)
	}
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return newClient(nc, stream, opt), nil
}

func newClient(nc net.Conn, stream bool, opt ClientOptions) *Client {
	c := &Client{
		nc:         nc,
		stream:     stream,
		retransmit: opt.Retransmit,
		pending:    make(map[uint32]chan reply),
		done:       make(chan struct{}),
	}
	if c.retransmit <= 0 {
		c.retransmit = DefaultRetransmit
	}
	c.xid.Store(rand.Uint32())
	if stream {
		limit := opt.MaxReplySize
		if limit <= 0 {
			limit = DefaultMaxRecordSize
		}
		go c.readStream(limit)
	} else {
		go c.readDatagrams()
	}
	return c
}

// Close closes the connection; calls in progress fail with
// ErrClientClosed.
func (c *Client) Close() error {
	c.fail(ErrClientClosed)
	return c.nc.Close()
}

// RemoteAddr is the server's address.
func (c *Client) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr is the client's own address.
func (c *Client) LocalAddr() net.Addr { return c.nc.LocalAddr() }

func (c *Client) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		close(c.done)
	}
}

// Call calls procedure proc of program prog, version vers, with cred (the
// zero Cred is AUTH_NONE). args, if not nil, writes the arguments; res, if
// not nil, reads the results of a successful reply. Call returns a
// *ReplyError for any reply but SUCCESS, res's error, a decode error, or
// the error that ended ctx or the connection. On UDP the call is sent
// again, with the same XID, until a reply arrives or ctx ends.
func (c *Client) Call(ctx context.Context, prog, vers, proc uint32, cred Cred, args func(*xdr.Writer), res func(*xdr.Reader) error) error {
	xid := c.xid.Add(1)
	w := xdr.NewWriter(make([]byte, 0, 512))
	if c.stream {
		w.Reserve(4)
	}
	appendCallHeader(w, xid, prog, vers, proc, &cred)
	if args != nil {
		args(w)
	}
	msg := w.Bytes()
	if c.stream {
		if len(msg)-4 > maxFragmentLen {
			return fmt.Errorf("rpc: call of %d bytes too large", len(msg)-4)
		}
		putRecordMark(msg, len(msg)-4)
	} else if len(msg) > maxDatagram {
		return fmt.Errorf("rpc: call of %d bytes too large for a datagram", len(msg))
	}

	ch := make(chan reply, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return c.err
	}
	c.pending[xid] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, xid)
		c.mu.Unlock()
	}()

	if err := c.send(ctx, msg); err != nil {
		return err
	}
	var resend <-chan time.Time
	wait := c.retransmit
	if !c.stream {
		t := time.NewTimer(wait)
		defer t.Stop()
		resend = t.C
		for {
			select {
			case rep := <-ch:
				return decodeResult(rep, res)
			case <-ctx.Done():
				return ctx.Err()
			case <-c.done:
				return c.stopped()
			case <-resend:
				if err := c.send(ctx, msg); err != nil {
					return err
				}
				wait = min(2*wait, MaxRetransmit)
				t.Reset(wait)
			}
		}
	}
	select {
	case rep := <-ch:
		return decodeResult(rep, res)
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.stopped()
	}
}

func (c *Client) stopped() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *Client) send(ctx context.Context, msg []byte) error {
	if !c.stream {
		_, err := c.nc.Write(msg)
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	dl, _ := ctx.Deadline()
	c.nc.SetWriteDeadline(dl)
	if _, err := c.nc.Write(msg); err != nil {
		// Part of a record may have gone out; the stream is unusable.
		c.fail(err)
		c.nc.Close()
		return err
	}
	return nil
}

func decodeResult(rep reply, res func(*xdr.Reader) error) error {
	if rep.err != nil {
		return rep.err
	}
	r := xdr.NewReader(rep.msg[8:]) // xid and message type were matched
	if err := decodeReply(r); err != nil {
		return err
	}
	if res == nil {
		return nil
	}
	if err := res(r); err != nil {
		return err
	}
	return r.Err()
}

// deliver hands a reply to the call waiting for it. Replies nobody waits
// for (late duplicates on UDP) are dropped.
func (c *Client) deliver(msg []byte) {
	if len(msg) < 8 || binary.BigEndian.Uint32(msg[4:]) != MsgReply {
		return
	}
	xid := binary.BigEndian.Uint32(msg)
	c.mu.Lock()
	ch := c.pending[xid]
	c.mu.Unlock()
	if ch != nil {
		select {
		case ch <- reply{msg: msg}:
		default:
		}
	}
}

func (c *Client) readStream(maxSize int) {
	rr := recordReader{r: bufio.NewReaderSize(c.nc, readBufSize), maxSize: maxSize, maxFrags: DefaultMaxFragments}
	for {
		msg, err := rr.read(nil)
		if err != nil {
			c.fail(err)
			c.nc.Close()
			return
		}
		c.deliver(msg)
	}
}

func (c *Client) readDatagrams() {
	buf := make([]byte, maxDatagram+1)
	for {
		n, err := c.nc.Read(buf)
		if err != nil {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				c.fail(err)
				c.nc.Close()
				return
			}
			// An ICMP error (nothing listens on the port) is reported on
			// the next read of a connected socket: fail the calls waiting
			// now rather than let them retransmit into the void.
			c.mu.Lock()
			for _, ch := range c.pending {
				select {
				case ch <- reply{err: err}:
				default:
				}
			}
			c.mu.Unlock()
			continue
		}
		c.deliver(append([]byte(nil), buf[:n]...))
	}
}
