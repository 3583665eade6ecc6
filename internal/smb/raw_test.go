package smb

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/rc4"
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/identity"
)

// raw is a hand-driven SMB2 client for exact protocol tests: it builds
// messages byte by byte and reads responses whole.
type raw struct {
	t       testing.TB
	nc      net.Conn
	next    uint64 // next MessageId
	session uint64
	tree    uint32
	signer  signer
}

func (e *env) raw() *raw {
	e.t.Helper()
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { nc.Close() })
	return &raw{t: e.t, nc: nc}
}

// msg builds one request message.
func (c *raw) msg(cmd Command, body []byte, mod func(h *Header)) []byte {
	h := Header{Command: cmd, Credits: 8, MessageID: c.next, SessionID: c.session, TreeID: c.tree}
	if mod != nil {
		mod(&h)
	}
	c.next = h.MessageID + uint64(max(h.CreditCharge, 1))
	m := make([]byte, HeaderSize, HeaderSize+len(body))
	h.encode(m)
	m = append(m, body...)
	if h.Flags&FlagSigned != 0 && c.signer != nil {
		signMessage(c.signer, m)
	}
	return m
}

// compound chains messages, padding each but the last to 8 bytes.
func compound(msgs ...[]byte) []byte {
	var out []byte
	for i, m := range msgs {
		if i < len(msgs)-1 {
			for len(m)%8 != 0 {
				m = append(m, 0)
			}
			binary.LittleEndian.PutUint32(m[20:], uint32(len(m)))
		}
		out = append(out, m...)
	}
	return out
}

func (c *raw) send(payload []byte) {
	c.t.Helper()
	f := make([]byte, 4, 4+len(payload))
	putFrameLen(f, len(payload))
	if _, err := c.nc.Write(append(f, payload...)); err != nil {
		c.t.Fatal(err)
	}
}

// recv reads one frame and splits it into responses.
func (c *raw) recv() []resp {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var hdr [4]byte
	if _, err := io.ReadFull(c.nc, hdr[:]); err != nil {
		c.t.Fatalf("reading a response: %v", err)
	}
	b := make([]byte, int(hdr[1])<<16|int(hdr[2])<<8|int(hdr[3]))
	if _, err := io.ReadFull(c.nc, b); err != nil {
		c.t.Fatal(err)
	}
	var out []resp
	for {
		h, err := decodeHeader(b)
		if err != nil {
			c.t.Fatalf("bad response header: %x", b)
		}
		n := len(b)
		if h.NextCommand != 0 {
			n = int(h.NextCommand)
		}
		out = append(out, resp{Header: h, msg: b[:n], body: b[HeaderSize:n]})
		if h.NextCommand == 0 {
			return out
		}
		b = b[n:]
	}
}

// closed reports whether the server closed the connection.
func (c *raw) closed() bool {
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [1]byte
	_, err := c.nc.Read(b[:])
	return err != nil
}

type resp struct {
	Header
	msg, body []byte
}

// call sends one request and returns its one response.
func (c *raw) call(cmd Command, body []byte, mod func(h *Header)) resp {
	c.t.Helper()
	c.send(c.msg(cmd, body, mod))
	rs := c.recv()
	if len(rs) != 1 {
		c.t.Fatalf("%d responses to one request", len(rs))
	}
	return rs[0]
}

func negotiateBody(dialects []uint16, caps uint32, contexts []byte) []byte {
	b := make([]byte, 36)
	binary.LittleEndian.PutUint16(b, 36)
	binary.LittleEndian.PutUint16(b[2:], uint16(len(dialects)))
	binary.LittleEndian.PutUint16(b[4:], negSigningEnabled)
	binary.LittleEndian.PutUint32(b[8:], caps)
	copy(b[12:28], "client-guid-0001")
	for _, d := range dialects {
		b = binary.LittleEndian.AppendUint16(b, d)
	}
	if contexts != nil {
		for (HeaderSize+len(b))%8 != 0 {
			b = append(b, 0)
		}
		binary.LittleEndian.PutUint32(b[28:], uint32(HeaderSize+len(b)))
		binary.LittleEndian.PutUint16(b[32:], uint16(contextCount(contexts)))
		b = append(b, contexts...)
	}
	return b
}

// negotiate21 negotiates 2.1 with large MTU.
func (c *raw) negotiate21() resp {
	c.t.Helper()
	r := c.call(CmdNegotiate, negotiateBody([]uint16{Dialect202, Dialect210}, capLargeMTU, nil), nil)
	if r.Status != StatusSuccess {
		c.t.Fatalf("NEGOTIATE: %v", r.Status)
	}
	return r
}

const rawNTLMFlags = ntlmNegotiateUnicode | ntlmNegotiateNTLM | ntlmNegotiateExtSec | ntlmNegotiateKeyExch | ntlmNegotiate128 | ntlmNegotiateSign

