package smb

import (
	"context"
	"encoding/binary"
	"math/bits"
	"sync"

	"github.com/tandemfs/tandem/internal/fs"
)

// Handler serves one command: it reads r and fills w. See the package
// documentation for the rules a handler follows.
type Handler func(w *Response, r *Request)

// handlers is the dispatch table. Commands without an entry answer
// STATUS_NOT_SUPPORTED. Files of this package add theirs in an init
// function with register.
var handlers [numCommands]Handler

// register installs the handler of cmd. It is meant for init functions;
// registering a command twice is a programming error.
func register(cmd Command, h Handler) {
	if handlers[cmd] != nil {
		panic("smb: handler registered twice for " + cmd.String())
	}
	handlers[cmd] = h
}

// needs says what must exist before a command's handler runs.
type needs uint8

const (
	needSession needs = 1 << iota // a valid session (else STATUS_USER_SESSION_DELETED)
	needTree                      // a connected tree (else STATUS_NETWORK_NAME_DELETED)
)

// commandNeeds is what each command requires of its request.
var commandNeeds = [numCommands]needs{
	CmdNegotiate:      0,
	CmdSessionSetup:   0, // a session id of 0 starts one; others must exist
	CmdLogoff:         needSession,
	CmdTreeConnect:    needSession,
	CmdTreeDisconnect: needSession | needTree,
	CmdCreate:         needSession | needTree,
	CmdClose:          needSession | needTree,
	CmdFlush:          needSession | needTree,
	CmdRead:           needSession | needTree,
	CmdWrite:          needSession | needTree,
	CmdLock:           needSession | needTree,
	CmdIoctl:          needSession | needTree,
	CmdCancel:         0,
	CmdEcho:           0,
	CmdQueryDirectory: needSession | needTree,
	CmdChangeNotify:   needSession | needTree,
	CmdQueryInfo:      needSession | needTree,
	CmdSetInfo:        needSession | needTree,
	CmdOplockBreak:    needSession | needTree,
}

// Request is one decoded request as its handler sees it.
type Request struct {
	Header  Header
	Msg     []byte // the whole message, header included: offsets in bodies count from its start
	Body    []byte // Msg after the header
	Conn    *Conn
	Session *Session // nil only for NEGOTIATE, ECHO and a first SESSION_SETUP
	Tree    *Tree    // set for commands that need one

	encrypted *Session // the session whose key decrypted the frame, if any
	chain     *chain
	pending   *Pending
	errSigner signer // signs the refusal of a request admit refused, if set
}

// chain is what the requests of one compound pass on to related requests
// after them.
type chain struct {
	sessionID uint64
	treeID    uint32
	fileID    FileID
	hasFile   bool
	status    Status // of the last request that failed, for related requests

	// The last request was refused without a valid session or tree to
	// pass on (or, first in the chain, had no request before it).
	noSession, noTree bool
}

// lacks reports whether a related request of command cmd misses the
// session or tree it needs from the request before it.
func (ch *chain) lacks(cmd Command) bool {
	need := needsOf(cmd)
	return ch.noSession && need&needSession != 0 || ch.noTree && need&needTree != 0
}

// refused records whether r went without the session or tree it needed.
func (ch *chain) refused(r *Request) {
	need := needsOf(r.Header.Command)
	ch.noSession = need&needSession != 0 && r.Session == nil
	ch.noTree = need&needTree != 0 && r.Tree == nil
}

func needsOf(cmd Command) needs {
	if cmd >= numCommands {
		return 0
	}
	return commandNeeds[cmd]
}

// Context is the request's context: cancelled when the connection goes,
// and for an asynchronous request also by CANCEL and logoff.
func (r *Request) Context() context.Context {
	if r.pending != nil {
		return r.pending.ctx
	}
	return r.Conn.ctx
}

// Caller is the identity file system calls are made with.
func (r *Request) Caller() *fs.Caller {
	if r.Session == nil {
		return &fs.Caller{Anonymous: true, Addr: r.Conn.remote}
	}
	return &r.Session.caller
}

// Buffer returns n bytes at offset off of the message (offsets in SMB2
// bodies count from the start of the header), and false if they are not
// all inside it. n == 0 is always valid and returns nil.
func (r *Request) Buffer(off, n uint32) ([]byte, bool) {
	if n == 0 {
		return nil, true
	}
	end := uint64(off) + uint64(n)
	if off < HeaderSize || end > uint64(len(r.Msg)) {
		return nil, false
	}
	return r.Msg[off:end], true
}

// FileID resolves a FileId read from the request. In a related compound
// the all-ones FileId names the file of the previous request; if that
// request failed, the error is its status. Any FileId a request names
// (or, through SetFileID, creates) becomes the one later related requests
// inherit.
func (r *Request) FileID(id FileID) (FileID, Status) {
	if id == relatedFileID && r.Header.Flags&FlagRelated != 0 {
		if r.chain.status != 0 {
			return id, r.chain.status
		}
		if !r.chain.hasFile {
			return id, StatusInvalidParameter
		}
		return r.chain.fileID, StatusSuccess
	}
	r.chain.fileID, r.chain.hasFile = id, true
	return id, StatusSuccess
}

// ChargeCovers reports whether the request's CreditCharge pays for an
// operation moving n bytes (the larger of what it sends and what it may
// receive): one credit per 64 KiB. Without multi-credit support (2.0.2, or
// a client without LARGE_MTU) a single credit covers up to 64 KiB.
func (r *Request) ChargeCovers(n uint32) bool {
	need := uint32(1)
	if n > 0 {
		need = (n-1)/65536 + 1
	}
	if !r.Conn.multiCredit {
		return n <= 65536
	}
	return max(uint32(r.Header.CreditCharge), 1) >= need
}

