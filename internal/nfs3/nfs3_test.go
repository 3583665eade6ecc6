package nfs3

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/tandemfs/tandem/internal/rpc"
)

type fakeAddr string

func (a fakeAddr) Network() string { return "fake" }
func (a fakeAddr) String() string  { return string(a) }

func TestAddrOf(t *testing.T) {
	for _, c := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 1}, "10.0.0.1"},
		{&net.UDPAddr{IP: net.ParseIP("::ffff:10.0.0.2"), Port: 1}, "10.0.0.2"},
		{&net.UDPAddr{IP: net.ParseIP("2001:db8::1"), Port: 1}, "2001:db8::1"},
		{fakeAddr("192.0.2.7:99"), "192.0.2.7"},
		{fakeAddr("192.0.2.8"), "192.0.2.8"},
		{fakeAddr("@/tmp/socket"), "invalid IP"},
		{nil, "invalid IP"},
	} {
		if got := addrOf(c.addr).String(); got != c.want {
			t.Errorf("%v: %s, want %s", c.addr, got, c.want)
		}
	}
	var none netip.Addr
	if addrOf(nil) != none {
		t.Error("nil address")
	}
}

func TestFail(t *testing.T) {
	var logged bytes.Buffer
	e := newEnv(t, Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	ctx := context.Background()
	if err := e.h.fail(ctx, ProcRead, errors.New("disk on fire")); err != nil {
		t.Errorf("foreign error: %v", err)
	}
	if !strings.Contains(logged.String(), "READ") || !strings.Contains(logged.String(), "disk on fire") {
		t.Errorf("log: %q", logged.String())
	}
	logged.Reset()
	if err := e.h.fail(ctx, ProcRead, errors.Join(errors.New("x"), context.Canceled)); !errors.Is(err, rpc.ErrDrop) {
		t.Errorf("cancelled: %v", err)
	}
	if logged.Len() != 0 {
		t.Errorf("logged a cancellation: %q", logged.String())
	}
}