func ntlmNegotiateMsg() []byte {
	neg := make([]byte, 32)
	copy(neg, ntlmSignature)
	binary.LittleEndian.PutUint32(neg[8:], 1)
	binary.LittleEndian.PutUint32(neg[12:], rawNTLMFlags)
	return neg
}

// logon authenticates with raw NTLMSSP tokens (no SPNEGO); the client
// signs from then on with the 2.x session key. An empty user logs on
// anonymously.
func (c *raw) logon(user, pass string) Status {
	_, st := c.logonFlags(user, pass)
	return st
}

// logonFlags is logon returning the SessionFlags too.
func (c *raw) logonFlags(user, pass string) (uint16, Status) {
	c.t.Helper()
	r, exported := c.ntlmExchange(user, pass, 0, nil)
	if r.Status == StatusSuccess {
		c.signer = newHMACSigner(exported[:])
	} else {
		c.session = 0
	}
	if len(r.body) < 4 {
		return 0, r.Status
	}
	return binary.LittleEndian.Uint16(r.body[2:]), r.Status
}

// ntlmExchange runs both legs of an NTLMv2 authentication in SESSION_SETUP
// requests with the given Flags byte, changing each header with mod. It
// returns the last response and the exported session key.
func (c *raw) ntlmExchange(user, pass string, setupFlags byte, mod func(h *Header)) (resp, [16]byte) {
	c.t.Helper()
	var exported [16]byte
	body := func(tok []byte) []byte { b := setupBody(tok); b[2] = setupFlags; return b }
	r := c.call(CmdSessionSetup, body(ntlmNegotiateMsg()), mod)
	if r.Status != StatusMoreProcessingRequired {
		return r, exported
	}
	c.session = r.SessionID
	chal := r.body[8:]
	var serverChallenge [8]byte
	copy(serverChallenge[:], chal[24:32])
	info, err := field(chal, 40)
	if err != nil {
		c.t.Fatal(err)
	}
	blob := []byte{1, 1, 0, 0, 0, 0, 0, 0}
	blob = binary.LittleEndian.AppendUint64(blob, filetime(time.Now()))
	var cc [8]byte
	rand.Read(cc[:])
	blob = append(blob, cc[:]...)
	blob = append(blob, 0, 0, 0, 0)
	blob = append(blob, info...)
	blob = append(blob, 0, 0, 0, 0)
	rk := ntowfv2(identity.NTHash(pass), user, "")
	h := hmac.New(md5.New, rk[:])
	h.Write(serverChallenge[:])
	h.Write(blob)
	proof := h.Sum(nil)
	h = hmac.New(md5.New, rk[:])
	h.Write(proof)
	base := h.Sum(nil)
	rand.Read(exported[:])
	enc := make([]byte, 16)
	rc, _ := rc4.NewCipher(base)
	rc.XORKeyStream(enc, exported[:])
	nt := append(proof, blob...)
	if user == "" {
		nt, enc = nil, nil
	}
	auth := buildAuthenticate(nt, "", user, "RAW", enc, rawNTLMFlags)
	return c.call(CmdSessionSetup, body(auth), mod), exported
}

func setupBody(token []byte) []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint16(b, 25)
	binary.LittleEndian.PutUint16(b[12:], HeaderSize+24)
	binary.LittleEndian.PutUint16(b[14:], uint16(len(token)))
	return append(b, token...)
}

func treeConnectBody(path string) []byte {
	p := utf16le(path)
	b := make([]byte, 8)
	binary.LittleEndian.PutUint16(b, 9)
	binary.LittleEndian.PutUint16(b[4:], HeaderSize+8)
	binary.LittleEndian.PutUint16(b[6:], uint16(len(p)))
	return append(b, p...)
}

// echoBody is the body of ECHO, LOGOFF and TREE_DISCONNECT.
var echoBody = []byte{4, 0, 0, 0}

func createBody(name string) []byte {
	n := utf16le(name)
	b := make([]byte, 56)
	binary.LittleEndian.PutUint16(b, 57)
	binary.LittleEndian.PutUint32(b[24:], 0x0012019f) // desired access
	binary.LittleEndian.PutUint32(b[36:], 1)          // FILE_OPEN
	binary.LittleEndian.PutUint16(b[44:], HeaderSize+56)
	binary.LittleEndian.PutUint16(b[46:], uint16(len(n)))
	return append(b, n...)
}

func closeBody(id FileID) []byte {
	b := make([]byte, 8, 24)
	binary.LittleEndian.PutUint16(b, 24)
	return id.Append(b)
}

// connect negotiates 2.1, logs alice on and connects share.
func (e *env) connect(share string) *raw {
	e.t.Helper()
	c := e.raw()
	c.negotiate21()
	if st := c.logon("alice", alicePass); st != StatusSuccess {
		e.t.Fatalf("logon: %v", st)
	}
	r := c.call(CmdTreeConnect, treeConnectBody(`\\127.0.0.1\`+share), nil)
	if r.Status != StatusSuccess {
		e.t.Fatalf("TREE_CONNECT %s: %v", share, r.Status)
	}
	c.tree = r.TreeID
	return c
}
