package smb

import (
	"encoding/binary"
	"testing"
	"time"
)

// withHandler installs h for cmd for the duration of a test. It must be
// called before the server starts, so that the server's goroutines see it.
func withHandler(t *testing.T, cmd Command, h Handler) {
	old := handlers[cmd]
	handlers[cmd] = h
	t.Cleanup(func() { handlers[cmd] = old })
}

// waitForCancel is an asynchronous handler that completes when cancelled.
func waitForCancel(w *Response, r *Request) {
	p := r.GoAsync()
	go func() {
		<-p.Context().Done()
		p.Complete(func(w *Response) { w.Error(StatusCancelled) })
	}()
}

func TestAsyncCancel(t *testing.T) {
	withHandler(t, CmdChangeNotify, waitForCancel)
	e := newEnv(t, Options{})
	c := e.connect("export")
	for _, byAsyncID := range []bool{true, false} {
		m := c.msg(CmdChangeNotify, make([]byte, 32), func(h *Header) { h.Credits = 3 })
		id := c.next - 1
		c.send(m)
		interim := c.recv()[0]
		if interim.Status != StatusPending || interim.Flags&FlagAsync == 0 || interim.AsyncID == 0 ||
			interim.MessageID != id || interim.Credits != 3 || len(interim.body) != 9 {
			t.Fatalf("interim response: %+v %x", interim.Header, interim.body)
		}
		c.send(c.msg(CmdCancel, echoBody, func(h *Header) {
			h.MessageID = id
			if byAsyncID {
				h.Flags |= FlagAsync
				h.AsyncID = interim.AsyncID
			}
		}))
		c.next = id + 1 // CANCEL consumes no credit
		final := c.recv()[0]
		if final.Status != StatusCancelled || final.Flags&FlagAsync == 0 || final.AsyncID != interim.AsyncID ||
			final.MessageID != id || final.Credits != 0 {
			t.Fatalf("final response: %+v", final.Header)
		}
	}
	// In a compound, the interim response takes the request's place.
	c.send(compound(c.msg(CmdEcho, echoBody, nil), c.msg(CmdChangeNotify, make([]byte, 32), nil)))
	rs := c.recv()
	if len(rs) != 2 || rs[0].Status != StatusSuccess || rs[1].Status != StatusPending {
		t.Fatalf("compound with an async request: %+v", rs)
	}
	// Logoff cancels what is pending and its final response is dropped:
	// the next frame is the LOGOFF response.
	r := c.call(CmdLogoff, echoBody, nil)
	if r.Command != CmdLogoff || r.Status != StatusSuccess {
		t.Fatalf("logoff: %+v", r.Header)
	}
	c.nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	var b [1]byte
	if n, _ := c.nc.Read(b[:]); n != 0 {
		t.Fatal("a response after LOGOFF")
	}
}

func TestSigning(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	signed := func(h *Header) { h.Flags |= FlagSigned }
	r := c.call(CmdEcho, echoBody, signed)
	if r.Status != StatusSuccess || r.Flags&FlagSigned == 0 || !verify(c.signer, r.msg) {
		t.Fatalf("signed ECHO: %+v", r.Header)
	}
	// A bad signature is refused.
	m := c.msg(CmdEcho, echoBody, signed)
	m[50] ^= 1
	c.send(m)
	if r := c.recv()[0]; r.Status != StatusAccessDenied {
		t.Fatalf("bad signature: %v", r.Status)
	}
	// Unsigned requests pass when signing is not required.
	if r := c.call(CmdEcho, echoBody, nil); r.Status != StatusSuccess || r.Flags&FlagSigned != 0 {
		t.Fatalf("unsigned ECHO: %+v", r.Header)
	}

	e = newEnv(t, Options{RequireSigning: true})
	c = e.raw()
	r = c.negotiate21()
	if binary.LittleEndian.Uint16(r.body[2:]) != negSigningEnabled|negSigningRequired {
		t.Fatalf("security mode %x", r.body[2:4])
	}
	if st := c.logon("alice", alicePass); st != StatusSuccess {
		t.Fatal(st)
	}
	if r := c.call(CmdTreeConnect, treeConnectBody(`\\h\export`), nil); r.Status != StatusAccessDenied {
		t.Fatalf("unsigned TREE_CONNECT with signing required: %v", r.Status)
	}
	r = c.call(CmdTreeConnect, treeConnectBody(`\\h\export`), signed)
	if r.Status != StatusSuccess || !verify(c.signer, r.msg) {
		t.Fatalf("signed TREE_CONNECT: %v", r.Status)
	}
	// Anonymous sessions have no key to sign with: refused.
	c = e.raw()
	c.negotiate21()
	if st := c.logon("", ""); st != StatusAccessDenied {
		t.Fatalf("anonymous logon with signing required: %v", st)
	}
}

