package rpc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// The test program: versions 2-3 and 5 (so PROG_MISMATCH reports 2-5),
// one procedure per behaviour under test.
const (
	testProg = 200100

	procNull      = 0
	procEcho      = 1 // opaque<1024> back
	procGarbage   = 3 // returns ErrGarbageArgs
	procTooWeak   = 4 // returns ErrAuthTooWeak
	procPanic     = 5 // panics
	procDrop      = 6 // returns ErrDrop
	procFail      = 7 // returns an unclassified error
	procOverread  = 9 // reads more than it was sent and returns nil
	procCred      = 10
	procGate      = 11 // reports its argument on started, waits on gate, echoes it
	procWhere     = 12 // local address and network
	procDropFirst = 13 // drops the first call with each XID, answers the next
)

type testHandler struct {
	gate    chan struct{}
	started chan uint32

	mu   sync.Mutex
	seen map[uint32]int
}

func newTestHandler() *testHandler {
	return &testHandler{gate: make(chan struct{}), started: make(chan uint32, 100), seen: make(map[uint32]int)}
}

func (h *testHandler) ServeRPC(ctx context.Context, c *Call, w *xdr.Writer) error {
	switch c.Proc {
	case procNull:
		return nil
	case procEcho:
		w.Opaque(c.Args.Opaque(1024))
		return nil
	case procGarbage:
		return ErrGarbageArgs
	case procTooWeak:
		return ErrAuthTooWeak
	case procPanic:
		panic("handler exploded")
	case procDrop:
		return ErrDrop
	case procFail:
		return errors.New("disk on fire")
	case procOverread:
		c.Args.Uint64()
		w.Uint32(1)
		return nil
	case procCred:
		w.Uint32(c.Cred.Flavor)
		w.Uint32(c.Cred.Stamp)
		w.String(c.Cred.MachineName)
		w.Uint32(c.Cred.UID)
		w.Uint32(c.Cred.GID)
		w.Uint32(uint32(len(c.Cred.GIDs)))
		for _, g := range c.Cred.GIDs {
			w.Uint32(g)
		}
		return nil
	case procGate:
		v := c.Args.Uint32()
		h.started <- v
		<-h.gate
		w.Uint32(v)
		return nil
	case procWhere:
		w.String(c.LocalAddr.String())
		w.String(c.Network)
		return nil
	case procDropFirst:
		h.mu.Lock()
		h.seen[c.XID]++
		n := h.seen[c.XID]
		h.mu.Unlock()
		if n == 1 {
			return ErrDrop
		}
		w.Uint32(uint32(n))
		return nil
	}
	return ErrProcUnavail
}

// logBuffer collects a server's log for assertions.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type testServer struct {
	s       *Server
	h       *testHandler
	log     *logBuffer
	tcp     string
	udp     string
	tcpDone chan error
	udpDone chan error
}

func startServer(t *testing.T, opt ServerOptions) *testServer {
	t.Helper()
	return startServerWith(t, opt, false)
}