// GoAsync makes the request asynchronous. The framework answers it at once
// with an interim STATUS_PENDING response carrying the returned Pending's
// AsyncId, and the handler, or a goroutine it started, later sends the
// final response with Pending.Complete. After GoAsync the handler must not
// touch w again, and must copy what it needs of r.Body or r.Msg: they are
// not kept. A request can go async only once.
func (r *Request) GoAsync() *Pending {
	if r.pending == nil {
		r.pending = r.Conn.newPending(r)
	}
	return r.pending
}

// Response is what a handler answers. Body bytes are appended to an
// internal buffer that already holds room for the header; offsets a body
// gives are from the start of the header, so the first body byte is at
// HeaderSize.
type Response struct {
	Status Status
	buf    []byte // header (64 bytes, filled when sent) then body

	treeID    uint32 // TREE_CONNECT: the new tree
	sessionID uint64 // SESSION_SETUP: the new session
	signer    signer // signs the response; set by finish, or by the final SESSION_SETUP of 3.x
	sent      func(msg []byte)
	pooled    bool // buf came from bodyPools and goes back once sent
}

// Large bodies (READ data, directory listings) take their buffers from
// pools of power-of-two sizes and give them back once sent, so that a
// stream of 1 MiB READs neither allocates nor makes the collector run for
// each one.
const (
	poolMinShift = 16 // 64 KiB
	poolClasses  = 9  // up to 16 MiB: a whole frame
)

var bodyPools [poolClasses]sync.Pool

// poolClass is the class of the smallest pooled buffer holding n bytes,
// or -1 if n is too small or too large for the pools.
func poolClass(n int) int {
	if n < 1<<poolMinShift {
		return -1
	}
	c := bits.Len(uint(n-1)) - poolMinShift
	if c >= poolClasses {
		return -1
	}
	return c
}

func getPooled(class int) []byte {
	if b, ok := bodyPools[class].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 1<<(poolMinShift+class))
}

// release gives a pooled buffer back; the response is done with.
func (w *Response) release() {
	if !w.pooled {
		return
	}
	if c := poolClass(cap(w.buf)); c >= 0 && cap(w.buf) == 1<<(poolMinShift+c) {
		b := w.buf[:0]
		bodyPools[c].Put(&b)
	}
	w.buf, w.pooled = nil, false
}

// responses keeps the Responses sent, with their small buffers, for the
// next requests.
var responses = sync.Pool{New: func() any {
	return &Response{buf: make([]byte, HeaderSize, HeaderSize+256)}
}}

// newResponse returns an empty response. Its header bytes are whatever
// the last use left: every path that sends it encodes the whole header.
func newResponse() *Response { return responses.Get().(*Response) }

// recycle is release for a response that is sent and no longer
// referenced: a small buffer stays with it for the next request.
func (w *Response) recycle() {
	w.release()
	if cap(w.buf) < HeaderSize || cap(w.buf) > 4096 {
		return
	}
	*w = Response{buf: w.buf[:HeaderSize]}
	responses.Put(w)
}

// Len is the length of the body so far.
func (w *Response) Len() int { return len(w.buf) - HeaderSize }

// Bytes is the body so far; it aliases the buffer.
func (w *Response) Bytes() []byte { return w.buf[HeaderSize:] }

// Grow appends n zero bytes to the body and returns them to be filled.
// They, like what Bytes returned, are valid until the next Grow or Write,
// which may move the body (a large body's old buffer is reused at once).
func (w *Response) Grow(n int) []byte {
	b := w.grow(n)
	clear(b)
	return b
}

// grow is Grow without clearing the new bytes, for a body its caller
// fills, or cuts back to what it filled: a READ's data.
func (w *Response) grow(n int) []byte {
	l := len(w.buf)
	if cap(w.buf)-l < n {
		var nb []byte
		if c := poolClass(l + n); c >= 0 {
			nb = getPooled(c)[:l]
		} else {
			nb = make([]byte, l, 2*cap(w.buf)+n)
		}
		copy(nb, w.buf)
		w.release()
		w.buf, w.pooled = nb, cap(nb) >= 1<<poolMinShift
	}
	w.buf = w.buf[:l+n]
	return w.buf[l:]
}

// Write appends p to the body; it never fails.
func (w *Response) Write(p []byte) (int, error) {
	copy(w.Grow(len(p)), p)
	return len(p), nil
}

// Truncate cuts the body to n bytes.
func (w *Response) Truncate(n int) { w.buf = w.buf[:HeaderSize+n] }

// Error answers status with the standard error body.
func (w *Response) Error(status Status) {
	w.Status = status
	w.Truncate(0)
}

// ErrorData answers status with an error body carrying data (for example
// the symbolic link error of CREATE). data should be non-empty.
func (w *Response) ErrorData(status Status, data []byte) {
	w.Status = status
	w.Truncate(0)
	b := w.Grow(8)
	binary.LittleEndian.PutUint16(b, 9)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(data)))
	w.Write(data)
	if len(data) == 0 {
		w.Grow(1)
	}
}

// errorBody is the SMB2 ERROR response body: StructureSize 9, no context,
// no data and the one byte every body needs.
func (w *Response) errorBody() {
	b := w.Grow(9)
	binary.LittleEndian.PutUint16(b, 9)
}
