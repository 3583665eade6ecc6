package smb

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// maxFrame bounds one direct-TCP frame: the largest READ or WRITE (8 MiB)
// with its headers, a compound around it and a transform header.
const maxFrame = 8<<20 + 64<<10

// Sizes the server offers in NEGOTIATE.
const (
	maxIOLarge = 8 << 20 // with multi-credit (2.1 and later with LARGE_MTU)
	maxIOSmall = 64 << 10
)

// Conn is one client connection: the negotiated dialect and capabilities,
// its sessions and its credit window.
type Conn struct {
	srv    *Server
	nc     net.Conn
	br     *bufio.Reader
	remote netip.Addr
	ctx    context.Context
	stop   context.CancelFunc

	wmu     sync.Mutex // one frame at a time on the wire; guards what follows
	wprefix [4]byte
	wbufs   net.Buffers

	// Set by NEGOTIATE, which runs before any other request is read, and
	// only read afterwards.
	dialect        uint16 // 0 until negotiated; dialectWildcard after an SMB1 upgrade
	clientGUID     [16]byte
	clientCaps     uint32
	clientSecMode  uint16
	clientDialects []uint16
	serverCaps     uint32
	serverSecMode  uint16
	multiCredit    bool
	cipher         uint16 // 0: no encryption
	signAlgo       uint16
	preauth        [64]byte // connection preauth integrity hash (3.1.1)
	maxTransact    uint32
	maxRead        uint32
	maxWrite       uint32

	mu        sync.Mutex // guards what follows
	credits   creditWindow
	sessions  map[uint64]*Session
	pending   map[uint64]*Pending // by AsyncId
	nextAsync uint64
	early     earlyCancels // CANCELs that came before their request went async
	closed    bool
	handshake *time.Timer // closes it if no session comes (armHandshake)

	jobs        chan job // to a worker waiting for a frame (goServe)
	idleWorkers atomic.Int32
	spareFrames chan []byte // buffers for large frames (recycleFrame)

	ops   connOps   // the file operations' state of this connection
	order fileOrder // keeps a CLOSE behind the requests before it (order.go)
}

func newConn(s *Server, nc net.Conn) *Conn {
	c := &Conn{
		srv:         s,
		nc:          nc,
		br:          bufio.NewReaderSize(nc, 64<<10),
		credits:     newCreditWindow(s.opt.MaxCredits),
		sessions:    map[uint64]*Session{},
		pending:     map[uint64]*Pending{},
		jobs:        make(chan job),
		spareFrames: make(chan []byte, spareFrames),
	}
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		c.remote = ap.Addr().Unmap()
	}
	c.ctx, c.stop = context.WithCancel(context.Background())
	return c
}

// Dialect is the negotiated dialect (0 before NEGOTIATE).
func (c *Conn) Dialect() uint16 { return c.dialect }

// MaxRead, MaxWrite and MaxTransact are the sizes announced in NEGOTIATE.
func (c *Conn) MaxRead() uint32     { return c.maxRead }
func (c *Conn) MaxWrite() uint32    { return c.maxWrite }
func (c *Conn) MaxTransact() uint32 { return c.maxTransact }

// RemoteAddr is the client's address.
func (c *Conn) RemoteAddr() netip.Addr { return c.remote }

// Close ends the connection; handlers call it on protocol violations that
// the specification answers by disconnecting.
func (c *Conn) Close() { c.nc.Close() }

// serve reads and serves frames until the connection fails.
func (c *Conn) serve() {
	defer c.teardown()
	for {
		frame, err := c.readFrame()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.srv.log.Debug("smb: connection ends", "remote", c.remote, "err", err)
			}
			return
		}
		if !c.handleFrame(frame) {
			return
		}
	}
}

var errFrame = errors.New("smb: bad frame")

