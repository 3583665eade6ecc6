package portmap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

var null = rpc.HandlerFunc(func(context.Context, *rpc.Call, *xdr.Writer) error { return nil })

// startPortmap serves the portmapper and a few programs the way the server
// will: the table is built from the server's own registrations.
func startPortmap(t *testing.T) (tcp, udp string, svc *Service) {
	t.Helper()
	s := rpc.NewServer(rpc.ServerOptions{Logger: slog.New(slog.DiscardHandler)})
	svc = New()
	s.Register(svc.Program())
	s.Register(rpc.Program{Prog: 100003, Low: 3, High: 3, Name: "nfs", Handler: null})
	s.Register(rpc.Program{Prog: 100021, Low: 1, High: 1, Name: "nlm", Handler: null})
	s.Register(rpc.Program{Prog: 100021, Low: 3, High: 4, Name: "nlm", Handler: null})
	s.Register(rpc.Program{Prog: 100024, Low: 1, High: 1, Name: "nsm-private", Handler: null, NoPortmap: true})
	progs := s.Programs()
	ms := MappingsFor(progs, ProtTCP, 2049)
	ms = append(ms, MappingsFor(progs, ProtUDP, 2049)...)
	ms = append(ms, Mapping{Prog: 100005, Vers: 3, Prot: ProtTCP, Port: 20048})
	ms = append(ms, Mapping{Prog: 100005, Vers: 3, Prot: ProtTCP, Port: 20048, Netid: "tcp6", Addr: "::1.78.80", Owner: "mountd"})
	svc.Set(ms)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.ServeTCP(l)
	go s.ServeUDP(pc)
	t.Cleanup(func() { s.Shutdown(context.Background()) })
	return l.Addr().String(), pc.LocalAddr().String(), svc
}

