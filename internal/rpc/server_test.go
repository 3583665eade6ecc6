package rpc

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// Every reply the RPC layer produces, byte for byte, on both transports.
func TestReplies(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	long := strings.Repeat("m", 256)
	gids17 := make([]uint32, 17)
	cases := []struct {
		name string
		msg  []byte
		want []byte
	}{
		{"null", call(1, 2, procNull), success(1)},
		{"echo", call(2, 3, procEcho, xdrString("hello")), success(2, xdrString("hello"))},
		{"second range", call(3, 5, procNull), success(3)},
		{"prog unavail", callAuth(4, 2, 999999, 1, 0, authNone, authNone), accepted(4, ProgUnavail)},
		{"prog mismatch low", call(5, 1, procNull), accepted(5, ProgMismatch, 2, 5)},
		{"prog mismatch gap", call(6, 4, procNull), accepted(6, ProgMismatch, 2, 5)},
		{"prog mismatch high", call(7, 6, procNull), accepted(7, ProgMismatch, 2, 5)},
		{"proc unavail", call(8, 2, 99), accepted(8, ProcUnavail)},
		{"garbage args", call(9, 2, procGarbage), accepted(9, GarbageArgs)},
		{"handler over-read", call(10, 2, procOverread, be(1)), accepted(10, GarbageArgs)},
		{"args too short to decode", call(11, 2, procEcho, be(8), []byte("abc")), accepted(11, GarbageArgs)},
		{"system err", call(12, 2, procFail), accepted(12, SystemErr)},
		{"panic", call(13, 2, procPanic), accepted(13, SystemErr)},
		{"auth too weak", call(14, 2, procTooWeak), authErr(14, AuthTooWeak)},
		{"rpc version 3", callAuth(15, 3, testProg, 2, 0, authNone, authNone), be(15, MsgReply, MsgDenied, RPCMismatch, 2, 2)},
		{"rpc version 1 short", be(16, MsgCall, 1), be(16, MsgReply, MsgDenied, RPCMismatch, 2, 2)},
		{"auth sys", callAuth(17, 2, testProg, 2, procCred, authSys(77, "client.example", 1000, 100, 4, 24, 27), authNone),
			success(17, be(AuthSys, 77), xdrString("client.example"), be(1000, 100, 3, 4, 24, 27))},
		{"auth sys no groups", callAuth(18, 2, testProg, 2, procCred, authSys(0, "", 0, 0), authNone),
			success(18, be(AuthSys, 0), xdrString(""), be(0, 0, 0))},
		{"auth sys 16 groups", callAuth(19, 2, testProg, 2, procCred, authSys(1, "h", 5, 6, gids17[:16]...), authNone),
			success(19, be(AuthSys, 1), xdrString("h"), be(5, 6, 16), be(gids17[:16]...))},
		{"auth sys 17 groups", callAuth(20, 2, testProg, 2, procCred, authSys(1, "h", 5, 6, gids17...), authNone), authErr(20, AuthBadCred)},
		{"auth sys long name", callAuth(21, 2, testProg, 2, procCred, authSys(1, long, 5, 6), authNone), authErr(21, AuthBadCred)},
		{"auth sys 255 name", callAuth(22, 2, testProg, 2, procNull, authSys(1, long[:255], 5, 6), authNone), success(22)},
		{"auth sys trailing bytes", callAuth(23, 2, testProg, 2, procNull, cat(be(AuthSys, 24, 1), xdrString(""), be(5, 6, 0, 0)), authNone), authErr(23, AuthBadCred)},
		{"auth sys truncated", callAuth(24, 2, testProg, 2, procNull, cat(be(AuthSys, 8, 1, 0)), authNone), authErr(24, AuthBadCred)},
		{"auth none with body", callAuth(25, 2, testProg, 2, procNull, be(AuthNone, 4, 0), authNone), authErr(25, AuthBadCred)},
		{"auth short", callAuth(26, 2, testProg, 2, procNull, be(AuthShort, 4, 9), authNone), authErr(26, AuthBadCred)},
		{"rpcsec gss", callAuth(27, 2, testProg, 2, procNull, be(6, 0), authNone), authErr(27, AuthBadCred)},
		{"cred body over 400", callAuth(28, 2, testProg, 2, procNull, cat(be(AuthSys, 404), make([]byte, 404)), authNone), authErr(28, AuthBadCred)},
		{"cred past end", cat(be(29, MsgCall, 2, testProg, 2, 0, AuthSys, 100), make([]byte, 8)), authErr(29, AuthBadCred)},
		{"verifier not none", callAuth(30, 2, testProg, 2, procNull, authNone, be(AuthSys, 0)), authErr(30, AuthBadVerf)},
		{"verifier with body", callAuth(31, 2, testProg, 2, procNull, authNone, be(AuthNone, 4, 1)), authErr(31, AuthBadVerf)},
		{"verifier missing", be(32, MsgCall, 2, testProg, 2, 0, AuthNone, 0), authErr(32, AuthBadVerf)},
		// The credential is checked before the program, as Linux does.
		{"bad cred unknown prog", callAuth(33, 2, 999999, 1, 0, be(6, 0), authNone), authErr(33, AuthBadCred)},
	}
	for _, network := range transports {
		w := dialWire(t, network, ts.addr(network))
		for _, tc := range cases {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				w.t = t
				w.roundTrip(tc.msg, tc.want)
			})
		}
	}
	if !strings.Contains(ts.log.String(), "disk on fire") {
		t.Errorf("unclassified handler error not logged:\n%s", ts.log)
	}
}