func TestLogoffAndReauth(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	id, keys := c.session, c.signer

	// Re-authentication as the same user keeps the session and its keys.
	if st := c.logon("ALICE", alicePass); st != StatusSuccess || c.session != id {
		t.Fatalf("reauth: %v, session %x -> %x", st, id, c.session)
	}
	c.signer = keys
	if r := c.call(CmdEcho, echoBody, func(h *Header) { h.Flags |= FlagSigned }); r.Status != StatusSuccess || !verify(keys, r.msg) {
		t.Fatalf("after reauth: %v", r.Status)
	}
	if r := c.call(CmdLogoff, echoBody, nil); r.Status != StatusSuccess {
		t.Fatalf("logoff: %v", r.Status)
	}
	if r := c.call(CmdEcho, echoBody, nil); r.Status != StatusUserSessionDeleted {
		t.Fatalf("ECHO after logoff: %v", r.Status)
	}
	if r := c.call(CmdTreeConnect, treeConnectBody(`\\h\export`), nil); r.Status != StatusUserSessionDeleted {
		t.Fatalf("TREE_CONNECT after logoff: %v", r.Status)
	}
}

// A failed re-authentication ends the session (MS-SMB2 3.3.5.5.3), and
// so does one that proves another user.
func TestFailedReauth(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		user, pass string
		want       Status
	}{{"alice", "nope", StatusLogonFailure}, {"bob", bobPass, StatusAccessDenied}} {
		c := e.connect("export")
		id := c.session
		if st := c.logon(tc.user, tc.pass); st != tc.want {
			t.Fatalf("reauth as %s: %v, want %v", tc.user, st, tc.want)
		}
		c.session = id
		if r := c.call(CmdTreeConnect, treeConnectBody(`\\h\export`), nil); r.Status != StatusUserSessionDeleted {
			t.Fatalf("after a failed reauth as %s: %v", tc.user, r.Status)
		}
	}
}

func TestTreeConnect(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	for _, p := range []struct {
		path string
		want Status
	}{
		{`\\h\nosuch`, StatusBadNetworkName},
		{`export`, StatusBadNetworkName},
		{`\\h\export\sub`, StatusBadNetworkName},
		{`\\h\EXPORT`, StatusSuccess},
		{`\\h\ipc$`, StatusSuccess},
	} {
		if r := c.call(CmdTreeConnect, treeConnectBody(p.path), nil); r.Status != p.want {
			t.Errorf("TREE_CONNECT %s: %v, want %v", p.path, r.Status, p.want)
		}
	}
	r := c.call(CmdTreeConnect, treeConnectBody(`\\h\export`), nil)
	b := r.body
	if binary.LittleEndian.Uint16(b) != 16 || b[2] != shareTypeDisk || binary.LittleEndian.Uint32(b[4:]) != 0 ||
		binary.LittleEndian.Uint32(b[12:]) != accessAll {
		t.Fatalf("TREE_CONNECT response %x", b)
	}
	c.tree = r.TreeID
	if r := c.call(CmdTreeDisconnect, echoBody, nil); r.Status != StatusSuccess {
		t.Fatalf("TREE_DISCONNECT: %v", r.Status)
	}
	if r := c.call(CmdCreate, createBody("f"), nil); r.Status != StatusNetworkNameDeleted {
		t.Fatalf("CREATE on a disconnected tree: %v", r.Status)
	}
	if r := c.call(CmdTreeDisconnect, echoBody, nil); r.Status != StatusNetworkNameDeleted {
		t.Fatalf("second TREE_DISCONNECT: %v", r.Status)
	}
}

