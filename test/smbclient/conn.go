package smbclient

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Dialect is an SMB2 dialect revision.
type Dialect uint16

// The dialects this client speaks.
const (
	Dialect202 Dialect = 0x0202
	Dialect210 Dialect = 0x0210
	Dialect300 Dialect = 0x0300
	Dialect302 Dialect = 0x0302
	Dialect311 Dialect = 0x0311
)

func (d Dialect) String() string {
	return fmt.Sprintf("%d.%d.%d", d>>8, d>>4&0xf, d&0xf)
}

// command is an SMB2 command code (MS-SMB2 2.2.1).
type command uint16

const (
	cmdNegotiate      command = 0x00
	cmdSessionSetup   command = 0x01
	cmdLogoff         command = 0x02
	cmdTreeConnect    command = 0x03
	cmdTreeDisconnect command = 0x04
	cmdCreate         command = 0x05
	cmdClose          command = 0x06
	cmdFlush          command = 0x07
	cmdRead           command = 0x08
	cmdWrite          command = 0x09
	cmdLock           command = 0x0a
	cmdChangeNotify   command = 0x0f
	cmdOplockBreak    command = 0x12
)

// Header flags.
const (
	flagResponse = 0x00000001
	flagAsync    = 0x00000002
	flagSigned   = 0x00000008
	flagReplay   = 0x20000000
)

const headerSize = 64

// unsolicited is the MessageId of a break notification.
const unsolicited = ^uint64(0)

// ErrTimeout is returned by a call whose response did not come within
// Conn.Timeout.
var ErrTimeout = errors.New("smbclient: no response in time")

// Options are the choices of Dial.
type Options struct {
	// ClientGUID identifies the client across connections (NEGOTIATE);
	// a test that reconnects "as the same client" dials again with the
	// same one. Zero means a random one.
	ClientGUID [16]byte
	// Dialects are offered in NEGOTIATE; nil offers 3.1.1 alone.
	Dialects []Dialect
	// Sign signs every request after SESSION_SETUP even if the server
	// does not require it; requests are signed anyway when it does.
	Sign bool
	// Timeout bounds each call; zero means 30 s.
	Timeout time.Duration
}

// Conn is one TCP connection to an SMB2 server with at most one session.
// It is safe for concurrent use: requests are numbered and matched to
// their responses by MessageId, within the credits the server granted.
type Conn struct {
	nc  net.Conn
	opt Options

	// Timeout bounds each call (Options.Timeout, or 30 s).
	Timeout time.Duration

	wmu sync.Mutex // orders whole frames on the wire

	mu      sync.Mutex
	credits uint64 // MessageIds the server lets us use
	next    uint64 // next MessageId
	wake    chan struct{}
	pending map[uint64]chan *message
	err     error // set once the connection is broken

	// Fixed by NEGOTIATE.
	dialect       Dialect
	serverSecMode uint16
	serverGUID    [16]byte
	maxRead       uint32
	maxWrite      uint32
	preauth       [64]byte // 3.1.1 preauth integrity hash of the connection

	// Set by SESSION_SETUP.
	sessionID uint64
	signer    signer // of the session; nil without a key
	sign      bool   // requests are signed

	breaks *breakQueue
}

// message is one SMB2 message received.
type message struct {
	raw       []byte // header and body
	body      []byte
	status    Status
	command   command
	credits   uint16
	flags     uint32
	messageID uint64
	asyncID   uint64
	treeID    uint32
	sessionID uint64
}

func parseMessage(b []byte) (*message, error) {
	if len(b) < headerSize || string(b[:4]) != "\xfeSMB" {
		return nil, fmt.Errorf("smbclient: not an SMB2 message: %x", b[:min(len(b), 8)])
	}
	m := &message{
		raw:       b,
		body:      b[headerSize:],
		status:    Status(binary.LittleEndian.Uint32(b[8:])),
		command:   command(binary.LittleEndian.Uint16(b[12:])),
		credits:   binary.LittleEndian.Uint16(b[14:]),
		flags:     binary.LittleEndian.Uint32(b[16:]),
		messageID: binary.LittleEndian.Uint64(b[24:]),
		sessionID: binary.LittleEndian.Uint64(b[40:]),
	}
	if m.flags&flagAsync != 0 {
		m.asyncID = binary.LittleEndian.Uint64(b[32:])
	} else {
		m.treeID = binary.LittleEndian.Uint32(b[36:])
	}
	return m, nil
}

