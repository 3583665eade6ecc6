package smb

// Multichannel (MS-SMB2 3.3.5.5.2): a 3.x client may bind further
// connections to a session it established on one, by a SESSION_SETUP with
// the binding flag that names the session and is signed with its key. The
// binding authenticates again, as the same user; each bound connection (a
// channel) then signs with a key of its own, derived from that
// authentication, while trees, opens and the encryption keys stay the
// session's. A session lives until it is logged off or its last channel's
// connection closes.

// channel is a session's binding to one connection.
type channel struct {
	bound   bool      // false while a binding is in progress
	signer  signer    // the channel's key; nil for the creator of a session without one
	auth    *exchange // the binding's authentication in progress
	preauth [64]byte  // the binding's preauth integrity hash (3.1.1)
}

// capMultiChannel is SMB2_GLOBAL_CAP_MULTI_CHANNEL.
const capMultiChannel = 0x00000008

// signerFor is the key that signs the session's messages on connection c:
// the channel's once bound, else the session's own.
func (s *Session) signerFor(c *Conn) signer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch := s.channels[c]; ch != nil && ch.signer != nil {
		return ch.signer
	}
	return s.signer
}

// signingAlgorithm is the connection's signing algorithm: HMAC-SHA256 for
// 2.x, AES-CMAC for 3.0 and 3.0.2, the negotiated one for 3.1.1.
func (c *Conn) signingAlgorithm() uint16 {
	switch {
	case c.dialect < Dialect300 || c.dialect == dialectWildcard:
		return signHMACSHA256
	case c.dialect == Dialect311:
		return c.signAlgo
	}
	return signAESCMAC
}

// channelSigner derives the signing key of an authentication on c from its
// session key (MS-SMB2 3.3.5.5.3): the key itself for 2.x, else by the
// KDF, for 3.1.1 over the exchange's preauth hash.
func (c *Conn) channelSigner(sessionKey []byte, preauth [64]byte) signer {
	switch {
	case c.dialect < Dialect300 || c.dialect == dialectWildcard:
		return newSigner(c.dialect, 0, sessionKey, nil)
	case c.dialect == Dialect311:
		return newSigner(c.dialect, c.signAlgo, sessionKey, kdf(sessionKey, label311Sign, preauth[:], 128))
	}
	return newSigner(c.dialect, signAESCMAC, sessionKey, kdf(sessionKey, label30Sign, ctx30Sign, 128))
}

// bindStatus checks a binding request against the session it names, in
// the order Windows and Samba check (MS-SMB2 3.3.5.5.2): signing
// algorithms first, then the dialect family, the signature, the dialect
// and the cipher. ch is the channel of this connection if one exists.
func (c *Conn) bindStatus(s *Session, r *Request, ch *channel) Status {
	sa, ca := s.signAlgo, c.signingAlgorithm()
	switch {
	case sa == signAESGMAC && ca != sa:
		return StatusRequestOutOfSequence
	case ca == signAESGMAC && sa != ca:
		return StatusNotSupported
	case c.dialect < Dialect300 || c.dialect == dialectWildcard || c.serverCaps&capMultiChannel == 0:
		return StatusRequestNotAccepted
	case r.Header.Flags&FlagSigned == 0:
		return StatusInvalidParameter
	case s.dialect != c.dialect || s.cipher != c.cipher:
		return StatusInvalidParameter
	case ch != nil && ch.bound:
		return StatusRequestNotAccepted // already bound
	case s.Guest():
		return StatusNotSupported // no key to bind with
	}
	return StatusSuccess
}