func TestGuest(t *testing.T) {
	e := newEnv(t, Options{MapToGuest: true})
	// A second NEGOTIATE message restarts an exchange in progress.
	c := e.raw()
	c.negotiate21()
	r := c.call(CmdSessionSetup, setupBody(ntlmNegotiateMsg()), nil)
	c.session = r.SessionID
	if st := c.logon("bob", bobPass); st != StatusSuccess || c.session != r.SessionID {
		t.Fatalf("restarted logon: %v", st)
	}
	// The session flags tell the client what it got.
	for _, c := range []struct {
		user string
		flag uint16
	}{{"", sessionFlagNull}, {"stranger", sessionFlagGuest}, {"alice", 0}} {
		cl := e.raw()
		cl.negotiate21()
		pass := ""
		if c.user == "alice" {
			pass = alicePass
		}
		flags, st := cl.logonFlags(c.user, pass)
		if st != StatusSuccess || flags != c.flag {
			t.Fatalf("%q: %v flags %#x, want %#x", c.user, st, flags, c.flag)
		}
		for share, want := range map[string]Status{"export": StatusAccessDenied, "public": StatusSuccess, "IPC$": StatusSuccess} {
			if c.user == "alice" {
				want = StatusSuccess
			}
			if r := cl.call(CmdTreeConnect, treeConnectBody(`\\h\`+share), nil); r.Status != want {
				t.Errorf("%q on %s: %v, want %v", c.user, share, r.Status, want)
			}
		}
	}
	// Without MapToGuest an unknown user fails like a wrong password.
	e = newEnv(t, Options{})
	c = e.raw()
	c.negotiate21()
	if st := c.logon("stranger", ""); st != StatusLogonFailure {
		t.Fatalf("unknown user: %v", st)
	}
}

func TestSessionSetupErrors(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.raw()
	c.negotiate21()
	for _, tc := range []struct {
		name string
		body []byte
		want Status
	}{
		{"short", []byte{25, 0}, StatusInvalidParameter},
		{"buffer outside", func() []byte { b := setupBody(nil); binary.LittleEndian.PutUint16(b[14:], 100); return b }(), StatusInvalidParameter},
		{"binding without a session", func() []byte { b := setupBody(ntlmNegotiateMsg()); b[2] = setupBinding; return b }(), StatusInvalidParameter},
		{"not a token", setupBody([]byte("hello")), StatusInvalidParameter},
		{"AUTHENTICATE first", setupBody(buildAuthenticate(nil, "", "alice", "", nil, ntlmNegotiateUnicode)), StatusInvalidParameter},
	} {
		if r := c.call(CmdSessionSetup, tc.body, nil); r.Status != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, r.Status, tc.want)
		}
	}
	// An unknown session id.
	if r := c.call(CmdSessionSetup, setupBody(ntlmNegotiateMsg()), func(h *Header) { h.SessionID = 12345 }); r.Status != StatusUserSessionDeleted {
		t.Errorf("unknown session: %v", r.Status)
	}
	// The connection still works.
	if st := c.logon("bob", bobPass); st != StatusSuccess {
		t.Fatalf("logon after errors: %v", st)
	}
}

// A handler may complete its asynchronous request before it even returns:
// the final response still follows the interim one.
func TestAsyncImmediate(t *testing.T) {
	withHandler(t, CmdChangeNotify, func(w *Response, r *Request) {
		p := r.GoAsync()
		p.Complete(func(w *Response) { w.Write([]byte{9, 0, 0, 0, 0, 0, 0, 0, 0}) })
	})
	e := newEnv(t, Options{})
	c := e.connect("export")
	for range 20 {
		c.send(c.msg(CmdChangeNotify, make([]byte, 32), nil))
		interim, final := c.recv()[0], c.recv()[0]
		if interim.Status != StatusPending || final.Status != StatusSuccess || final.AsyncID != interim.AsyncID ||
			final.MessageID != interim.MessageID {
			t.Fatalf("interim %+v, final %+v", interim.Header, final.Header)
		}
	}
}
