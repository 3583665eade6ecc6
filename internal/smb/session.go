package smb

import (
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/tandemfs/tandem/internal/fs"
)

// Session is an authenticated user on a connection: the identity file
// system calls run as, and the keys that sign and encrypt its messages.
type Session struct {
	id   uint64
	conn *Conn

	mu        sync.Mutex
	state     sessionState
	user      string
	caller    fs.Caller
	guest     bool
	anonymous bool
	auth      *exchange // the authentication in progress
	preauth   [64]byte  // session preauth integrity hash (3.1.1)
	trees     map[uint32]*Tree
	nextTree  uint32
	channels  map[*Conn]*channel // the connections bound to the session (channel.go)

	// Set once when the first authentication succeeds, read-only after.
	dialect         uint16 // of the connection that created the session
	signAlgo        uint16
	cipher          uint16 // 0 for sessions without a key
	sessionKey      [16]byte
	signer          signer
	encrypter       cipher.AEAD // server to client
	decrypter       cipher.AEAD // client to server
	signingRequired bool
	encryptData     bool
	nonceCounter    atomic.Uint64
	noncePrefix     [4]byte

	ops sessionOps // the file operations' state of this session
}

type sessionState uint8

const (
	sessionInProgress sessionState = iota
	sessionValid
	sessionGone
)

// ID is the session id.
func (s *Session) ID() uint64 { return s.id }

// User is the name the session logged on with ("" for anonymous).
func (s *Session) User() string { return s.user }

// Caller is the identity the session's file system calls run as.
func (s *Session) Caller() *fs.Caller { return &s.caller }

// Guest reports a guest or anonymous session.
func (s *Session) Guest() bool { return s.guest || s.anonymous }

// Conn is the connection that created the session; with multichannel
// the session may be bound to others too.
func (s *Session) Conn() *Conn { return s.conn }

func (s *Session) valid() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == sessionValid
}

// tree finds a connected tree of the session.
func (s *Session) tree(id uint32) *Tree {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trees[id]
}

// nonce fills b with a fresh encryption nonce: a counter that never
// repeats under the session's key, then random bytes fixed per session.
func (s *Session) nonce(b []byte) {
	n := s.nonceCounter.Add(1)
	binary.LittleEndian.PutUint64(b, n)
	copy(b[8:], s.noncePrefix[:])
}

// checkIntegrity verifies a request of a valid session: its signature if
// it is signed (with the key of the request's channel), and that it is
// signed or encrypted when the session requires so.
func (s *Session) checkIntegrity(r *Request) Status {
	if r.encrypted != nil {
		if r.Header.Flags&FlagRelated == 0 && r.encrypted != s {
			return StatusAccessDenied
		}
		return StatusSuccess
	}
	if s.encryptData && r.Header.Command != CmdSessionSetup {
		return StatusAccessDenied
	}
	// A refusal is signed, as a client that signs checks what it gets.
	sg := s.signerFor(r.Conn)
	if r.Header.Flags&FlagSigned != 0 {
		if sg == nil || !verify(sg, r.Msg) {
			r.errSigner = sg
			// A SESSION_SETUP signed with the session's own key on a
			// channel that has a key of its own is refused under the
			// key the client used, so that it can read the refusal.
			if r.Header.Command == CmdSessionSetup && s.signer != nil && sg != s.signer && verify(s.signer, r.Msg) {
				r.errSigner = s.signer
			}
			return StatusAccessDenied
		}
		return StatusSuccess
	}
	if s.signingRequired {
		r.errSigner = sg
		return StatusAccessDenied
	}
	return StatusSuccess
}

// Session setup flags and session flags.
const (
	setupBinding            = 0x01
	sessionFlagGuest        = 0x0001
	sessionFlagNull         = 0x0002
	sessionFlagEncrypt      = 0x0004
	securitySigningRequired = 0x02
)

func init() {
	register(CmdSessionSetup, serveSessionSetup)
	register(CmdLogoff, serveLogoff)
}

