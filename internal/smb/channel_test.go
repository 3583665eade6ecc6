package smb

import (
	"bytes"
	"testing"
	"time"
)

// negotiate30 negotiates 3.0 offering multichannel.
func (c *raw) negotiate30() resp {
	c.t.Helper()
	r := c.call(CmdNegotiate, negotiateBody([]uint16{Dialect300}, capLargeMTU|capMultiChannel, nil), nil)
	if r.Status != StatusSuccess {
		c.t.Fatalf("NEGOTIATE: %v", r.Status)
	}
	return r
}

// cmacSignerOf is the 3.0 signing key of a session key.
func cmacSignerOf(key [16]byte) signer {
	return newSigner(Dialect300, signAESCMAC, key[:], kdf(key[:], label30Sign, ctx30Sign, 128))
}

func signedReq(h *Header) { h.Flags |= FlagSigned }

// logon30 logs a 3.0 connection on and returns the session's signer.
func logon30(t testing.TB, c *raw, user, pass string) signer {
	t.Helper()
	r, key := c.ntlmExchange(user, pass, 0, nil)
	if r.Status != StatusSuccess {
		t.Fatalf("logon: %v", r.Status)
	}
	c.signer = cmacSignerOf(key)
	if !verify(c.signer, r.msg) {
		t.Fatal("final SESSION_SETUP response not signed with the session key")
	}
	return c.signer
}