func dial(t *testing.T, network, addr string) *rpc.Client {
	t.Helper()
	c, err := rpc.Dial(context.Background(), network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestMappingsFor(t *testing.T) {
	progs := []rpc.Program{
		{Prog: 100003, Low: 3, High: 3},
		{Prog: 100021, Low: 1, High: 4},
		{Prog: 100024, Low: 1, High: 1, NoPortmap: true},
	}
	got := fmt.Sprint(MappingsFor(progs, ProtUDP, 4045))
	want := "[{100003 3 17 4045   } {100021 1 17 4045   } {100021 2 17 4045   } {100021 3 17 4045   } {100021 4 17 4045   }]"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestV2(t *testing.T) {
	tcp, udp, svc := startPortmap(t)
	ctx := context.Background()
	for _, network := range []string{"tcp", "udp"} {
		t.Run(network, func(t *testing.T) {
			addr := tcp
			if network == "udp" {
				addr = udp
			}
			c := dial(t, network, addr)
			getport := func(prog, vers, prot uint32) uint32 {
				var port uint32
				err := c.Call(ctx, Prog, 2, pmapGetport, rpc.Cred{},
					func(w *xdr.Writer) { w.Uint32(prog); w.Uint32(vers); w.Uint32(prot); w.Uint32(0) },
					func(r *xdr.Reader) error { port = r.Uint32(); return nil })
				if err != nil {
					t.Fatalf("GETPORT: %v", err)
				}
				return port
			}
			for _, tc := range []struct{ prog, vers, prot, want uint32 }{
				{100003, 3, ProtTCP, 2049},
				{100003, 3, ProtUDP, 2049},
				{100005, 3, ProtTCP, 20048},
				{100005, 3, ProtUDP, 0},
				{100005, 1, ProtTCP, 20048}, // another version's port: the caller learns versions from PROG_MISMATCH
				{100024, 1, ProtTCP, 0},     // NoPortmap
				{100099, 1, ProtTCP, 0},
				{100003, 3, 99, 0},
				{Prog, 2, ProtTCP, 2049},
			} {
				if got := getport(tc.prog, tc.vers, tc.prot); got != tc.want {
					t.Errorf("GETPORT(%d, %d, %d) = %d, want %d", tc.prog, tc.vers, tc.prot, got, tc.want)
				}
			}

			var dump []string
			err := c.Call(ctx, Prog, 2, pmapDump, rpc.Cred{}, nil, func(r *xdr.Reader) error {
				for r.Bool() {
					dump = append(dump, fmt.Sprint(r.Uint32(), r.Uint32(), r.Uint32(), r.Uint32()))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, m := range svc.Mappings() {
				if m.Netid != "" {
					continue
				}
				want = append(want, fmt.Sprint(m.Prog, m.Vers, m.Prot, m.Port))
			}
			if len(want) != 15 || !slices.Equal(dump, want) {
				t.Errorf("DUMP = %q\nwant %q", dump, want)
			}

			for _, proc := range []uint32{pmapSet, pmapUnset} {
				var ok bool
				err := c.Call(ctx, Prog, 2, proc, rpc.Cred{},
					func(w *xdr.Writer) { w.Uint32(100099); w.Uint32(1); w.Uint32(ProtTCP); w.Uint32(999) },
					func(r *xdr.Reader) error { ok = r.Bool(); return nil })
				if err != nil || ok {
					t.Errorf("proc %d = %v, %v; want false", proc, ok, err)
				}
			}
			if getport(100099, 1, ProtTCP) != 0 {
				t.Error("SET from the network took effect")
			}

			if err := c.Call(ctx, Prog, 2, pmapSet, rpc.Cred{}, func(w *xdr.Writer) { w.Uint32(1) }, nil); !errors.Is(err, rpc.ErrGarbageArgs) {
				t.Errorf("short SET: %v", err)
			}
			if err := c.Call(ctx, Prog, 2, 6, rpc.Cred{}, nil, nil); !errors.Is(err, rpc.ErrProcUnavail) {
				t.Errorf("proc 6: %v", err)
			}
			if err := c.Call(ctx, Prog, 2, procNull, rpc.Cred{}, nil, nil); err != nil {
				t.Errorf("NULL: %v", err)
			}
			var re *rpc.ReplyError
			if err := c.Call(ctx, Prog, 5, procNull, rpc.Cred{}, nil, nil); !errors.As(err, &re) || *re != (rpc.ReplyError{Stat: rpc.ProgMismatch, Low: 2, High: 4}) {
				t.Errorf("version 5: %v", err)
			}
			tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			err = c.Call(tctx, Prog, 2, pmapCallit, rpc.Cred{},
				func(w *xdr.Writer) { w.Uint32(100003); w.Uint32(3); w.Uint32(0); w.Opaque(nil) }, nil)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("CALLIT answered: %v", err)
			}
		})
	}
}

func rpcbArgs(prog, vers uint32, netid string) func(*xdr.Writer) {
	return func(w *xdr.Writer) {
		w.Uint32(prog)
		w.Uint32(vers)
		w.String(netid)
		w.String("")
		w.String("")
	}
}

func TestRPCBind(t *testing.T) {
	tcp, udp, _ := startPortmap(t)
	ctx := context.Background()
	for _, network := range []string{"tcp", "udp"} {
		addr := tcp
		if network == "udp" {
			addr = udp
		}
		for _, vers := range []uint32{3, 4} {
			t.Run(fmt.Sprint(network, vers), func(t *testing.T) {
				c := dial(t, network, addr)
				getaddr := func(proc, prog, pvers uint32, netid string) string {
					var ua string
					err := c.Call(ctx, Prog, vers, proc, rpc.Cred{}, rpcbArgs(prog, pvers, netid),
						func(r *xdr.Reader) error { ua = r.String(1024); return nil })
					if err != nil {
						t.Fatalf("GETADDR: %v", err)
					}
					return ua
				}
				for _, tc := range []struct {
					prog, vers uint32
					netid      string
					want       string
				}{
					{100003, 3, "tcp", "127.0.0.1.8.1"},
					{100003, 3, "udp", "127.0.0.1.8.1"},
					{100003, 3, "", "127.0.0.1.8.1"}, // the transport's
					{100005, 3, "tcp", "127.0.0.1.78.80"},
					{100005, 3, "udp", ""},
					{100005, 3, "tcp6", "::1.78.80"}, // the entry with its own netid and address
					{100005, 1, "tcp", "127.0.0.1.78.80"},
					{100021, 2, "tcp", "127.0.0.1.8.1"},
					{100024, 1, "tcp", ""},
					{100003, 3, "rdma", ""},
					{100099, 1, "tcp", ""},
				} {
					if got := getaddr(rpcbGetaddr, tc.prog, tc.vers, tc.netid); got != tc.want {
						t.Errorf("GETADDR(%d, %d, %q) = %q, want %q", tc.prog, tc.vers, tc.netid, got, tc.want)
					}
				}

				if vers == 4 {
					if got := getaddr(rpcbGetversaddr, 100005, 3, "tcp"); got != "127.0.0.1.78.80" {
						t.Errorf("GETVERSADDR exact = %q", got)
					}
					if got := getaddr(rpcbGetversaddr, 100005, 1, "tcp"); got != "" {
						t.Errorf("GETVERSADDR other version = %q, want \"\"", got)
					}
				} else if err := c.Call(ctx, Prog, vers, rpcbGetversaddr, rpc.Cred{}, rpcbArgs(100005, 3, "tcp"), nil); !errors.Is(err, rpc.ErrProcUnavail) {
					t.Errorf("GETVERSADDR in v3: %v", err)
				}

				var dump []string
				err := c.Call(ctx, Prog, vers, rpcbDump, rpc.Cred{}, nil, func(r *xdr.Reader) error {
					for r.Bool() {
						dump = append(dump, fmt.Sprintf("%d %d %s %s %s", r.Uint32(), r.Uint32(), r.String(64), r.String(64), r.String(64)))
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				want := []string{
					"100000 2 tcp 127.0.0.1.8.1 tandem",
					"100000 3 tcp 127.0.0.1.8.1 tandem",
					"100000 4 tcp 127.0.0.1.8.1 tandem",
					"100003 3 tcp 127.0.0.1.8.1 tandem",
					"100021 1 tcp 127.0.0.1.8.1 tandem",
					"100021 3 tcp 127.0.0.1.8.1 tandem",
					"100021 4 tcp 127.0.0.1.8.1 tandem",
					"100000 2 udp 127.0.0.1.8.1 tandem",
					"100000 3 udp 127.0.0.1.8.1 tandem",
					"100000 4 udp 127.0.0.1.8.1 tandem",
					"100003 3 udp 127.0.0.1.8.1 tandem",
					"100021 1 udp 127.0.0.1.8.1 tandem",
					"100021 3 udp 127.0.0.1.8.1 tandem",
					"100021 4 udp 127.0.0.1.8.1 tandem",
					"100005 3 tcp 127.0.0.1.78.80 tandem",
					"100005 3 tcp6 ::1.78.80 mountd",
				}
				if !slices.Equal(dump, want) {
					t.Errorf("DUMP =\n%s\nwant\n%s", strings.Join(dump, "\n"), strings.Join(want, "\n"))
				}

				var now uint32
				if err := c.Call(ctx, Prog, vers, rpcbGettime, rpc.Cred{}, nil, func(r *xdr.Reader) error { now = r.Uint32(); return nil }); err != nil {
					t.Fatal(err)
				}
				if d := int64(now) - time.Now().Unix(); d < -5 || d > 5 {
					t.Errorf("GETTIME off by %d s", d)
				}

				for _, proc := range []uint32{rpcbSet, rpcbUnset} {
					ok := true
					err := c.Call(ctx, Prog, vers, proc, rpc.Cred{}, rpcbArgs(100099, 1, "tcp"), func(r *xdr.Reader) error { ok = r.Bool(); return nil })
					if err != nil || ok {
						t.Errorf("proc %d = %v, %v; want false", proc, ok, err)
					}
				}
				for _, proc := range []uint32{rpcbUaddr2taddr, rpcbTaddr2uaddr, rpcbGetaddrlist, rpcbGetstat, 13} {
					if err := c.Call(ctx, Prog, vers, proc, rpc.Cred{}, nil, nil); !errors.Is(err, rpc.ErrProcUnavail) {
						t.Errorf("proc %d: %v", proc, err)
					}
				}
				if err := c.Call(ctx, Prog, vers, rpcbGetaddr, rpc.Cred{}, func(w *xdr.Writer) { w.Uint32(1); w.Uint32(1); w.Uint32(1000) }, nil); !errors.Is(err, rpc.ErrGarbageArgs) {
					t.Errorf("GETADDR with a 1000-byte netid: %v", err)
				}
				if network == "udp" {
					tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
					defer cancel()
					err := c.Call(tctx, Prog, vers, rpcbCallit, rpc.Cred{},
						func(w *xdr.Writer) { w.Uint32(100003); w.Uint32(3); w.Uint32(0); w.Opaque(nil) }, nil)
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("CALLIT answered: %v", err)
					}
				}
			})
		}
	}
}

// Entries follow the family of the address a query came in on.
func TestIPv6Query(t *testing.T) {
	svc := New()
	svc.Set([]Mapping{{Prog: 100003, Vers: 3, Prot: ProtUDP, Port: 2049}})
	w := xdr.NewWriter(nil)
	rpcbArgs(100003, 3, "udp6")(w)
	c := &rpc.Call{Prog: Prog, Vers: 4, Proc: rpcbGetaddr, Args: xdr.NewReader(w.Bytes()), Network: "udp",
		LocalAddr: &net.UDPAddr{IP: net.ParseIP("fe80::1"), Port: 111}}
	out := xdr.NewWriter(nil)
	if err := svc.ServeRPC(context.Background(), c, out); err != nil {
		t.Fatal(err)
	}
	if got := xdr.NewReader(out.Bytes()).String(100); got != "fe80::1.8.1" {
		t.Errorf("GETADDR = %q", got)
	}
	c.Proc, c.Args = rpcbDump, xdr.NewReader(nil)
	out.Reset()
	if err := svc.ServeRPC(context.Background(), c, out); err != nil {
		t.Fatal(err)
	}
	r := xdr.NewReader(out.Bytes())
	if got := fmt.Sprintf("%v %d %d %s %s %s %v", r.Bool(), r.Uint32(), r.Uint32(), r.String(64), r.String(64), r.String(64), r.Bool()); got != "true 100003 3 udp6 fe80::1.8.1 tandem false" {
		t.Errorf("DUMP = %s", got)
	}
}

func TestUniversalAddr(t *testing.T) {
	for _, tc := range []struct {
		ip   string
		port uint32
		want string
	}{
		{"192.0.2.7", 2049, "192.0.2.7.8.1"},
		{"::ffff:192.0.2.7", 111, "192.0.2.7.0.111"},
		{"2001:db8::5", 65535, "2001:db8::5.255.255"},
		{"::1", 0, "::1.0.0"},
	} {
		if got := UniversalAddr(net.ParseIP(tc.ip), tc.port); got != tc.want {
			t.Errorf("UniversalAddr(%s, %d) = %q, want %q", tc.ip, tc.port, got, tc.want)
		}
	}
}

func TestGetPort(t *testing.T) {
	tcp, udp, _ := startPortmap(t)
	ctx := context.Background()
	for _, tc := range []struct {
		addr string
		prot uint32
	}{{tcp, ProtTCP}, {udp, ProtUDP}} {
		host, port, _ := net.SplitHostPort(tc.addr)
		var p int
		fmt.Sscan(port, &p)
		got, err := GetPort(ctx, host, p, 100003, 3, tc.prot)
		if err != nil || got != 2049 {
			t.Errorf("GetPort(nfs, %d) = %d, %v", tc.prot, got, err)
		}
		if got, err := GetPort(ctx, host, p, 100099, 1, tc.prot); !errors.Is(err, ErrNotRegistered) || got != 0 {
			t.Errorf("GetPort(unknown, %d) = %d, %v", tc.prot, got, err)
		}
	}
	if _, err := GetPort(ctx, "127.0.0.1", 1, 100003, 3, 99); err == nil {
		t.Error("GetPort with protocol 99 succeeded")
	}
}
