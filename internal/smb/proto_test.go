package smb

import (
	"bytes"
	"encoding/binary"
	"testing"
)

func TestNegotiate311(t *testing.T) {
	guid := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	e := newEnv(t, Options{ServerGUID: guid})
	c := e.raw()
	pre := []byte{1, 0, 32, 0, 1, 0}
	pre = append(pre, bytes.Repeat([]byte{7}, 32)...)
	var ctxs []byte
	ctxs = appendContext(ctxs, ctxPreauth, pre)
	ctxs = appendContext(padTo8(ctxs), ctxEncryption, []byte{2, 0, 4, 0, 1, 0})
	ctxs = appendContext(padTo8(ctxs), ctxCompression, []byte{1, 0, 0, 0, 0, 0, 0, 0, 1, 0})
	ctxs = appendContext(padTo8(ctxs), ctxSigning, []byte{2, 0, 2, 0, 1, 0})
	r := c.call(CmdNegotiate, negotiateBody([]uint16{Dialect202, Dialect300, Dialect311}, capLargeMTU|capEncryption, ctxs), nil)
	b := r.body
	if r.Status != StatusSuccess || r.Credits != 8 || r.Flags != FlagResponse {
		t.Fatalf("status %v credits %d flags %#x", r.Status, r.Credits, r.Flags)
	}
	le16, le32 := binary.LittleEndian.Uint16, binary.LittleEndian.Uint32
	if le16(b) != 65 || le16(b[2:]) != negSigningEnabled || le16(b[4:]) != Dialect311 || le16(b[6:]) != 3 ||
		[16]byte(b[8:24]) != guid || le32(b[24:]) != capLeasing|capLargeMTU ||
		le32(b[28:]) != 8<<20 || le32(b[32:]) != 8<<20 || le32(b[36:]) != 8<<20 {
		t.Fatalf("fixed part: %x", b[:64])
	}
	blob, ok := (&Request{Msg: r.msg}).Buffer(uint32(le16(b[56:])), uint32(le16(b[58:])))
	if !ok || le16(b[56:]) != 128 || !bytes.Equal(blob, negTokenInit2()) {
		t.Fatalf("security buffer at %d: %x", le16(b[56:]), blob)
	}
	off := le32(b[60:])
	if off%8 != 0 {
		t.Fatalf("context offset %d", off)
	}
	got := r.msg[off:]
	// Preauth: one hash (SHA-512) and a 32-byte salt.
	if le16(got) != ctxPreauth || le16(got[2:]) != 38 || le16(got[8:]) != 1 || le16(got[10:]) != 32 || le16(got[12:]) != hashSHA512 {
		t.Fatalf("preauth context: %x", got)
	}
	got = got[48:]
	// The first cipher of the server's order the client offers.
	if !bytes.Equal(got[:12], []byte{2, 0, 4, 0, 0, 0, 0, 0, 1, 0, byte(cipherAES128CCM), 0}) {
		t.Fatalf("encryption context: %x", got[:12])
	}
	got = got[16:]
	if !bytes.Equal(got, []byte{8, 0, 4, 0, 0, 0, 0, 0, 1, 0, byte(signAESGMAC), 0}) {
		t.Fatalf("signing context: %x", got)
	}
}

func TestNegotiateErrors(t *testing.T) {
	e := newEnv(t, Options{})
	badHash := appendContext(nil, ctxPreauth, []byte{1, 0, 0, 0, 2, 0})
	for _, c := range []struct {
		name string
		body []byte
		want Status
	}{
		{"no dialects", negotiateBody(nil, 0, nil), StatusInvalidParameter},
		{"unknown dialect", negotiateBody([]uint16{0x0222}, 0, nil), StatusNotSupported},
		{"3.1.1 without contexts", negotiateBody([]uint16{Dialect311}, 0, nil), StatusInvalidParameter},
		{"no SHA-512", negotiateBody([]uint16{Dialect311}, 0, badHash), StatusNoPreauthIntegrityOverlap},
		{"short", []byte{36, 0}, StatusInvalidParameter},
	} {
		r := e.raw().call(CmdNegotiate, c.body, nil)
		if r.Status != c.want {
			t.Errorf("%s: %v, want %v", c.name, r.Status, c.want)
		}
	}
	// A second NEGOTIATE, and anything before the first, end the
	// connection.
	c := e.raw()
	c.negotiate21()
	c.send(c.msg(CmdNegotiate, negotiateBody([]uint16{Dialect210}, 0, nil), nil))
	if !c.closed() {
		t.Error("second NEGOTIATE: connection still open")
	}
	c = e.raw()
	c.send(c.msg(CmdEcho, echoBody, nil))
	if !c.closed() {
		t.Error("ECHO before NEGOTIATE: connection still open")
	}
}

