package smb

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	contentmem "github.com/tandemfs/tandem/internal/content/memory"
	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/identity"
	metamem "github.com/tandemfs/tandem/internal/meta/memory"
)

// discardConn is a net.Conn that swallows writes.
type discardConn struct{}

func (discardConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (discardConn) Write(b []byte) (int, error)      { return len(b), nil }
func (discardConn) Close() error                     { return nil }
func (discardConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (discardConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (discardConn) SetDeadline(time.Time) error      { return nil }
func (discardConn) SetReadDeadline(time.Time) error  { return nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }

// fuzzServer is a server with one user, one share and a log that
// remembers handler panics, which the server survives but a fuzz target
// must report.
func fuzzServer(t testing.TB) (*Server, *panicLog) {
	ctx := context.Background()
	m := metamem.New()
	f, err := fs.New(m, contentmem.New(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.AddShare(ctx, fs.ShareConfig{Name: "export"}); err != nil {
		t.Fatal(err)
	}
	ids := identity.New(m)
	if err := ids.AddUser(ctx, "alice", alicePass, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	pl := &panicLog{}
	return New(f, ids, Options{Logger: slog.New(pl), Share: func(string) ShareOptions { return ShareOptions{Guest: true} }}), pl
}

// panicLog is a slog.Handler that keeps the last "handler panic" record.
type panicLog struct {
	mu   sync.Mutex
	last string
}

func (*panicLog) Enabled(context.Context, slog.Level) bool { return true }
func (*panicLog) WithAttrs([]slog.Attr) slog.Handler       { panic("unused") }
func (*panicLog) WithGroup(string) slog.Handler            { panic("unused") }
func (p *panicLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "smb: handler panic" {
		var b strings.Builder
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, "%s=%v\n", a.Key, a.Value)
			return true
		})
		p.mu.Lock()
		p.last = b.String()
		p.mu.Unlock()
	}
	return nil
}

func (p *panicLog) check(t *testing.T) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last != "" {
		t.Fatalf("handler panic:\n%s", p.last)
	}
}

// fuzzConn is a connection of srv over discardConn, negotiated at dialect
// (0 for none).
func fuzzConn(srv *Server, dialect uint16) *Conn {
	c := newConn(srv, discardConn{})
	c.credits.high = 1 << 20 // any message id is in the window
	c.credits.held = 1 << 20
	c.credits.max = 1 << 20
	c.credits.used = make([]uint64, (2<<20)/64)
	if dialect != 0 {
		c.clientCaps = capLargeMTU
		c.setDialect(dialect)
	}
	return c
}

func message(cmd Command, body []byte, mod func(h *Header)) []byte {
	h := Header{Command: cmd, Credits: 1}
	if mod != nil {
		mod(&h)
	}
	m := make([]byte, HeaderSize, HeaderSize+len(body))
	h.encode(m)
	return append(m, body...)
}

// numbered gives the messages MessageIds 0, 1, ... and compounds them.
func numbered(msgs ...[]byte) []byte {
	for i, m := range msgs {
		binary.LittleEndian.PutUint64(m[24:], uint64(i))
	}
	return compound(msgs...)
}

func FuzzHeader(f *testing.F) {
	f.Add(message(CmdEcho, echoBody, nil))
	f.Add(message(CmdRead, nil, func(h *Header) { h.Flags = FlagAsync | FlagSigned; h.AsyncID = 9 }))
	var tr [transformSize]byte
	(&transform{OriginalSize: 100, Flags: 1, SessionID: 5}).encode(tr[:])
	f.Add(tr[:])
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := decodeHeader(b)
		if err == nil {
			out := make([]byte, HeaderSize)
			h.encode(out)
			back, err := decodeHeader(out)
			if err != nil || back != h {
				t.Fatalf("header does not round-trip: %+v -> %+v (%v)", h, back, err)
			}
		}
		if tr, err := decodeTransform(b); err == nil {
			out := make([]byte, transformSize)
			tr.encode(out)
			if back, _ := decodeTransform(out); back != tr {
				t.Fatalf("transform does not round-trip")
			}
		}
		var arr [8][]byte
		splitCompound(b, arr[:0])
	})
}

func FuzzNegotiate(f *testing.F) {
	pre := appendContext(nil, ctxPreauth, append([]byte{1, 0, 4, 0, 1, 0}, 1, 2, 3, 4))
	ctxs := appendContext(padTo8(pre), ctxEncryption, []byte{2, 0, 2, 0, 1, 0})
	ctxs = appendContext(padTo8(ctxs), ctxSigning, []byte{1, 0, 2, 0})
	f.Add(negotiateBody([]uint16{Dialect202, Dialect311}, capLargeMTU, ctxs))
	f.Add(negotiateBody([]uint16{Dialect210}, 0, nil))
	f.Add(smb1Negotiate("NT LM 0.12", "SMB 2.002", "SMB 2.???"))
	srv, _ := fuzzServer(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		c := fuzzConn(srv, 0)
		m := message(CmdNegotiate, body, nil)
		w := newResponse()
		r := &Request{Header: Header{Command: CmdNegotiate}, Msg: m, Body: m[HeaderSize:], Conn: c, chain: &chain{}}
		serveNegotiate(w, r)
		if w.Status == StatusSuccess && (c.dialect == 0 || w.Len() < 64) {
			t.Fatalf("success without a dialect or body")
		}
		c2 := fuzzConn(srv, 0)
		c2.negotiateSMB1(append(bytes.Clone(protoSMB1[:]), body...))
	})
}