// Messages that get no reply leave the transport usable.
func TestNoReply(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	for _, network := range transports {
		t.Run(network, func(t *testing.T) {
			w := dialWire(t, network, ts.addr(network))
			for _, msg := range [][]byte{
				call(1, 2, procDrop),                  // ErrDrop
				be(2, MsgReply, MsgAccepted, 0, 0, 0), // a reply sent to the server
				be(3, MsgCall, 2, testProg, 2),        // cut off before the procedure
			} {
				w.send(msg)
				w.expectNothing()
				w.roundTrip(call(9, 2, procNull), success(9))
			}
		})
	}
}

// A handler panic costs one SYSTEM_ERR and a logged stack, not the
// connection.
func TestPanicKeepsConnection(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	w := dialWire(t, "tcp", ts.tcp)
	w.roundTrip(call(1, 2, procPanic), accepted(1, SystemErr))
	w.roundTrip(call(2, 2, procEcho, xdrString("still here")), success(2, xdrString("still here")))
	log := ts.log.String()
	if !strings.Contains(log, "handler panic") || !strings.Contains(log, "handler exploded") || !strings.Contains(log, "goroutine") {
		t.Errorf("panic not logged with its stack:\n%s", log)
	}
}

// A record in several fragments, an empty one among them, is one call.
func TestMultiFragmentRecord(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	w := dialWire(t, "tcp", ts.tcp)
	msg := call(5, 2, procEcho, xdrString("fragmented call"))
	var b []byte
	b = append(b, be(10)...)
	b = append(b, msg[:10]...)
	b = append(b, be(0)...)
	b = append(b, be(uint32(len(msg)-10-3))...)
	b = append(b, msg[10:len(msg)-3]...)
	b = append(b, be(lastFragment|3)...)
	b = append(b, msg[len(msg)-3:]...)
	// Two records in one write: the second must not be lost.
	b = append(b, be(lastFragment|uint32(len(call(6, 2, procNull))))...)
	b = append(b, call(6, 2, procNull)...)
	w.sendRaw(b)
	// Both calls run at once, so either reply may come first.
	got := map[string]bool{string(w.recv()): true, string(w.recv()): true}
	if !got[string(success(5, xdrString("fragmented call")))] || !got[string(success(6))] {
		t.Fatalf("replies %v", got)
	}
}

// Calls on one connection run concurrently and are answered as they
// finish, not in the order they came.
func TestOutOfOrderReplies(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	w := dialWire(t, "tcp", ts.tcp)
	w.send(call(1, 2, procGate, be(111)))
	w.send(call(2, 2, procGate, be(222)))
	for range 2 {
		<-ts.h.started
	}
	w.roundTrip(call(3, 2, procEcho, xdrString("fast")), success(3, xdrString("fast")))
	ts.h.gate <- struct{}{}
	first := w.recv()
	ts.h.gate <- struct{}{}
	second := w.recv()
	got := map[string]bool{string(first): true, string(second): true}
	if !got[string(success(1, be(111)))] || !got[string(success(2, be(222)))] {
		t.Fatalf("replies % x and % x", first, second)
	}
}