func smb1Negotiate(dialects ...string) []byte {
	b := make([]byte, 32)
	copy(b, protoSMB1[:])
	b[4] = 0x72
	var s []byte
	for _, d := range dialects {
		s = append(append(append(s, 2), d...), 0)
	}
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func TestSMB1Negotiate(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.raw()
	c.send(smb1Negotiate("NT LM 0.12", "SMB 2.002", "SMB 2.???"))
	r := c.recv()[0]
	if r.Status != StatusSuccess || r.Command != CmdNegotiate || r.MessageID != 0 || r.Credits != 1 ||
		binary.LittleEndian.Uint16(r.body[4:]) != dialectWildcard {
		t.Fatalf("wildcard answer: %+v %x", r.Header, r.body)
	}
	c.next = 1
	r = c.call(CmdNegotiate, negotiateBody([]uint16{Dialect202, Dialect210}, 0, nil), nil)
	if r.Status != StatusSuccess || binary.LittleEndian.Uint16(r.body[4:]) != Dialect210 {
		t.Fatalf("SMB2 NEGOTIATE after the upgrade: %v %x", r.Status, r.body[:8])
	}
	if st := c.logon("bob", bobPass); st != StatusSuccess {
		t.Fatalf("logon: %v", st)
	}

	// Only 2.0.2 offered: negotiated at once.
	c = e.raw()
	c.send(smb1Negotiate("NT LM 0.12", "SMB 2.002"))
	r = c.recv()[0]
	if binary.LittleEndian.Uint16(r.body[4:]) != Dialect202 {
		t.Fatalf("2.0.2 answer: %x", r.body[:8])
	}
	c.next = 1
	if st := c.logon("bob", bobPass); st != StatusSuccess {
		t.Fatalf("logon after SMB1 to 2.0.2: %v", st)
	}

	c = e.raw()
	c.send(smb1Negotiate("NT LM 0.12"))
	if !c.closed() {
		t.Fatal("SMB1 only: connection still open")
	}
}

func TestCompound(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")

	// Unrelated: two ECHOs, answered in order in one frame.
	c.send(compound(c.msg(CmdEcho, echoBody, nil), c.msg(CmdEcho, echoBody, nil)))
	rs := c.recv()
	if len(rs) != 2 || rs[0].NextCommand != 72 || rs[1].NextCommand != 0 || rs[0].MessageID+1 != rs[1].MessageID ||
		rs[0].Status != StatusSuccess || rs[1].Status != StatusSuccess {
		t.Fatalf("unrelated compound: %+v", rs)
	}

	// Related: connect IPC$, open srvsvc on the new tree and close it by
	// the inherited FileId.
	related := func(h *Header) {
		h.Flags |= FlagRelated
		h.SessionID, h.TreeID = ^uint64(0), ^uint32(0)
	}
	c.send(compound(
		c.msg(CmdTreeConnect, treeConnectBody(`\\127.0.0.1\IPC$`), nil),
		c.msg(CmdCreate, createBody("srvsvc"), related),
		c.msg(CmdClose, closeBody(relatedFileID), related),
	))
	rs = c.recv()
	if len(rs) != 3 {
		t.Fatalf("%d responses", len(rs))
	}
	for i, r := range rs {
		if r.Status != StatusSuccess || r.SessionID != c.session || r.TreeID != rs[0].TreeID || (i > 0) != (r.Flags&FlagRelated != 0) {
			t.Fatalf("related compound, response %d: %+v", i, r.Header)
		}
	}
	ipc := rs[0].TreeID
	if binary.LittleEndian.Uint16(rs[1].body) != 89 || binary.LittleEndian.Uint16(rs[2].body) != 60 {
		t.Fatalf("CREATE/CLOSE bodies: %x / %x", rs[1].body, rs[2].body)
	}

	// A failed CREATE fails the related requests after it the same way.
	c.tree = ipc
	c.send(compound(c.msg(CmdCreate, createBody("nosuch"), nil), c.msg(CmdClose, closeBody(relatedFileID), related)))
	rs = c.recv()
	if len(rs) != 2 || rs[0].Status != StatusObjectNameNotFound || rs[1].Status != StatusObjectNameNotFound {
		t.Fatalf("failed related CREATE: %+v", rs)
	}

	// A chain cannot start with a related request.
	r := c.call(CmdEcho, echoBody, func(h *Header) { h.Flags |= FlagRelated })
	if r.Status != StatusInvalidParameter {
		t.Fatalf("related first request: %v", r.Status)
	}

	// NextCommand must be 8-byte aligned.
	m := compound(c.msg(CmdEcho, echoBody, nil), c.msg(CmdEcho, echoBody, nil))
	binary.LittleEndian.PutUint32(m[20:], 68)
	c.send(m)
	if !c.closed() {
		t.Fatal("misaligned compound: connection still open")
	}
}

func TestCredits(t *testing.T) {
	e := newEnv(t, Options{MaxCredits: 16})
	c := e.connect("export")
	// The raw client asks 8 credits a request: after logging on it holds
	// the maximum, 16, and each response grants back the one consumed.
	if r := c.call(CmdEcho, echoBody, func(h *Header) { h.Credits = 100 }); r.Credits != 1 {
		t.Fatalf("grant at the maximum: %d, want 1", r.Credits)
	}
	// Ten requests in one frame consume ten ids before any is answered;
	// the first response restores the ten, the others grant none.
	var msgs [][]byte
	for range 10 {
		msgs = append(msgs, c.msg(CmdEcho, echoBody, func(h *Header) { h.Credits = 100 }))
	}
	c.send(compound(msgs...))
	for i, r := range c.recv() {
		want := uint16(0)
		if i == 0 {
			want = 10
		}
		if r.Status != StatusSuccess || r.Credits != want {
			t.Fatalf("compound response %d: %v, %d credits, want %d", i, r.Status, r.Credits, want)
		}
	}
	// A multi-credit request consumes CreditCharge ids.
	r := c.call(CmdEcho, echoBody, func(h *Header) { h.CreditCharge = 4 })
	if r.Status != StatusSuccess || r.CreditCharge != 4 || r.Credits != 4 {
		t.Fatalf("multi-credit ECHO: %+v", r.Header)
	}
	if r := c.call(CmdEcho, echoBody, nil); r.Status != StatusSuccess {
		t.Fatalf("after multi-credit: %v", r.Status)
	}
	// Reusing an id ends the connection.
	c.send(c.msg(CmdEcho, echoBody, func(h *Header) { h.MessageID = 3 }))
	if !c.closed() {
		t.Fatal("reused MessageId: connection still open")
	}
	// So does an id beyond the window, and a charge above what is held.
	c = e.connect("export")
	c.send(c.msg(CmdEcho, echoBody, func(h *Header) { h.MessageID += 16 }))
	if !c.closed() {
		t.Fatal("MessageId beyond the window: connection still open")
	}
	c = e.connect("export")
	c.send(c.msg(CmdEcho, echoBody, func(h *Header) { h.CreditCharge = 17 }))
	if !c.closed() {
		t.Fatal("charge beyond the credits held: connection still open")
	}
}

func TestChargeCovers(t *testing.T) {
	mc := &Conn{multiCredit: true}
	for _, c := range []struct {
		charge uint16
		n      uint32
		multi  bool
		want   bool
	}{
		{0, 65536, true, true}, {1, 65537, true, false}, {2, 65537, true, true},
		{128, 8 << 20, true, true}, {127, 8 << 20, true, false}, {0, 0, true, true},
		{0, 65536, false, true}, {8, 65537, false, false},
	} {
		conn := mc
		if !c.multi {
			conn = &Conn{}
		}
		r := &Request{Header: Header{CreditCharge: c.charge}, Conn: conn}
		if got := r.ChargeCovers(c.n); got != c.want {
			t.Errorf("charge %d for %d bytes (multi %v): %v", c.charge, c.n, c.multi, got)
		}
	}
}

func TestLargeFrame(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	// 8 MiB in one request, charged 128 credits (the client holds 8; ask
	// for more first).
	for range 20 {
		c.call(CmdEcho, echoBody, func(h *Header) { h.Credits = 64 })
	}
	big := make([]byte, 8<<20)
	copy(big, echoBody)
	r := c.call(CmdEcho, big, func(h *Header) { h.CreditCharge = 128 })
	if r.Status != StatusSuccess || r.CreditCharge != 128 {
		t.Fatalf("8 MiB request: %+v", r.Header)
	}
	// A frame over the limit ends the connection.
	var f [4]byte
	putFrameLen(f[:], maxFrame+1)
	c.nc.Write(f[:])
	if !c.closed() {
		t.Fatal("oversized frame: connection still open")
	}
}

func TestMalformedFrames(t *testing.T) {
	e := newEnv(t, Options{})
	for _, f := range [][]byte{
		{1, 0, 0, 4, 0xfe, 'S', 'M', 'B'},                    // not a session message
		{0, 0, 0, 2, 0xfe, 'S'},                              // shorter than a protocol id
		{0, 0, 0, 8, 'G', 'E', 'T', ' ', '/', ' ', 'H', 'T'}, // not SMB
		append([]byte{0, 0, 0, 60}, make([]byte, 60)...),     // short header
	} {
		c := e.raw()
		c.nc.Write(f)
		if !c.closed() {
			t.Errorf("frame %x: connection still open", f)
		}
	}
	// A transform before any session: nothing can decrypt it.
	c := e.raw()
	c.negotiate21()
	var tr [transformSize]byte
	(&transform{OriginalSize: 64, Flags: 1, SessionID: 1}).encode(tr[:])
	c.send(append(tr[:], make([]byte, 64)...))
	if !c.closed() {
		t.Error("transform without a session: connection still open")
	}
	// An unknown command is an error, not a disconnect.
	c = e.connect("export")
	if r := c.call(Command(0x40), nil, nil); r.Status != StatusInvalidParameter {
		t.Errorf("unknown command: %v", r.Status)
	}
	// File commands without handlers answer NOT_SUPPORTED.
	if r := c.call(CmdOplockBreak, make([]byte, 24), nil); r.Status != StatusNotSupported && handlers[CmdOplockBreak] == nil {
		t.Errorf("unhandled command: %v", r.Status)
	}
}

// TestNegotiate311ShortPreauth: a preauth context whose salt runs past
// its data is refused.
func TestNegotiate311ShortPreauth(t *testing.T) {
	e := newEnv(t, Options{})
	pre := append([]byte{1, 0, 32, 0, 1, 0}, bytes.Repeat([]byte{7}, 30)...) // says 32 bytes of salt, has 30
	r := e.raw().call(CmdNegotiate, negotiateBody([]uint16{Dialect311}, 0, appendContext(nil, ctxPreauth, pre)), nil)
	if r.Status != StatusInvalidParameter {
		t.Fatalf("short preauth context: %v, want STATUS_INVALID_PARAMETER", r.Status)
	}
}

// TestTreeConnect311Unsigned: on 3.1.1 a user's TREE_CONNECT that is
// neither signed nor encrypted ends the connection (MS-SMB2 3.3.5.7).
func TestTreeConnect311Unsigned(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.raw()
	pre := append([]byte{1, 0, 32, 0, 1, 0}, bytes.Repeat([]byte{7}, 32)...)
	if r := c.call(CmdNegotiate, negotiateBody([]uint16{Dialect311}, 0, appendContext(nil, ctxPreauth, pre)), nil); r.Status != StatusSuccess {
		t.Fatal(r.Status)
	}
	if st := c.logon("alice", alicePass); st != StatusSuccess {
		t.Fatal(st)
	}
	c.signer = nil
	c.send(c.msg(CmdTreeConnect, treeConnectBody(`\\127.0.0.1\export`), nil))
	if !c.closed() {
		t.Fatal("unsigned 3.1.1 TREE_CONNECT: connection still open")
	}
}