func FuzzSessionSetup(f *testing.F) {
	f.Add(ntlmNegotiateMsg())
	f.Add(spnegoInit(ntlmNegotiateMsg()))
	f.Add(encodeNegTokenResp(negAcceptIncomplete, false, buildAuthenticate(make([]byte, 60), "D", "alice", "W", make([]byte, 16), rawNTLMFlags), []byte("mic")))
	f.Add(buildAuthenticate(nil, "", "", "", nil, ntlmNegotiateUnicode))
	f.Add(negTokenInit2())
	srv, _ := fuzzServer(f)
	f.Fuzz(func(t *testing.T, token []byte) {
		parseSPNEGO(token)
		parseAuthenticate(token)
		n := &ntlmServer{computer: "C", domain: "D"}
		n.challengeMessage(token, 0)
		// Both legs of a session, whichever the token is.
		c := fuzzConn(srv, Dialect311)
		x := c.newExchange()
		c.step(context.Background(), x, ntlmNegotiateMsg())
		c.step(context.Background(), x, token)
		c.step(context.Background(), c.newExchange(), token)
	})
}

// spnegoInit wraps an NTLM token in a client's initial SPNEGO token.
func spnegoInit(tok []byte) []byte {
	mechs := appendTLV(nil, tagSequence, appendTLV(nil, tagOID, oidNTLMSSP))
	body := appendTLV(nil, tagContext0, mechs)
	body = appendTLV(body, tagContext2, appendTLV(nil, tagOctetString, tok))
	inner := appendTLV(nil, tagContext0, appendTLV(nil, tagSequence, body))
	return appendTLV(nil, tagApplication0, append(appendTLV(nil, tagOID, oidSPNEGO), inner...))
}

func FuzzCompound(f *testing.F) {
	related := func(h *Header) { h.Flags |= FlagRelated }
	f.Add(numbered(message(CmdEcho, echoBody, nil), message(CmdEcho, echoBody, related)))
	f.Add(numbered(message(CmdSessionSetup, setupBody(spnegoInit(ntlmNegotiateMsg())), nil), message(CmdTreeConnect, treeConnectBody(`\\h\IPC$`), related)))
	f.Add(numbered(message(CmdCreate, createBody("srvsvc"), nil), message(CmdClose, closeBody(relatedFileID), related)))
	f.Add(message(CmdCancel, echoBody, func(h *Header) { h.Flags = FlagAsync; h.AsyncID = 1 }))
	f.Add(message(CmdIoctl, make([]byte, 56), nil))
	anon := buildAuthenticate(nil, "", "", "", nil, ntlmNegotiateUnicode)
	f.Add(numbered(message(CmdSessionSetup, setupBody(ntlmNegotiateMsg()), nil),
		message(CmdSessionSetup, setupBody(anon), related),
		message(CmdTreeConnect, treeConnectBody(`\\h\export`), related),
		message(CmdTreeConnect, treeConnectBody(`\\h\IPC$`), related),
		message(CmdCreate, createBody("srvsvc"), related),
		message(CmdWrite, make([]byte, 48), related)))
	var tr [transformSize]byte
	(&transform{OriginalSize: 64, Flags: 1, SessionID: 5}).encode(tr[:])
	f.Add(append(tr[:], make([]byte, 64)...))
	srv, pl := fuzzServer(f)
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) < 4 {
			return
		}
		for _, d := range []uint16{Dialect210, Dialect311} {
			c := fuzzConn(srv, d)
			var arr [8][]byte
			if msgs, enc, ok := c.accept(bytes.Clone(frame), arr[:0]); ok {
				c.serveChain(msgs, enc)
			}
			pl.check(t)
		}
	})
}

// captureConn is a discardConn that keeps what is written.
type captureConn struct {
	discardConn
	mu  sync.Mutex
	out []byte
}

func (c *captureConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out = append(c.out, b...)
	return len(b), nil
}

// TestAnonymousCompound runs a whole anonymous logon, two tree connects
// and a pipe open as one related compound, the fuzz seed that reaches
// deepest, and checks each status.
func TestAnonymousCompound(t *testing.T) {
	srv, pl := fuzzServer(t)
	cc := &captureConn{}
	c := newConn(srv, cc)
	c.clientCaps = capLargeMTU
	c.setDialect(Dialect210)
	c.credits = newCreditWindow(64)
	c.credits.grant(10)
	related := func(h *Header) { h.Flags |= FlagRelated }
	anon := buildAuthenticate(nil, "", "", "", nil, ntlmNegotiateUnicode)
	frame := numbered(message(CmdSessionSetup, setupBody(ntlmNegotiateMsg()), nil),
		message(CmdSessionSetup, setupBody(anon), related),
		message(CmdTreeConnect, treeConnectBody(`\\h\export`), related),
		message(CmdTreeConnect, treeConnectBody(`\\h\IPC$`), related),
		message(CmdCreate, createBody("srvsvc"), related),
		message(CmdWrite, make([]byte, 48), related))
	var arr [8][]byte
	msgs, enc, ok := c.accept(frame, arr[:0])
	if !ok {
		t.Fatal("frame refused")
	}
	c.serveChain(msgs, enc)
	pl.check(t)
	want := []Status{StatusMoreProcessingRequired, StatusSuccess, StatusSuccess, StatusSuccess, StatusSuccess, StatusInvalidParameter}
	b := cc.out[4:]
	for i, st := range want {
		h, err := decodeHeader(b)
		if err != nil || h.Status != st {
			t.Fatalf("response %d: %v, want %v", i, h.Status, st)
		}
		b = b[h.NextCommand:]
	}
}
