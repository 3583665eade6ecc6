package smb

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/identity"
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
	auth      *ntlmServer // the exchange in progress
	mechList  []byte      // the client's SPNEGO mechanism list, for the mechListMIC
	preauth   [64]byte    // session preauth integrity hash (3.1.1)
	trees     map[uint32]*Tree
	nextTree  uint32

	// Set once when the first authentication succeeds, read-only after.
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

// Conn is the connection the session lives on.
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
// it is signed, and that it is signed or encrypted when the session
// requires so.
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
	if r.Header.Flags&FlagSigned != 0 {
		if s.signer == nil || !verify(s.signer, r.Msg) {
			return StatusAccessDenied
		}
		return StatusSuccess
	}
	if s.signingRequired {
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

// serveSessionSetup runs one leg of authentication: NTLM NEGOTIATE in,
// CHALLENGE out with STATUS_MORE_PROCESSING_REQUIRED; AUTHENTICATE in,
// success or STATUS_LOGON_FAILURE out. A setup on a valid session is a
// re-authentication: it must prove the same user and keeps the keys.
func serveSessionSetup(w *Response, r *Request) {
	c := r.Conn
	b := r.Body
	if len(b) < 24 || binary.LittleEndian.Uint16(b) != 25 {
		w.Error(StatusInvalidParameter)
		return
	}
	if b[2]&setupBinding != 0 {
		w.Error(StatusRequestNotAccepted) // multichannel is not offered
		return
	}
	secMode := b[3]
	token, ok := r.Buffer(uint32(binary.LittleEndian.Uint16(b[12:])), uint32(binary.LittleEndian.Uint16(b[14:])))
	if !ok {
		w.Error(StatusInvalidParameter)
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
	if c.dialect == Dialect311 && !reauth {
		s.preauth = preauthUpdate(s.preauth, r.Msg)
	}
	s.mu.Unlock()

	out, done, err := s.step(r.Context(), token)
	if err != nil {
		if !reauth {
			c.dropSession(s)
		}
		w.Error(StatusOf(err))
		return
	}
	if !done {
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

	var flags uint16
	if !reauth {
		if err := s.establish(secMode); err != nil {
			c.dropSession(s)
			w.Error(StatusOf(err))
			return
		}
		if prev != 0 && prev != s.id {
			c.srv.expireSession(prev, s.user)
		}
	}
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
	if s.signer != nil && (c.dialect >= Dialect300 || s.signingRequired) {
		w.signer = s.signer
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
	if full {
		return nil
	}
	s := &Session{
		id:    c.srv.newSessionID(),
		conn:  c,
		trees: map[uint32]*Tree{},
		auth:  &ntlmServer{computer: c.srv.opt.Name, domain: c.srv.opt.Domain},
	}
	s.preauth = c.preauth
	s.caller.Addr = c.remote
	rand.Read(s.noncePrefix[:])
	c.mu.Lock()
	c.sessions[s.id] = s
	c.mu.Unlock()
	return s
}

// dropSession removes a session that failed to authenticate.
func (c *Conn) dropSession(s *Session) {
	c.mu.Lock()
	delete(c.sessions, s.id)
	c.mu.Unlock()
	s.mu.Lock()
	s.state = sessionGone
	s.mu.Unlock()
}

// step feeds one client token to the authentication and returns the
// token to send back and whether the exchange is complete.
func (s *Session) step(ctx context.Context, token []byte) (out []byte, done bool, err error) {
	s.mu.Lock()
	if s.auth == nil {
		s.auth = &ntlmServer{computer: s.conn.srv.opt.Name, domain: s.conn.srv.opt.Domain}
	}
	a := s.auth
	s.mu.Unlock()

	raw := bytes.HasPrefix(token, ntlmSignature)
	ntlmTok := token
	var clientMIC []byte
	if !raw {
		init, resp, err := parseSPNEGO(token)
		if err != nil {
			return nil, false, StatusInvalidParameter
		}
		if init != nil {
			s.mechList = bytes.Clone(init.mechListRaw)
			hasNTLM := false
			for _, m := range init.mechTypes {
				hasNTLM = hasNTLM || bytes.Equal(m, oidNTLMSSP)
			}
			if !hasNTLM {
				return nil, false, StatusLogonFailure
			}
			if !bytes.Equal(init.mechTypes[0], oidNTLMSSP) || !bytes.HasPrefix(init.mechToken, ntlmSignature) {
				// The client's optimistic token is for another mechanism:
				// select NTLMSSP and wait for its first token.
				return encodeNegTokenResp(negAcceptIncomplete, true, nil, nil), false, nil
			}
			ntlmTok = init.mechToken
		} else {
			ntlmTok = resp.responseToken
			clientMIC = resp.mechListMIC
		}
	}
	if len(ntlmTok) < 12 || !bytes.HasPrefix(ntlmTok, ntlmSignature) {
		return nil, false, StatusInvalidParameter
	}
	switch binary.LittleEndian.Uint32(ntlmTok[8:]) {
	case 1:
		chal, err := a.challengeMessage(ntlmTok, filetime(s.conn.srv.opt.Now()))
		if err != nil {
			return nil, false, StatusInvalidParameter
		}
		if raw {
			return chal, false, nil
		}
		return encodeNegTokenResp(negAcceptIncomplete, true, chal, nil), false, nil
	case 3:
		if a.challMsg == nil {
			return nil, false, StatusInvalidParameter
		}
		key, err := s.authenticate(ctx, a, ntlmTok)
		if err != nil {
			return nil, false, err
		}
		var mic []byte
		if clientMIC != nil && !s.anonymous && !s.guest {
			want := ntlmMAC(key, a.flags, true, 0, s.mechList)
			if !bytes.Equal(want[:], clientMIC) {
				return nil, false, StatusLogonFailure
			}
			m := ntlmMAC(key, a.flags, false, 0, s.mechList)
			mic = m[:]
		}
		s.mu.Lock()
		s.auth = nil
		s.mu.Unlock()
		if raw {
			return []byte{}, true, nil
		}
		return encodeNegTokenResp(negAcceptCompleted, false, nil, mic), true, nil
	}
	return nil, false, StatusInvalidParameter
}

// authenticate checks an AUTHENTICATE message against the user store and
// records who the session is. It returns the exported session key.
func (s *Session) authenticate(ctx context.Context, a *ntlmServer, msg []byte) ([16]byte, error) {
	var key [16]byte
	am, err := parseAuthenticate(msg)
	if err != nil {
		return key, StatusInvalidParameter
	}
	srv := s.conn.srv
	s.mu.Lock()
	reauth := s.state == sessionValid
	prevUser, prevAnon, prevGuest := s.user, s.anonymous, s.guest
	s.mu.Unlock()

	var who fs.Caller
	var anonymous, guest bool
	name := am.user
	switch {
	case am.anonymous:
		anonymous = true
		who = fs.Caller{Anonymous: true}
	default:
		u, err := srv.ids.Lookup(ctx, am.user)
		switch {
		case errors.Is(err, identity.ErrNotFound):
			if !srv.opt.MapToGuest {
				return key, StatusLogonFailure
			}
			guest = true
			who = fs.Caller{Anonymous: true}
		case err != nil:
			srv.log.Error("smb: user lookup", "user", am.user, "err", err)
			return key, StatusLogonFailure
		default:
			k, ok := a.verify(am, u.NTHash)
			if !ok {
				return key, StatusLogonFailure
			}
			key = k
			name = u.Name
			a.flags = am.flags // what the client settled on keys its MACs
			who = fs.Caller{UID: u.UID, GID: u.GID}
		}
	}
	if reauth && (prevAnon != anonymous || prevGuest != guest || !equalFold(prevUser, name)) {
		return key, StatusAccessDenied // a session cannot change its user
	}
	who.Addr = s.conn.remote
	s.mu.Lock()
	if !reauth {
		s.sessionKey = key
		s.user, s.anonymous, s.guest = name, anonymous, guest
		s.caller = who
	}
	s.mu.Unlock()
	return key, nil
}

func equalFold(a, b string) bool { return bytes.EqualFold([]byte(a), []byte(b)) }

// establish makes the session valid after its first authentication:
// derives its keys, decides signing and encryption and publishes it.
func (s *Session) establish(clientSecMode byte) error {
	c := s.conn
	srv := c.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	hasKey := !s.anonymous && !s.guest
	if hasKey {
		sk := s.sessionKey[:]
		switch {
		case c.dialect < Dialect300:
			s.signer = newSigner(c.dialect, 0, sk, nil)
		case c.dialect == Dialect311:
			s.signer = newSigner(c.dialect, c.signAlgo, sk, kdf(sk, label311Sign, s.preauth[:], 128))
		default:
			s.signer = newSigner(c.dialect, signAESCMAC, sk, kdf(sk, label30Sign, ctx30Sign, 128))
		}
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
	s.state = sessionValid
	srv.mu.Lock()
	srv.sessions[s.id] = s
	srv.mu.Unlock()
	return nil
}

// expireSession ends a session of the same user left by a previous
// connection (PreviousSessionId of a reconnecting client).
func (srv *Server) expireSession(id uint64, user string) {
	srv.mu.Lock()
	old := srv.sessions[id]
	srv.mu.Unlock()
	if old == nil || !equalFold(old.user, user) {
		return
	}
	old.conn.removeSession(old)
	old.logoff()
}

func (c *Conn) removeSession(s *Session) {
	c.mu.Lock()
	delete(c.sessions, s.id)
	c.mu.Unlock()
}

// logoff ends a session: its trees are disconnected, its pending requests
// cancelled and its file state released.
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
	s.mu.Unlock()
	s.conn.cancelSession(s)
	for _, t := range trees {
		t.disconnect()
	}
	s.ops.release(s)
	srv := s.conn.srv
	srv.mu.Lock()
	if srv.sessions[s.id] == s {
		delete(srv.sessions, s.id)
	}
	srv.mu.Unlock()
}

func serveLogoff(w *Response, r *Request) {
	if len(r.Body) < 4 || binary.LittleEndian.Uint16(r.Body) != 4 {
		w.Error(StatusInvalidParameter)
		return
	}
	s := r.Session
	// The response is signed with the session's key, so the session is
	// only forgotten by the connection after the response is built.
	r.Conn.removeSession(s)
	s.logoff()
	b := w.Grow(4)
	binary.LittleEndian.PutUint16(b, 4)
}
