package rpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

func dialClient(t *testing.T, network, addr string, opt ClientOptions) *Client {
	t.Helper()
	c, err := DialOptions(context.Background(), network, addr, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func echo(ctx context.Context, c *Client, vers uint32, s string) (string, error) {
	var got string
	err := c.Call(ctx, testProg, vers, procEcho, Cred{},
		func(w *xdr.Writer) { w.String(s) },
		func(r *xdr.Reader) error { got = r.String(1024); return nil })
	return got, err
}

func TestClientReplies(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	ctx := context.Background()
	for _, network := range transports {
		t.Run(network, func(t *testing.T) {
			c := dialClient(t, network, ts.addr(network), ClientOptions{})
			if got, err := echo(ctx, c, 2, "ping"); err != nil || got != "ping" {
				t.Fatalf("echo = %q, %v", got, err)
			}
			cases := []struct {
				prog, vers, proc uint32
				want             ReplyError
				is               error
			}{
				{999999, 1, 0, ReplyError{Stat: ProgUnavail}, nil},
				{testProg, 9, 0, ReplyError{Stat: ProgMismatch, Low: 2, High: 5}, nil},
				{testProg, 2, 99, ReplyError{Stat: ProcUnavail}, ErrProcUnavail},
				{testProg, 2, procGarbage, ReplyError{Stat: GarbageArgs}, ErrGarbageArgs},
				{testProg, 2, procFail, ReplyError{Stat: SystemErr}, ErrSystem},
				{testProg, 2, procTooWeak, ReplyError{Denied: true, Stat: AuthError, Auth: AuthTooWeak}, ErrAuthTooWeak},
			}
			for _, tc := range cases {
				err := c.Call(ctx, tc.prog, tc.vers, tc.proc, Cred{}, nil, nil)
				var re *ReplyError
				if !errors.As(err, &re) || *re != tc.want {
					t.Errorf("call %d/%d/%d: err %v, want %+v", tc.prog, tc.vers, tc.proc, err, tc.want)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("call %d/%d/%d: %v is not %v", tc.prog, tc.vers, tc.proc, err, tc.is)
				}
			}
			// Credentials go out as given.
			cred := Cred{Flavor: AuthSys, Stamp: 9, MachineName: "tester", UID: 501, GID: 20, GIDs: []uint32{12, 61}}
			var got Cred
			err := c.Call(ctx, testProg, 3, procCred, cred, nil, func(r *xdr.Reader) error {
				got = Cred{Flavor: r.Uint32(), Stamp: r.Uint32(), MachineName: r.String(255), UID: r.Uint32(), GID: r.Uint32()}
				got.GIDs = make([]uint32, r.Uint32())
				for i := range got.GIDs {
					got.GIDs[i] = r.Uint32()
				}
				return nil
			})
			if err != nil || fmt.Sprint(got) != fmt.Sprint(cred) {
				t.Errorf("cred echoed as %+v, %v", got, err)
			}
			// A result decoder's error, and a short result, are returned.
			errMine := errors.New("mine")
			if err := c.Call(ctx, testProg, 2, procNull, Cred{}, nil, func(*xdr.Reader) error { return errMine }); err != errMine {
				t.Errorf("res error: %v", err)
			}
			if err := c.Call(ctx, testProg, 2, procNull, Cred{}, nil, func(r *xdr.Reader) error { r.Uint32(); return nil }); !errors.Is(err, xdr.ErrShort) {
				t.Errorf("short result: %v", err)
			}
		})
	}
}

// Many goroutines share one TCP client; every reply finds its caller.
func TestClientConcurrent(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	for _, network := range transports {
		c := dialClient(t, network, ts.addr(network), ClientOptions{})
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Go(func() {
				want := fmt.Sprintf("call-%d", i)
				if got, err := echo(context.Background(), c, 2, want); err != nil || got != want {
					t.Errorf("%s: echo = %q, %v", network, got, err)
				}
			})
		}
		wg.Wait()
	}
}

// A lost UDP call is sent again with the same XID.
func TestClientRetransmit(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	c := dialClient(t, "udp", ts.udp, ClientOptions{Retransmit: 20 * time.Millisecond})
	var n uint32
	err := c.Call(context.Background(), testProg, 2, procDropFirst, Cred{}, nil, func(r *xdr.Reader) error { n = r.Uint32(); return nil })
	if err != nil || n != 2 {
		t.Fatalf("answered on delivery %d, %v; want 2", n, err)
	}
}

func TestClientContext(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	for _, network := range transports {
		c := dialClient(t, network, ts.addr(network), ClientOptions{Retransmit: 20 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err := c.Call(ctx, testProg, 2, procDrop, Cred{}, nil, nil)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v", network, err)
		}
		// The client is still usable.
		if got, err := echo(context.Background(), c, 2, "after"); err != nil || got != "after" {
			t.Errorf("%s: echo = %q, %v", network, got, err)
		}
	}
}

func TestClientClose(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	c := dialClient(t, "tcp", ts.tcp, ClientOptions{})
	errc := make(chan error, 1)
	go func() {
		errc <- c.Call(context.Background(), testProg, 2, procGate, Cred{}, func(w *xdr.Writer) { w.Uint32(1) }, nil)
	}()
	<-ts.h.started
	c.Close()
	if err := <-errc; !errors.Is(err, ErrClientClosed) {
		t.Fatalf("pending call: %v", err)
	}
	if err := c.Call(context.Background(), testProg, 2, procNull, Cred{}, nil, nil); !errors.Is(err, ErrClientClosed) {
		t.Fatalf("call after Close: %v", err)
	}
}

// The server closing the connection fails the calls waiting on it.
func TestClientConnectionLost(t *testing.T) {
	ts := startServer(t, ServerOptions{})
	c := dialClient(t, "tcp", ts.tcp, ClientOptions{})
	errc := make(chan error, 1)
	go func() {
		errc <- c.Call(context.Background(), testProg, 2, procGate, Cred{}, func(w *xdr.Writer) { w.Uint32(1) }, nil)
	}()
	<-ts.h.started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	ts.s.Shutdown(ctx) // times out and closes connections
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("call succeeded on a closed connection")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("call still waiting after the connection closed")
	}
}

// Over UDP, a port where nothing listens fails the call at once.
func TestClientRefused(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	c := dialClient(t, "udp", addr, ClientOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Call(ctx, 1, 1, 0, Cred{}, nil, nil); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("call to a closed port: %v", err)
	}
}

// BenchmarkCall measures a round trip of a small call over loopback,
// client and server together.
func BenchmarkCall(b *testing.B) {
	for _, network := range transports {
		b.Run(network, func(b *testing.B) {
			s := NewServer(ServerOptions{Logger: discardLogger()})
			s.Register(Program{Prog: testProg, Low: 2, High: 2, Handler: newTestHandler()})
			var addr string
			if network == "tcp" {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				go s.ServeTCP(l)
				addr = l.Addr().String()
			} else {
				pc, err := net.ListenPacket("udp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				go s.ServeUDP(pc)
				addr = pc.LocalAddr().String()
			}
			defer s.Shutdown(context.Background())
			c, err := Dial(context.Background(), network, addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := echo(context.Background(), c, 2, "ping"); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