// readFrame reads one direct-TCP frame: a zero byte, a 24-bit big-endian
// length, the message(s). The buffer has room for a 16-byte tag after the
// frame, which decryption uses.
func (c *Conn) readFrame() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return nil, err
	}
	n := int(hdr[1])<<16 | int(hdr[2])<<8 | int(hdr[3])
	if hdr[0] != 0 || n < 4 || n > maxFrame {
		return nil, errFrame
	}
	var buf []byte
	if n+16 >= minSpareFrame {
		select {
		case b := <-c.spareFrames:
			if cap(b) >= n+16 {
				buf = b[:n]
			}
		default:
		}
	}
	if buf == nil {
		buf = make([]byte, n, n+16)
	}
	if _, err := io.ReadFull(c.br, buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// handleFrame serves one frame; false ends the connection.
func (c *Conn) handleFrame(frame []byte) bool {
	if [4]byte(frame[:4]) == protoSMB1 {
		if c.dialect != 0 {
			return false
		}
		return c.negotiateSMB1(frame)
	}
	var arr [8][]byte
	msgs, enc, ok := c.accept(frame, arr[:0])
	if !ok {
		return false
	}
	// The exchanges that set up the connection and sessions are served in
	// order, as is CANCEL (it must reach what it cancels), CHANGE_NOTIFY
	// (a CLOSE sent after it must find it waiting) and a rename (the
	// breaks it sends precede the answers to the requests after it, as a
	// client that acknowledges them takes them in order; it goes async
	// rather than block while it waits, rename.go). Everything else runs
	// concurrently, bounded by the credits the client holds.
	first := Command(binary.LittleEndian.Uint16(msgs[0][12:]))
	if c.dialect == 0 || c.dialect == dialectWildcard || first == CmdNegotiate || first == CmdSessionSetup || first == CmdCancel ||
		first == CmdChangeNotify || isRename(msgs[0]) {
		c.recycleFrame(frame, msgs, c.serveChain(msgs, enc))
		return !c.isClosed()
	}
	// A short request that cannot wait for anything the client sends is
	// served by the reader itself when no other request has come behind
	// it: a client with one request in flight would only make the reader
	// hand it to another goroutine and then wait for the next.
	if len(msgs) == 1 && c.br.Buffered() == 0 && servedInline(msgs[0]) {
		c.serveChain(msgs, enc)
		return !c.isClosed()
	}
	msgs = append([][]byte(nil), msgs...)
	c.goServe(job{frame: frame, msgs: msgs, enc: enc, order: c.order.enter(msgs)})
	return true
}

// accept decrypts an SMB2 frame if it is transformed, splits it into its
// messages and charges their credits. ok is false for a frame that ends
// the connection.
func (c *Conn) accept(frame []byte, dst [][]byte) (msgs [][]byte, enc *Session, ok bool) {
	switch [4]byte(frame[:4]) {
	case protoTransform:
		var err error
		frame, enc, err = c.decrypt(frame)
		if err != nil {
			return nil, nil, false
		}
	case protoSMB2:
	default:
		return nil, nil, false
	}
	msgs, ok = splitCompound(frame, dst)
	if !ok {
		return nil, nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		cmd := Command(binary.LittleEndian.Uint16(m[12:]))
		if cmd == CmdCancel {
			continue
		}
		charge := binary.LittleEndian.Uint16(m[6:])
		if !c.multiCredit {
			charge = 1
		}
		if !c.credits.consume(binary.LittleEndian.Uint64(m[24:]), charge) {
			c.srv.log.Debug("smb: request outside the credit window", "remote", c.remote)
			return nil, nil, false
		}
	}
	return msgs, enc, true
}

func (c *Conn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// splitCompound cuts a frame into its messages by NextCommand, which must
// be 8-byte aligned and stay inside the frame; each message must start
// with a valid header.
func splitCompound(b []byte, dst [][]byte) ([][]byte, bool) {
	for {
		if len(b) < HeaderSize || [4]byte(b[0:4]) != protoSMB2 || binary.LittleEndian.Uint16(b[4:]) != HeaderSize {
			return nil, false
		}
		next := binary.LittleEndian.Uint32(b[20:])
		if next == 0 {
			return append(dst, b), true
		}
		if next%8 != 0 || next < HeaderSize || uint64(next) >= uint64(len(b)) {
			return nil, false
		}
		dst = append(dst, b[:next])
		b = b[next:]
	}
}

// serveChain serves the messages of one frame in order and sends their
// responses as one compound frame. async reports that a request went
// asynchronous.
func (c *Conn) serveChain(msgs [][]byte, enc *Session) (async bool) {
	return c.serveFrom(&chain{}, msgs, 0, make([]*Response, 0, len(msgs)), nil, enc)
}

// serveFrom serves msgs[from:] and sends their responses after resps,
// which the session out encrypts if set. A CREATE that goes asynchronous
// before the last request holds up the rest (waitCreate). It reports
// whether a request went asynchronous.
func (c *Conn) serveFrom(ch *chain, msgs [][]byte, from int, resps []*Response, out, enc *Session) bool {
	var async []*Pending
	for i := from; i < len(msgs); i++ {
		m := msgs[i]
		h, err := decodeHeader(m)
		if err != nil {
			break
		}
		if h.Command == CmdCancel {
			c.cancelRequest(h)
			continue
		}
		w, encWith, p := c.serveOne(ch, i, h, m, enc)
		if p != nil {
			async = append(async, p)
		}
		if w == nil {
			continue
		}
		resps = append(resps, w)
		if out == nil {
			out = encWith
		}
		if p != nil && h.Command == CmdCreate && i < len(msgs)-1 {
			c.waitCreate(p, ch, msgs, i+1, enc)
			break
		}
	}
	if err := c.send(resps, out); err != nil {
		c.nc.Close()
	}
	// Final responses wait for their interim ones.
	for _, p := range async {
		close(p.ready)
	}
	return len(async) > 0
}

// serveOne serves one request of a chain. It returns the response (nil if
// none is sent), the session whose key must encrypt it, if any, and the
// Pending if the request went asynchronous.
func (c *Conn) serveOne(ch *chain, i int, h Header, m []byte, enc *Session) (*Response, *Session, *Pending) {
	t0 := time.Now()
	w := newResponse()
	r := &Request{Header: h, Msg: m, Body: m[HeaderSize:], Conn: c, encrypted: enc, chain: ch}
	related := h.Flags&FlagRelated != 0
	switch {
	case related && (i == 0 || ch.lacks(h.Command)):
		// MS-SMB2 3.3.5.2.7.2: a related request takes its session and
		// tree from the one before it; if that one had none (or there is
		// none), this request and the related ones after it fail.
		w.Error(StatusInvalidParameter)
	default:
		if related {
			r.Header.SessionID, r.Header.TreeID = ch.sessionID, ch.treeID
		} else {
			*ch = chain{}
		}
		if st := c.admit(r); st != StatusSuccess {
			w.Error(st)
			w.signer = r.errSigner
		} else {
			c.dispatch(w, r)
		}
	}
	ch.sessionID, ch.treeID = r.Header.SessionID, r.Header.TreeID
	ch.refused(r)
	if w.sessionID != 0 {
		ch.sessionID = w.sessionID
	}
	if w.treeID != 0 {
		ch.treeID = w.treeID
	}
	if h.Command == CmdCreate && w.Status.IsError() && r.pending == nil {
		ch.status = w.Status
	}
	c.observeRequest(&h, w, r, t0)
	w, encWith := c.finish(w, r)
	return w, encWith, r.pending
}

// admit finds the request's session and tree and checks its signature and
// encryption, returning the status that refuses it, or success.
func (c *Conn) admit(r *Request) Status {
	h := &r.Header
	if h.Command >= numCommands {
		return StatusInvalidParameter
	}
	if c.dialect == 0 || c.dialect == dialectWildcard {
		if h.Command != CmdNegotiate {
			c.Close() // nothing but NEGOTIATE before NEGOTIATE
			return StatusInvalidParameter
		}
		return StatusSuccess
	}
	need := commandNeeds[h.Command]
	if h.Command == CmdNegotiate {
		return StatusSuccess
	}
	var s *Session
	if h.SessionID != 0 {
		s = c.session(h.SessionID)
		if s == nil && h.Command == CmdSessionSetup {
			// A binding names a session of another connection; any other
			// SESSION_SETUP naming one fails, signed if it can be (bind.go).
			if g := c.srv.session(h.SessionID); g != nil {
				return g.admitForeign(r)
			}
		}
		if s == nil {
			return StatusUserSessionDeleted
		}
		valid := s.valid()
		if !valid && h.Command != CmdSessionSetup {
			return StatusUserSessionDeleted
		}
		if valid {
			if st := s.checkIntegrity(r); st != StatusSuccess {
				return st
			}
		}
		r.Session = s
	} else if need&needSession != 0 {
		return StatusUserSessionDeleted
	}
	if need&needTree != 0 {
		t := s.tree(h.TreeID)
		if t == nil {
			return StatusNetworkNameDeleted
		}
		if t.encrypt && r.encrypted == nil {
			return StatusAccessDenied
		}
		r.Tree = t
	}
	return StatusSuccess
}

// dispatch runs the request's handler. A panicking handler is a bug: it
// is logged and the request fails, and the connection lives on.
func (c *Conn) dispatch(w *Response, r *Request) {
	defer func() {
		if v := recover(); v != nil {
			c.srv.log.Error("smb: handler panic", "command", r.Header.Command, "panic", v, "stack", string(debug.Stack()))
			w.Error(StatusInternalError)
		}
	}()
	cmd := r.Header.Command
	if cmd == CmdIoctl && len(r.Body) >= 8 && binary.LittleEndian.Uint32(r.Body[4:]) == fsctlValidateNegotiateInfo {
		c.validateNegotiate(w, r)
		return
	}
	if r.Tree != nil && r.Tree.ipc {
		if h := pipeHandlers[cmd]; h != nil {
			h(w, r)
		} else {
			w.Error(StatusNotSupported)
		}
		return
	}
	h := handlers[cmd]
	if h == nil {
		w.Error(StatusNotSupported)
		return
	}
	h(w, r)
	if c.srv.log.Enabled(r.Context(), slog.LevelDebug) && w.Status != StatusSuccess {
		c.srv.log.Debug("smb: request refused", "remote", c.remote, "command", cmd, "status", w.Status)
	}
}

// finish fills the response header: status, credits, flags and which key
// signs or encrypts it. It returns nil if the connection was closed.
func (c *Conn) finish(w *Response, r *Request) (*Response, *Session) {
	h := &r.Header
	if r.pending != nil {
		w.Status = StatusPending
		w.Truncate(0)
	}
	if w.Len() == 0 {
		w.errorBody()
	}
	rh := Header{
		CreditCharge: h.CreditCharge,
		Status:       w.Status,
		Command:      h.Command,
		Flags:        FlagResponse | h.Flags&(FlagRelated|FlagPriority),
		MessageID:    h.MessageID,
		ProcessID:    h.ProcessID,
		TreeID:       h.TreeID,
		SessionID:    h.SessionID,
	}
	if w.treeID != 0 {
		rh.TreeID = w.treeID
	}
	if w.sessionID != 0 {
		rh.SessionID = w.sessionID
	}
	if r.pending != nil {
		rh.Flags |= FlagAsync
		rh.AsyncID = r.pending.id
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, nil
	}
	rh.Credits = c.credits.grant(h.Credits)
	c.mu.Unlock()

	enc := r.outputKey()
	if r.pending != nil {
		r.pending.encrypt = enc
	}
	switch {
	case enc != nil:
	case w.signer != nil:
		rh.Flags |= FlagSigned
	case r.Session != nil && r.Session.signer != nil && (h.Flags&FlagSigned != 0 || r.Session.signingRequired):
		w.signer = r.Session.signerFor(c)
		rh.Flags |= FlagSigned
	case h.Flags&FlagSigned != 0:
		// A signed request refused before its session was known (or
		// whose signature failed) is answered with the flag and its own
		// signature, as Windows does: the client takes the status
		// without a key to check it with.
		rh.Flags |= FlagSigned
		rh.Signature = h.Signature
	}
	rh.encode(w.buf)
	return w, enc
}

// outputKey is the session whose key must encrypt the response: the one
// that decrypted the request, or the request's session or tree if they
// require encryption. SESSION_SETUP responses are never encrypted.
func (r *Request) outputKey() *Session {
	switch {
	case r.Header.Command == CmdSessionSetup || r.Header.Command == CmdNegotiate:
		return nil
	case r.encrypted != nil:
		return r.encrypted
	case r.Session != nil && r.Session.encrypter != nil && (r.Session.encryptData || r.Tree != nil && r.Tree.encrypt):
		return r.Session
	}
	return nil
}

var zeroPad [8]byte

// send writes the responses of one chain as one frame, padding each to 8
// bytes when there are several (the last too, as MS-SMB2 3.3.4.1.3 says it
// should be), signing each, or encrypting the whole. The responses are
// done with afterwards: their pooled buffers go back.
func (c *Conn) send(resps []*Response, enc *Session) error {
	if len(resps) == 0 {
		return nil
	}
	defer func() {
		for _, w := range resps {
			w.recycle()
		}
	}()
	total := 0
	for i, w := range resps {
		if len(resps) > 1 {
			w.buf = append(w.buf, zeroPad[:(8-len(w.buf)%8)%8]...)
		}
		if i < len(resps)-1 {
			binary.LittleEndian.PutUint32(w.buf[20:], uint32(len(w.buf)))
		}
		if w.signer != nil && enc == nil {
			signMessage(w.signer, w.buf)
		}
		if w.sent != nil {
			w.sent(w.buf)
		}
		total += len(w.buf)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.armWrite()
	if enc != nil {
		return c.writeEncrypted(resps, total, enc)
	}
	putFrameLen(c.wprefix[:], total)
	c.wbufs = append(c.wbufs[:0], c.wprefix[:])
	for _, w := range resps {
		c.wbufs = append(c.wbufs, w.buf)
	}
	bufs := c.wbufs // WriteTo consumes the slice it is called on
	_, err := bufs.WriteTo(c.nc)
	clear(c.wbufs)
	return err
}

func putFrameLen(b []byte, n int) {
	b[0], b[1], b[2], b[3] = 0, byte(n>>16), byte(n>>8), byte(n)
}

// writeEncrypted sends the messages in one transform under s's key.
func (c *Conn) writeEncrypted(resps []*Response, total int, s *Session) error {
	const off = 4 + transformSize
	var frame []byte
	if class := poolClass(off + total + 16); class >= 0 {
		// A large READ's encrypted copy: its buffer goes back once written.
		frame = getPooled(class)
		defer func() {
			b := frame[:0]
			bodyPools[class].Put(&b)
		}()
	} else {
		frame = make([]byte, 0, off+total+16)
	}
	frame = frame[:off]
	for _, w := range resps {
		frame = append(frame, w.buf...)
	}
	t := transform{OriginalSize: uint32(total), Flags: 1, SessionID: s.id}
	ns := s.encrypter.NonceSize()
	s.nonce(t.Nonce[:ns])
	t.encode(frame[4:off])
	sealed := s.encrypter.Seal(frame[off:off], t.Nonce[:ns], frame[off:off+total], frame[4+20:off])
	copy(frame[4+4:4+20], sealed[total:])
	putFrameLen(frame, transformSize+total)
	_, err := c.nc.Write(frame[:off+total])
	return err
}

var errDecrypt = errors.New("smb: cannot decrypt")

// decrypt opens a transformed frame with its session's key and returns
// the plaintext messages and the session.
func (c *Conn) decrypt(frame []byte) ([]byte, *Session, error) {
	t, err := decodeTransform(frame)
	if err != nil || c.dialect < Dialect300 || t.Flags != 1 {
		return nil, nil, errDecrypt
	}
	s := c.session(t.SessionID)
	if s == nil || s.decrypter == nil {
		return nil, nil, errDecrypt
	}
	ct := frame[transformSize:]
	if int(t.OriginalSize) != len(ct) || len(ct) < HeaderSize {
		return nil, nil, errDecrypt
	}
	ct = append(ct, t.Signature[:]...) // readFrame left room for the tag
	ns := s.decrypter.NonceSize()
	pt, err := s.decrypter.Open(ct[:0], t.Nonce[:ns], ct, frame[20:transformSize])
	if err != nil {
		return nil, nil, errDecrypt
	}
	return pt, s, nil
}

// session finds a session of this connection.
func (c *Conn) session(id uint64) *Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessions[id]
}

// teardown releases everything the connection held.
func (c *Conn) teardown() {
	c.mu.Lock()
	c.closed = true
	if c.handshake != nil {
		c.handshake.Stop()
	}
	sessions := make([]*Session, 0, len(c.sessions))
	for _, s := range c.sessions {
		sessions = append(sessions, s)
	}
	c.mu.Unlock()
	c.stop()
	c.nc.Close()
	for _, s := range sessions {
		if s.dropChannel(c) {
			s.logoff()
		}
	}
	c.ops.release(c)
	c.srv.mu.Lock()
	delete(c.srv.conns, c)
	c.srv.mu.Unlock()
}