// serveSessionSetup runs one leg of authentication (MS-SMB2 3.3.5.5):
// NTLM NEGOTIATE in, CHALLENGE out with STATUS_MORE_PROCESSING_REQUIRED;
// AUTHENTICATE in, success or the failure out. A setup on a valid
// session is a re-authentication: it must prove the same user and keeps
// the keys. A setup with the binding flag adds a channel (channel.go).
// Any failure but a binding's ends the session (MS-SMB2 3.3.5.5.3).
func serveSessionSetup(w *Response, r *Request) {
	c := r.Conn
	b := r.Body
	if len(b) < 24 || binary.LittleEndian.Uint16(b) != 25 {
		w.Error(StatusInvalidParameter)
		return
	}
	secMode := b[3]
	token, ok := r.Buffer(uint32(binary.LittleEndian.Uint16(b[12:])), uint32(binary.LittleEndian.Uint16(b[14:])))
	if !ok {
		w.Error(StatusInvalidParameter)
		return
	}
	if b[2]&setupBinding != 0 {
		serveBind(w, r, token)
		return
	}
	if r.Session != nil && !r.Session.boundTo(c) {
		w.Error(StatusUserSessionDeleted)
		return
	}
	prev := binary.LittleEndian.Uint64(b[16:])

	s := r.Session
	if s == nil {
		if s = c.newSession(); s == nil {
			w.Error(StatusInsufficientResources)
			return
		}
	}
	w.sessionID = s.id
	s.mu.Lock()
	reauth := s.state == sessionValid
	if s.auth == nil {
		s.auth = c.newExchange()
	}
	x := s.auth
	if c.dialect == Dialect311 && !reauth {
		s.preauth = preauthUpdate(s.preauth, r.Msg)
	}
	s.mu.Unlock()

	out, who, err := c.step(r.Context(), x, token)
	if err == nil && who != nil && reauth && !who.same(s) {
		err = StatusAccessDenied // a session cannot change its user
	}
	if err != nil {
		s.logoff()
		w.Error(StatusOf(err))
		return
	}
	if who == nil {
		w.Status = StatusMoreProcessingRequired
		writeSetupResponse(w, 0, out)
		if c.dialect == Dialect311 && !reauth {
			w.sent = func(msg []byte) {
				s.mu.Lock()
				s.preauth = preauthUpdate(s.preauth, msg)
				s.mu.Unlock()
			}
		}
		return
	}
	s.mu.Lock()
	s.auth = nil
	s.mu.Unlock()

	if !reauth {
		if err := s.establish(c, secMode, who); err != nil {
			s.logoff()
			w.Error(StatusOf(err))
			return
		}
		if prev != 0 && prev != s.id {
			c.srv.expireSession(prev, s.user)
		}
	}
	var flags uint16
	switch {
	case s.anonymous:
		flags = sessionFlagNull
	case s.guest:
		flags = sessionFlagGuest
	case s.encryptData:
		flags = sessionFlagEncrypt
	}
	w.Status = StatusSuccess
	writeSetupResponse(w, flags, out)
	// 3.x signs the final response with the new key, which proves to the
	// client that both sides derived the same keys (and for 3.1.1 saw the
	// same negotiation).
	if sg := s.signerFor(c); sg != nil && (c.dialect >= Dialect300 || s.signingRequired) {
		w.signer = sg
	}
}

func writeSetupResponse(w *Response, flags uint16, token []byte) {
	b := w.Grow(8)
	binary.LittleEndian.PutUint16(b, 9)
	binary.LittleEndian.PutUint16(b[2:], flags)
	binary.LittleEndian.PutUint16(b[4:], HeaderSize+8)
	binary.LittleEndian.PutUint16(b[6:], uint16(len(token)))
	w.Write(token)
}

// preauthUpdate is one step of the preauth integrity hash:
// H' = SHA-512(H ‖ message).
func preauthUpdate(h [64]byte, msg []byte) [64]byte {
	d := sha512.New()
	d.Write(h[:])
	d.Write(msg)
	var out [64]byte
	d.Sum(out[:0])
	return out
}

// Limits on what one client can make the server hold.
const (
	maxSessionsPerConn = 256
	maxTreesPerSession = 1024
	maxPipesPerTree    = 64
)

// newSession starts a session on the connection, or returns nil if the
// connection has too many.
func (c *Conn) newSession() *Session {
	c.mu.Lock()
	full := len(c.sessions) >= maxSessionsPerConn
	c.mu.Unlock()
	if full || c.srv.sessionsFull() {
		return nil
	}
	s := &Session{
		id:       c.srv.newSessionID(),
		conn:     c,
		trees:    map[uint32]*Tree{},
		auth:     c.newExchange(),
		channels: map[*Conn]*channel{c: {bound: true}},
	}
	s.preauth = c.preauth
	s.caller.Addr = c.remote
	rand.Read(s.noncePrefix[:])
	c.mu.Lock()
	c.sessions[s.id] = s
	c.mu.Unlock()
	return s
}