// MaxInFlightPerConn bounds the handlers running for one connection: the
// next call is not read until one finishes.
func TestInFlightBound(t *testing.T) {
	ts := startServer(t, ServerOptions{MaxInFlightPerConn: 2})
	w := dialWire(t, "tcp", ts.tcp)
	for i := range uint32(3) {
		w.send(call(i+1, 2, procGate, be(i+1)))
	}
	<-ts.h.started
	<-ts.h.started
	select {
	case v := <-ts.h.started:
		t.Fatalf("third call %d started with two in flight", v)
	case <-time.After(200 * time.Millisecond):
	}
	ts.h.gate <- struct{}{}
	w.recv()
	select {
	case <-ts.h.started:
	case <-time.After(5 * time.Second):
		t.Fatal("third call never started")
	}
	ts.h.gate <- struct{}{}
	ts.h.gate <- struct{}{}
	w.recv()
	w.recv()
}

// A connection that breaks record marking is closed; other connections
// are served before and after.
func TestBadRecordsCloseOnlyTheirConnection(t *testing.T) {
	ts := startServer(t, ServerOptions{MaxRecordSize: 64 << 10, MaxFragments: 4})
	good := dialWire(t, "tcp", ts.tcp)
	good.roundTrip(call(1, 2, procEcho, xdrString("before")), success(1, xdrString("before")))

	cases := []struct {
		name   string
		bytes  []byte
		reason string
	}{
		{"oversized fragment", cat(be(0x7fffffff), []byte("xxxx")), "record over size limit"},
		{"oversized in pieces", cat(be(40<<10), make([]byte, 40<<10), be(lastFragment|30<<10)), "record over size limit"},
		{"too many fragments", cat(be(4, 0), be(4, 0), be(4, 0), be(4, 0), be(lastFragment|4, 0)), "too many fragments"},
		{"garbage", cat(be(lastFragment|16), []byte("GET / HTTP/1.1\r\n")), "not an RPC message"},
		{"too short for a message", cat(be(lastFragment|4), be(7)), "not an RPC message"},
		{"bad message type", cat(be(lastFragment|8), be(7, 2)), "not an RPC message"},
		{"http request", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "record over size limit"},
		{"truncated", cat(be(lastFragment|100), be(1, 0, 2)), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := dialWire(t, "tcp", ts.tcp)
			// A call before the breakage is answered on this connection too.
			bad.roundTrip(call(5, 2, procNull), success(5))
			bad.sendRaw(tc.bytes)
			if tc.reason == "" {
				bad.nc.(*net.TCPConn).CloseWrite()
			}
			bad.expectClosed()
			good.roundTrip(call(2, 2, procEcho, xdrString("after")), success(2, xdrString("after")))
			if tc.reason != "" && !strings.Contains(ts.log.String(), tc.reason) {
				t.Errorf("reason %q not logged:\n%s", tc.reason, ts.log)
			}
		})
	}
	// A new connection is served too.
	dialWire(t, "tcp", ts.tcp).roundTrip(call(3, 2, procNull), success(3))
}

// On UDP, garbage is dropped and the socket keeps serving.
func TestUDPGarbage(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	w := dialWire(t, "udp", ts.udp)
	for _, junk := range [][]byte{{}, {1, 2, 3}, []byte("GET / HTTP/1.1\r\n"), bytes.Repeat([]byte{0xff}, 60000)} {
		w.sendRaw(junk)
		w.expectNothing()
	}
	w.roundTrip(call(1, 2, procNull), success(1))
}

// A call reports the address it was sent to and its transport; with
// packet info the UDP address is the datagram's destination, not the
// socket's.
func TestCallAddresses(t *testing.T) {
	for _, force := range []bool{false, true} {
		ts := startServerWith(t, ServerOptions{}, force)
		for _, network := range transports {
			w := dialWire(t, network, ts.addr(network))
			w.roundTrip(call(1, 2, procWhere), success(1, xdrString(ts.addr(network)), xdrString(network)))
		}
	}
}

// A reply too large for a datagram becomes SYSTEM_ERR.
func TestUDPReplyTooLarge(t *testing.T) {
	s := NewServer(ServerOptions{Logger: discardLogger()})
	s.Register(Program{Prog: 1, Low: 1, High: 1, Handler: HandlerFunc(func(ctx context.Context, c *Call, w *xdr.Writer) error {
		w.FixedOpaque(make([]byte, 70000))
		return nil
	})})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.ServeUDP(pc)
	defer s.Shutdown(context.Background())
	w := dialWire(t, "udp", pc.LocalAddr().String())
	w.roundTrip(callAuth(1, 2, 1, 1, 0, authNone, authNone), accepted(1, SystemErr))
}