func TestBinding(t *testing.T) {
	e := newEnv(t, Options{})
	c1 := e.raw()
	c1.negotiate30()
	main := logon30(t, c1, "alice", alicePass)
	r := c1.call(CmdTreeConnect, treeConnectBody(`\\h\export`), signedReq)
	if r.Status != StatusSuccess {
		t.Fatalf("TREE_CONNECT: %v", r.Status)
	}
	c1.tree = r.TreeID
	id := c1.session

	c2 := e.raw()
	c2.negotiate30()
	c2.session, c2.tree, c2.signer = id, c1.tree, main

	// Before binding, the session is not the second connection's: a
	// signed request gets its own signature back with the flag, which is
	// all a client can check.
	m := c2.msg(CmdCreate, createBody("f"), signedReq)
	c2.send(m)
	r = c2.recv()[0]
	if r.Status != StatusUserSessionDeleted || r.Flags&FlagSigned == 0 || !bytes.Equal(r.msg[48:64], m[48:64]) {
		t.Fatalf("CREATE on an unbound connection: %v flags %#x", r.Status, r.Flags)
	}
	// A SESSION_SETUP without the binding flag fails the same way, signed
	// with the session's key.
	r = c2.call(CmdSessionSetup, setupBody(ntlmNegotiateMsg()), signedReq)
	if r.Status != StatusUserSessionDeleted || !verify(main, r.msg) {
		t.Fatalf("SESSION_SETUP on an unbound connection: %v", r.Status)
	}

	// Unsigned, it is not answered under the session's key, which would
	// sign whatever anyone asks.
	r = c2.call(CmdSessionSetup, setupBody(ntlmNegotiateMsg()), nil)
	if r.Status != StatusUserSessionDeleted || r.Flags&FlagSigned != 0 {
		t.Fatalf("unsigned SESSION_SETUP on an unbound connection: %v flags %#x", r.Status, r.Flags)
	}

	binding := func(h *Header) { h.SessionID = id; h.Flags |= FlagSigned }
	for _, tc := range []struct {
		name       string
		user, pass string
		mod        func(h *Header)
		want       Status
	}{
		{"unsigned", "alice", alicePass, func(h *Header) { h.SessionID = id }, StatusInvalidParameter},
		{"another user", "bob", bobPass, binding, StatusAccessDenied},
		{"wrong password", "alice", "nope", binding, StatusLogonFailure},
		{"no session", "alice", alicePass, func(h *Header) { h.SessionID = 0 }, StatusInvalidParameter},
	} {
		c2.signer = main
		if r, _ := c2.ntlmExchange(tc.user, tc.pass, setupBinding, tc.mod); r.Status != tc.want {
			t.Errorf("binding, %s: %v, want %v", tc.name, r.Status, tc.want)
		}
	}
	// The session lives on, and binds.
	c2.signer = main
	r, key := c2.ntlmExchange("alice", alicePass, setupBinding, binding)
	ch := cmacSignerOf(key)
	if r.Status != StatusSuccess || r.SessionID != id || !verify(ch, r.msg) {
		t.Fatalf("binding: %v, signed with the channel key %v", r.Status, verify(ch, r.msg))
	}
	c2.signer = ch
	// The channel signs with its own key and reaches the session's trees.
	openIf := createBody("f")
	openIf[36] = 3 // FILE_OPEN_IF
	if r := c2.call(CmdCreate, openIf, signedReq); r.Status != StatusSuccess || !verify(ch, r.msg) {
		t.Fatalf("CREATE on the bound channel: %v", r.Status)
	}
	if r := c2.call(CmdTreeConnect, treeConnectBody(`\\h\export`), signedReq); r.Status != StatusSuccess {
		t.Fatalf("TREE_CONNECT on the bound channel: %v", r.Status)
	}
	// Binding again: with the channel's key it is refused as done; with
	// the session's key the signature fails, and the refusal is signed
	// with the key the client used.
	if r, _ := c2.ntlmExchange("alice", alicePass, setupBinding, binding); r.Status != StatusRequestNotAccepted {
		t.Fatalf("second binding: %v", r.Status)
	}
	c2.signer = main
	if r := c2.call(CmdSessionSetup, func() []byte { b := setupBody(ntlmNegotiateMsg()); b[2] = setupBinding; return b }(), binding); r.Status != StatusAccessDenied || !verify(main, r.msg) {
		t.Fatalf("binding signed with the session key on a bound channel: %v", r.Status)
	}
	c2.signer = ch

	// The session outlives its first connection, and ends with its last.
	c1.nc.Close()
	s := e.srv.session(id)
	for deadline := time.Now().Add(5 * time.Second); !s.conn.isClosed(); {
		if time.Now().After(deadline) {
			t.Fatal("the first connection did not close")
		}
		time.Sleep(time.Millisecond)
	}
	if lc := s.liveConn(); lc == nil || lc == s.conn {
		t.Fatalf("notifications would go to %p, the closed connection is %p", lc, s.conn)
	}
	if r := c2.call(CmdTreeConnect, treeConnectBody(`\\h\export`), signedReq); r.Status != StatusSuccess {
		t.Fatalf("TREE_CONNECT after the first connection closed: %v", r.Status)
	}
	c2.nc.Close()
	for deadline := time.Now().Add(5 * time.Second); e.srv.session(id) != nil; {
		if time.Now().After(deadline) {
			t.Fatal("the session outlived its last connection")
		}
		time.Sleep(time.Millisecond)
	}
	c3 := e.raw()
	c3.negotiate30()
	c3.signer = main
	if r, _ := c3.ntlmExchange("alice", alicePass, setupBinding, binding); r.Status != StatusUserSessionDeleted {
		t.Fatalf("binding after every channel closed: %v", r.Status)
	}
}