// Dial connects to addr and negotiates a dialect. A NEGOTIATE that does
// not succeed is a *StatusError.
func Dial(addr string, opt Options) (*Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	if opt.ClientGUID == ([16]byte{}) {
		rand.Read(opt.ClientGUID[:])
	}
	if opt.Dialects == nil {
		opt.Dialects = []Dialect{Dialect311}
	}
	c := &Conn{
		nc: nc, opt: opt, Timeout: opt.Timeout,
		credits: 1, wake: make(chan struct{}),
		pending: map[uint64]chan *message{},
		breaks:  newBreakQueue(),
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	go c.readLoop()
	if err := c.negotiate(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the TCP connection at once, without LOGOFF or CLOSE: to
// the server it is a network failure. Calls in flight fail.
func (c *Conn) Close() error {
	err := c.nc.Close()
	c.fail(net.ErrClosed)
	c.breaks.close()
	return err
}

// Dialect is the negotiated dialect.
func (c *Conn) Dialect() Dialect { return c.dialect }

// ClientGUID is the ClientGuid this connection negotiated with.
func (c *Conn) ClientGUID() [16]byte { return c.opt.ClientGUID }

// ServerGUID is the ServerGuid of the NEGOTIATE response.
func (c *Conn) ServerGUID() [16]byte { return c.serverGUID }

// SessionID is the session's id, 0 before SESSION_SETUP.
func (c *Conn) SessionID() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessionID
}

// Signing reports whether requests are signed.
func (c *Conn) Signing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sign
}

// request is what call needs to build a request header.
type request struct {
	cmd    command
	body   []byte
	treeID uint32
	charge uint16 // CreditCharge; 0 means 1
	flags  uint32 // extra header flags (replay)
}

// creditsWanted is what each request asks for: enough for a few calls in
// flight and large reads.
const creditsWanted = 64

// call sends one request and returns its final response, after interim
// STATUS_PENDING ones. A signed response of the session is verified.
func (c *Conn) call(r request) (*message, error) {
	_, resp, err := c.exchange(r)
	return resp, err
}

// exchange is call returning the request message as sent too (3.1.1
// hashes NEGOTIATE and SESSION_SETUP messages).
func (c *Conn) exchange(r request) ([]byte, *message, error) {
	charge := uint64(max(r.charge, 1))
	ch := make(chan *message, 1)
	id, err := c.reserve(charge, ch)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	sessionID, sg, sign := c.sessionID, c.signer, c.sign
	dialect := c.dialect
	c.mu.Unlock()
	switch {
	case r.cmd == cmdNegotiate || r.cmd == cmdSessionSetup && sg == nil:
		sign = false
	case r.cmd == cmdTreeConnect && dialect == Dialect311 && sg != nil:
		sign = true // 3.1.1 clients sign TREE_CONNECT always (MS-SMB2 3.2.4.1.1)
	}

	m := make([]byte, headerSize, headerSize+len(r.body))
	copy(m, "\xfeSMB")
	binary.LittleEndian.PutUint16(m[4:], headerSize)
	if dialect >= Dialect210 {
		binary.LittleEndian.PutUint16(m[6:], uint16(charge))
	}
	binary.LittleEndian.PutUint16(m[12:], uint16(r.cmd))
	binary.LittleEndian.PutUint16(m[14:], creditsWanted)
	flags := r.flags
	if sign {
		flags |= flagSigned
	}
	binary.LittleEndian.PutUint32(m[16:], flags)
	binary.LittleEndian.PutUint64(m[24:], id)
	binary.LittleEndian.PutUint32(m[32:], 0xfeff) // ProcessId
	binary.LittleEndian.PutUint32(m[36:], r.treeID)
	binary.LittleEndian.PutUint64(m[40:], sessionID)
	m = append(m, r.body...)
	if sign {
		signMessage(sg, m)
	}
	if err := c.send(m); err != nil {
		c.drop(id)
		return nil, nil, err
	}

	t := time.NewTimer(c.Timeout)
	defer t.Stop()
	select {
	case resp := <-ch:
		if resp == nil {
			return nil, nil, c.brokenErr()
		}
		if resp.flags&flagSigned != 0 && sg != nil && resp.sessionID == sessionID && !verifySignature(sg, resp.raw) {
			return nil, nil, fmt.Errorf("smbclient: response to message %d (command %d) has a bad signature", id, r.cmd)
		}
		return m, resp, nil
	case <-t.C:
		c.drop(id)
		return nil, nil, ErrTimeout
	}
}

// reserve waits for credits and takes the next charge MessageIds for a
// request whose response goes to ch.
func (c *Conn) reserve(charge uint64, ch chan *message) (uint64, error) {
	deadline := time.After(c.Timeout)
	c.mu.Lock()
	for c.err == nil && c.credits < charge {
		wake := c.wake
		c.mu.Unlock()
		select {
		case <-wake:
		case <-deadline:
			return 0, fmt.Errorf("smbclient: no credits for a request: %w", ErrTimeout)
		}
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	id := c.next
	c.next += charge
	c.credits -= charge
	c.pending[id] = ch
	return id, nil
}

func (c *Conn) drop(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

func (c *Conn) brokenErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// send writes one message as a direct TCP frame.
func (c *Conn) send(m []byte) error {
	frame := make([]byte, 4, 4+len(m))
	binary.BigEndian.PutUint32(frame, uint32(len(m))) // a zero byte, then 24 bits of length
	c.wmu.Lock()
	_, err := c.nc.Write(append(frame, m...))
	c.wmu.Unlock()
	if err != nil {
		c.nc.Close()
		c.fail(err)
	}
	return err
}

// fail breaks the connection: every call in flight and every later call
// fails with err.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
		close(c.wake)
	}
	for id, ch := range c.pending {
		ch <- nil
		delete(c.pending, id)
	}
}

func (c *Conn) readLoop() {
	r := bufio.NewReaderSize(c.nc, 128<<10)
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			c.lost(err)
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[:]) & 0xffffff)
		frame := make([]byte, n)
		if _, err := io.ReadFull(r, frame); err != nil {
			c.lost(err)
			return
		}
		if hdr[0] != 0 {
			c.lost(fmt.Errorf("frame type %#x", hdr[0]))
			return
		}
		for len(frame) > 0 {
			m, err := parseMessage(frame)
			if err != nil {
				c.lost(err)
				return
			}
			if next := binary.LittleEndian.Uint32(frame[20:]); next != 0 && int(next) <= len(frame) {
				m.raw, m.body = frame[:next], frame[headerSize:next]
				frame = frame[next:]
			} else {
				frame = nil
			}
			c.dispatch(m)
		}
	}
}

// lost ends the connection after a read error.
func (c *Conn) lost(err error) {
	c.nc.Close()
	c.fail(fmt.Errorf("smbclient: connection lost: %w", err))
	c.breaks.close()
}

// dispatch hands a received message to its waiting call, or to the break
// queue.
func (c *Conn) dispatch(m *message) {
	if m.messageID == unsolicited && m.command == cmdOplockBreak {
		if b, ok := parseBreak(m); ok {
			c.breaks.put(b)
		}
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return
	}
	if m.credits > 0 {
		c.credits += uint64(m.credits)
		close(c.wake)
		c.wake = make(chan struct{})
	}
	if m.flags&flagAsync != 0 && m.status == StatusPending {
		return // interim: the final response follows
	}
	if ch := c.pending[m.messageID]; ch != nil {
		delete(c.pending, m.messageID)
		ch <- m
	}
}