// Shutdown lets the call in flight finish and answer, then closes.
func TestShutdownDrains(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	w := dialWire(t, "tcp", ts.tcp)
	w.send(call(1, 2, procGate, be(42)))
	<-ts.h.started
	done := make(chan error, 1)
	go func() { done <- ts.s.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a call in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	ts.h.gate <- struct{}{}
	if got, want := w.recv(), success(1, be(42)); !bytes.Equal(got, want) {
		t.Fatalf("got % x want % x", got, want)
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	w.expectClosed()
	if err := <-ts.tcpDone; !errors.Is(err, ErrServerClosed) {
		t.Errorf("ServeTCP returned %v", err)
	}
	if err := <-ts.udpDone; !errors.Is(err, ErrServerClosed) {
		t.Errorf("ServeUDP returned %v", err)
	}
	if _, err := net.Dial("tcp", ts.tcp); err == nil {
		t.Error("listener still accepting after Shutdown")
	}
}

// Shutdown gives up when its context ends.
func TestShutdownTimeout(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	w := dialWire(t, "tcp", ts.tcp)
	w.send(call(1, 2, procGate, be(1)))
	<-ts.h.started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := ts.s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	w.expectClosed()
}

// An idle connection is closed; one waiting on a call is not.
func TestIdleTimeout(t *testing.T) {
	ts := startServer(t, ServerOptions{IdleTimeout: 150 * time.Millisecond})
	busy := dialWire(t, "tcp", ts.tcp)
	busy.send(call(1, 2, procGate, be(1)))
	<-ts.h.started
	idle := dialWire(t, "tcp", ts.tcp)
	idle.roundTrip(call(2, 2, procNull), success(2))
	idle.expectClosed()
	time.Sleep(300 * time.Millisecond)
	ts.h.gate <- struct{}{}
	if got, want := busy.recv(), success(1, be(1)); !bytes.Equal(got, want) {
		t.Fatalf("got % x want % x", got, want)
	}
}

func TestRegister(t *testing.T) {
	s := NewServer(ServerOptions{})
	h := HandlerFunc(func(context.Context, *Call, *xdr.Writer) error { return nil })
	s.Register(Program{Prog: 100005, Low: 3, High: 3, Handler: h})
	s.Register(Program{Prog: 100003, Low: 3, High: 3, Handler: h})
	s.Register(Program{Prog: 100021, Low: 4, High: 4, Handler: h})
	s.Register(Program{Prog: 100021, Low: 1, High: 3, Handler: h, NoPortmap: true})
	var got []string
	for _, p := range s.Programs() {
		got = append(got, strings.Join([]string{itoa(p.Prog), itoa(p.Low), itoa(p.High)}, "/"))
	}
	if want := "100003/3/3 100005/3/3 100021/1/3 100021/4/4"; strings.Join(got, " ") != want {
		t.Errorf("Programs = %v, want %s", got, want)
	}
	for _, p := range []Program{
		{Prog: 100021, Low: 3, High: 5, Handler: h},
		{Prog: 1, Low: 2, High: 1, Handler: h},
		{Prog: 1, Low: 1, High: 1},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%d %d-%d) did not panic", p.Prog, p.Low, p.High)
				}
			}()
			s.Register(p)
		}()
	}
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Packet info works for IPv6 sockets too.
func TestCallAddressIPv6(t *testing.T) {
	s := NewServer(ServerOptions{Logger: discardLogger()})
	s.forcePktinfo = true
	s.Register(Program{Prog: testProg, Low: 2, High: 2, Handler: newTestHandler()})
	pc, err := net.ListenPacket("udp6", "[::1]:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.ServeUDP(pc)
	defer s.Shutdown(context.Background())
	w := dialWire(t, "udp", pc.LocalAddr().String())
	w.roundTrip(call(1, 2, procWhere), success(1, xdrString(pc.LocalAddr().String()), xdrString("udp")))
}

// Decoding a call and encoding its reply header allocate nothing once the
// request's buffers exist, AUTH_SYS included.
func TestDispatchAllocations(t *testing.T) {
	s := NewServer(ServerOptions{Logger: discardLogger()})
	s.Register(Program{Prog: testProg, Low: 2, High: 2, Handler: newTestHandler()})
	msg := callAuth(1, 2, testProg, 2, procNull, authSys(1, "client", 1000, 1000), authNone)
	req := new(request)
	req.call.Args = &req.args
	var names nameCache
	allocs := testing.AllocsPerRun(100, func() {
		req.rec = append(req.rec[:0], msg...)
		h, _, _, _ := s.prepare(req, &names)
		if out, hdr := s.handle(h, req); out != replyResults || len(hdr) != 24 {
			t.Fatalf("outcome %d, header %x", out, hdr)
		}
		req.w.Reset()
	})
	if allocs != 0 {
		t.Errorf("%v allocations per call", allocs)
	}
}