// Binding refusals that depend on the connections' dialects.
func TestBindingDialects(t *testing.T) {
	e := newEnv(t, Options{})
	c1 := e.raw()
	c1.negotiate30()
	main := logon30(t, c1, "alice", alicePass)
	binding := func(h *Header) { h.SessionID = c1.session; h.Flags |= FlagSigned }

	c2 := e.raw() // 2.1 has no multichannel
	c2.negotiate21()
	c2.signer = main
	if r, _ := c2.ntlmExchange("alice", alicePass, setupBinding, binding); r.Status != StatusRequestNotAccepted {
		t.Errorf("binding a 2.1 connection: %v", r.Status)
	}
	c3 := e.raw() // another 3.x dialect
	if r := c3.call(CmdNegotiate, negotiateBody([]uint16{Dialect302}, capMultiChannel, nil), nil); r.Status != StatusSuccess {
		t.Fatalf("NEGOTIATE: %v", r.Status)
	}
	c3.signer = main
	if r, _ := c3.ntlmExchange("alice", alicePass, setupBinding, binding); r.Status != StatusInvalidParameter {
		t.Errorf("binding a 3.0.2 connection to a 3.0 session: %v", r.Status)
	}
	// A guest session has no key to bind with.
	g := e.raw()
	g.negotiate30()
	if r, _ := g.ntlmExchange("", "", 0, nil); r.Status != StatusSuccess {
		t.Fatalf("anonymous logon: %v", r.Status)
	}
	c4 := e.raw()
	c4.negotiate30()
	c4.signer = main
	if r, _ := c4.ntlmExchange("alice", alicePass, setupBinding, func(h *Header) { h.SessionID = g.session; h.Flags |= FlagSigned }); r.Status != StatusNotSupported {
		t.Errorf("binding to an anonymous session: %v", r.Status)
	}
}

// An NTLMv2 response whose AV pair list does not parse is a malformed
// message (STATUS_INVALID_PARAMETER), not a wrong password.
func TestMalformedAVPairs(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	nt := bytes.Repeat([]byte{0xab}, 16)
	nt = append(nt, 1, 1, 0, 0, 0, 0, 0, 0)
	nt = append(nt, bytes.Repeat([]byte{0x3f}, 16)...)
	nt = append(nt, 0, 0, 0, 0)
	nt = append(nt, 0x11, 0xa2, 0x08, 0x81, 1, 2, 3) // a pair longer than the message
	if _, err := parseAuthenticate(buildAuthenticate(nt, "", "alice", "W", nil, ntlmNegotiateUnicode)); err == nil {
		t.Fatal("malformed AV pairs parsed")
	}
	if r := c.call(CmdSessionSetup, setupBody(ntlmNegotiateMsg()), nil); r.Status != StatusMoreProcessingRequired {
		t.Fatalf("NEGOTIATE leg: %v", r.Status)
	}
	if r := c.call(CmdSessionSetup, setupBody(buildAuthenticate(nt, "", "alice", "W", nil, rawNTLMFlags)), nil); r.Status != StatusInvalidParameter {
		t.Fatalf("AUTHENTICATE leg: %v", r.Status)
	}
}

// A session re-authenticates on any of its channels, and a failed
// re-authentication there ends it on all of them.
func TestReauthOnChannel(t *testing.T) {
	e := newEnv(t, Options{})
	c1 := e.raw()
	c1.negotiate30()
	main := logon30(t, c1, "alice", alicePass)
	c2 := e.raw()
	c2.negotiate30()
	c2.signer = main
	r, key := c2.ntlmExchange("alice", alicePass, setupBinding, func(h *Header) { h.SessionID = c1.session; h.Flags |= FlagSigned })
	if r.Status != StatusSuccess {
		t.Fatalf("binding: %v", r.Status)
	}
	ch := cmacSignerOf(key)
	c2.signer = ch
	if r, _ := c2.ntlmExchange("alice", alicePass, 0, signedReq); r.Status != StatusSuccess || !verify(ch, r.msg) {
		t.Fatalf("reauth on the channel: %v", r.Status)
	}
	if r, _ := c2.ntlmExchange("alice", "nope", 0, signedReq); r.Status != StatusLogonFailure {
		t.Fatalf("failed reauth on the channel: %v", r.Status)
	}
	for i, c := range []*raw{c1, c2} {
		if r := c.call(CmdTreeConnect, treeConnectBody(`\\h\export`), signedReq); r.Status != StatusUserSessionDeleted {
			t.Errorf("connection %d after the failed reauth: %v", i+1, r.Status)
		}
	}
}