// serveBind runs one leg of a binding. A failed binding leaves the
// session as it was.
func serveBind(w *Response, r *Request, token []byte) {
	c := r.Conn
	s := r.Session // the session, when admit verified the request with its key
	if s == nil && r.Header.SessionID != 0 {
		s = c.srv.session(r.Header.SessionID)
	}
	if s == nil {
		if r.Header.SessionID == 0 {
			w.Error(StatusInvalidParameter)
		} else {
			w.Error(StatusUserSessionDeleted)
		}
		return
	}
	w.sessionID = s.id
	s.mu.Lock()
	if s.state != sessionValid {
		s.mu.Unlock()
		w.Error(StatusUserSessionDeleted)
		return
	}
	ch := s.channels[c]
	if st := c.bindStatus(s, r, ch); st != StatusSuccess {
		s.mu.Unlock()
		w.Error(st)
		return
	}
	if ch == nil {
		s.pruneChannels()
		ch = &channel{auth: c.newExchange(), preauth: c.preauth}
		s.channels[c] = ch
	}
	x := ch.auth
	if c.dialect == Dialect311 {
		ch.preauth = preauthUpdate(ch.preauth, r.Msg)
	}
	s.mu.Unlock()

	out, who, err := c.step(r.Context(), x, token)
	if err == nil && who != nil && !who.same(s) {
		err = StatusAccessDenied // a binding must prove the session's user
	}
	if err != nil {
		s.unbind(c, ch)
		w.Error(StatusOf(err))
		return
	}
	if who == nil {
		w.Status = StatusMoreProcessingRequired
		writeSetupResponse(w, 0, out)
		if c.dialect == Dialect311 {
			w.sent = func(msg []byte) {
				s.mu.Lock()
				ch.preauth = preauthUpdate(ch.preauth, msg)
				s.mu.Unlock()
			}
		}
		return
	}
	// The channel joins the connection's table first, so that a teardown
	// of the connection racing with this finds and drops it.
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.sessions[s.id] = s
	}
	c.mu.Unlock()
	s.mu.Lock()
	ch.signer = c.channelSigner(who.key[:], ch.preauth)
	ch.bound, ch.auth = true, nil
	if closed && s.channels[c] == ch {
		delete(s.channels, c)
	}
	s.mu.Unlock()
	w.Status = StatusSuccess
	writeSetupResponse(w, 0, out)
	w.signer = ch.signer // proves the channel's key to the client
}

// admitForeign admits a SESSION_SETUP that names the session on a
// connection the session is not bound to. A signed one must verify with
// the session's key (MS-SMB2 3.3.5.2.4) and is then answered under it,
// as a client that signs expects signed answers: a binding goes on to
// serveBind, any other such request gets STATUS_USER_SESSION_DELETED
// (MS-SMB2 3.3.5.2.9). An unsigned one is never answered with the
// session's key, which would sign what anyone asks.
func (s *Session) admitForeign(r *Request) Status {
	binding := len(r.Body) > 2 && r.Body[2]&setupBinding != 0
	sg := s.signerFor(r.Conn)
	if r.Header.Flags&FlagSigned == 0 || sg == nil {
		if binding {
			return StatusSuccess // serveBind refuses it by the rules of binding
		}
		return StatusUserSessionDeleted
	}
	if !verify(sg, r.Msg) {
		return StatusAccessDenied
	}
	r.Session = s
	return StatusSuccess
}

// boundTo reports whether the session is in the connection's table.
func (s *Session) boundTo(c *Conn) bool { return c.session(s.id) == s }

// unbind forgets a binding that failed; a bound channel stays.
func (s *Session) unbind(c *Conn, ch *channel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.channels[c] == ch && !ch.bound {
		delete(s.channels, c)
	}
}

// pruneChannels forgets bindings left in progress by connections that
// closed. The caller holds s.mu.
func (s *Session) pruneChannels() {
	for c, ch := range s.channels {
		if !ch.bound && c.isClosed() {
			delete(s.channels, c)
		}
	}
}

// liveConn is a connection of the session that is still open, the one
// that created it first: where notifications to the session go (MS-SMB2
// 3.3.4.6 and 3.3.4.7 let the server pick any channel). It is nil when
// every connection is gone.
func (s *Session) liveConn() *Conn {
	if !s.conn.isClosed() {
		return s.conn
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for c, ch := range s.channels {
		if ch.bound && !c.isClosed() {
			return c
		}
	}
	return nil
}

// dropChannel detaches the session from a connection that closed. It
// reports whether the session has no connection left, and so ends.
func (s *Session) dropChannel(c *Conn) (last bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.channels, c)
	if s.state != sessionValid {
		return true
	}
	for _, ch := range s.channels {
		if ch.bound {
			return false
		}
	}
	return true
}