// establish makes the session valid after its first authentication on
// connection c: records who it is, derives its keys, decides signing and
// encryption and publishes it in the server's table.
func (s *Session) establish(c *Conn, clientSecMode byte, who *identityProof) error {
	srv := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.anonymous, s.guest = who.name, who.anonymous, who.guest
	s.caller = who.caller
	s.sessionKey = who.key
	s.dialect, s.signAlgo = c.dialect, c.signingAlgorithm()
	if !who.keyless() {
		sk := s.sessionKey[:]
		s.signer = c.channelSigner(sk, s.preauth)
		s.cipher = c.cipher
		if c.cipher != 0 {
			bits := cipherKeyBits(c.cipher)
			var in, out []byte
			if c.dialect == Dialect311 {
				in = kdf(sk, label311ServerIn, s.preauth[:], bits)
				out = kdf(sk, label311ServerOut, s.preauth[:], bits)
			} else {
				in = kdf(sk, label30Cipher, ctx30ServerIn, bits)
				out = kdf(sk, label30Cipher, ctx30ServerOut, bits)
			}
			var err error
			if s.decrypter, err = newAEAD(c.cipher, in); err != nil {
				return err
			}
			if s.encrypter, err = newAEAD(c.cipher, out); err != nil {
				return err
			}
		}
		s.signingRequired = srv.opt.RequireSigning || clientSecMode&securitySigningRequired != 0
		if srv.opt.Encrypt {
			if s.encrypter == nil {
				return StatusAccessDenied // the client cannot encrypt
			}
			s.encryptData = true
		}
	} else if srv.opt.RequireSigning || srv.opt.Encrypt {
		// Guests have no key: they can neither sign nor encrypt.
		return StatusAccessDenied
	}
	if ch := s.channels[c]; ch != nil {
		ch.signer = s.signer
	}
	s.state = sessionValid
	srv.mu.Lock()
	srv.sessions[s.id] = s
	srv.mu.Unlock()
	return nil
}

// expireSession ends a session of the same user left by a previous
// connection (PreviousSessionId of a reconnecting client).
func (srv *Server) expireSession(id uint64, user string) {
	old := srv.session(id)
	if old == nil || !equalFold(old.user, user) {
		return
	}
	old.logoff()
}

// session finds an established session in the server's table.
func (srv *Server) session(id uint64) *Session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.sessions[id]
}

// logoff ends a session on every connection it is bound to: its trees
// are disconnected, its pending requests cancelled and its file state
// released. A session still being set up is just forgotten.
func (s *Session) logoff() {
	s.mu.Lock()
	if s.state == sessionGone {
		s.mu.Unlock()
		return
	}
	s.state = sessionGone
	trees := make([]*Tree, 0, len(s.trees))
	for _, t := range s.trees {
		trees = append(trees, t)
	}
	clear(s.trees)
	conns := make([]*Conn, 0, len(s.channels))
	for c := range s.channels {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.removeSession(s)
		c.cancelSession(s)
	}
	// Durable opens outlive their session, whether it ends with its
	// connection, a LOGOFF or a reconnect naming it as the previous
	// session, as on Windows and Samba: only a tree disconnect or a
	// CLOSE ends them.
	for _, t := range trees {
		t.disconnect(true)
	}
	s.ops.release(s)
	srv := s.conn.srv
	srv.mu.Lock()
	if srv.sessions[s.id] == s {
		delete(srv.sessions, s.id)
	}
	srv.mu.Unlock()
}

// removeSession takes s out of the connection's table.
func (c *Conn) removeSession(s *Session) {
	c.mu.Lock()
	if c.sessions[s.id] == s {
		delete(c.sessions, s.id)
	}
	c.mu.Unlock()
}

func serveLogoff(w *Response, r *Request) {
	if len(r.Body) < 4 || binary.LittleEndian.Uint16(r.Body) != 4 {
		w.Error(StatusInvalidParameter)
		return
	}
	s := r.Session
	// The response is still signed with the session's key, which
	// outlives the session.
	s.logoff()
	b := w.Grow(4)
	binary.LittleEndian.PutUint16(b, 4)
}