func startServerWith(t *testing.T, opt ServerOptions, forcePktinfo bool) *testServer {
	t.Helper()
	ts := &testServer{h: newTestHandler(), log: new(logBuffer), tcpDone: make(chan error, 1), udpDone: make(chan error, 1)}
	opt.Logger = slog.New(slog.NewTextHandler(ts.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ts.s = NewServer(opt)
	ts.s.forcePktinfo = forcePktinfo
	ts.s.Register(Program{Prog: testProg, Low: 2, High: 3, Name: "test", Handler: ts.h})
	ts.s.Register(Program{Prog: testProg, Low: 5, High: 5, Name: "test5", Handler: ts.h})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.tcp, ts.udp = l.Addr().String(), pc.LocalAddr().String()
	go func() { ts.tcpDone <- ts.s.ServeTCP(l) }()
	go func() { ts.udpDone <- ts.s.ServeUDP(pc) }()
	t.Cleanup(func() {
		close(ts.h.gate)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ts.s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return ts
}

// be encodes words big-endian.
func be(words ...uint32) []byte {
	b := make([]byte, 0, 4*len(words))
	for _, w := range words {
		b = binary.BigEndian.AppendUint32(b, w)
	}
	return b
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// xdrString encodes a string or opaque with its length and padding.
func xdrString(s string) []byte {
	w := xdr.NewWriter(nil)
	w.String(s)
	return w.Bytes()
}

var authNone = be(AuthNone, 0)

func authSys(stamp uint32, name string, uid, gid uint32, gids ...uint32) []byte {
	body := cat(be(stamp), xdrString(name), be(uid, gid, uint32(len(gids))), be(gids...))
	return cat(be(AuthSys, uint32(len(body))), body)
}

// call builds a call message with AUTH_NONE.
func call(xid, vers, proc uint32, args ...[]byte) []byte {
	return callAuth(xid, 2, testProg, vers, proc, authNone, authNone, args...)
}

func callAuth(xid, rpcvers, prog, vers, proc uint32, cred, verf []byte, args ...[]byte) []byte {
	return cat(be(xid, MsgCall, rpcvers, prog, vers, proc), cred, verf, cat(args...))
}

func accepted(xid, stat uint32, rest ...uint32) []byte {
	return be(append([]uint32{xid, MsgReply, MsgAccepted, AuthNone, 0, stat}, rest...)...)
}

func success(xid uint32, results ...[]byte) []byte {
	return cat(accepted(xid, Success), cat(results...))
}

func authErr(xid, stat uint32) []byte { return be(xid, MsgReply, MsgDenied, AuthError, stat) }

// wire is a raw connection to the server, TCP or UDP.
type wire struct {
	t    *testing.T
	nc   net.Conn
	tcp  bool
	recs *recordReader
}

func dialWire(t *testing.T, network, addr string) *wire {
	t.Helper()
	nc, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	w := &wire{t: t, nc: nc, tcp: network == "tcp"}
	if w.tcp {
		w.recs = &recordReader{r: bufio.NewReader(nc), maxSize: 1 << 24, maxFrags: 16}
	}
	return w
}

func (w *wire) send(msg []byte) {
	w.t.Helper()
	if w.tcp {
		msg = cat(be(lastFragment|uint32(len(msg))), msg)
	}
	w.sendRaw(msg)
}

func (w *wire) sendRaw(b []byte) {
	w.t.Helper()
	if _, err := w.nc.Write(b); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// recv reads one reply, failing the test if none comes within 5 s.
func (w *wire) recv() []byte {
	w.t.Helper()
	b, err := w.recvWithin(5 * time.Second)
	if err != nil {
		w.t.Fatalf("no reply: %v", err)
	}
	return b
}

func (w *wire) recvWithin(d time.Duration) ([]byte, error) {
	w.nc.SetReadDeadline(time.Now().Add(d))
	defer w.nc.SetReadDeadline(time.Time{})
	if w.tcp {
		return w.recs.read(nil)
	}
	buf := make([]byte, 1<<16)
	n, err := w.nc.Read(buf)
	return buf[:n], err
}

// expectNothing checks that no reply arrives within a short time.
func (w *wire) expectNothing() {
	w.t.Helper()
	if b, err := w.recvWithin(200 * time.Millisecond); err == nil {
		w.t.Fatalf("unexpected reply % x", b)
	} else if !isTimeout(err) {
		w.t.Fatalf("read: %v", err)
	}
}

// expectClosed checks that the server closes the connection.
func (w *wire) expectClosed() {
	w.t.Helper()
	w.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, w.nc)
	if err != nil && !strings.Contains(err.Error(), "connection reset") {
		w.t.Fatalf("connection not closed by server: %v", err)
	}
}

func (w *wire) roundTrip(msg, want []byte) {
	w.t.Helper()
	w.send(msg)
	if got := w.recv(); !bytes.Equal(got, want) {
		w.t.Fatalf("reply\n got % x\nwant % x", got, want)
	}
}

var transports = []string{"tcp", "udp"}

func (ts *testServer) addr(network string) string {
	if network == "tcp" {
		return ts.tcp
	}
	return ts.udp
}
