package rpc

import (
	"net"
	"net/netip"
	"testing"
)

type fakeAddr string

func (a fakeAddr) Network() string { return "fake" }
func (a fakeAddr) String() string  { return string(a) }

func TestIPOf(t *testing.T) {
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
		if got := IPOf(c.addr).String(); got != c.want {
			t.Errorf("%v: %s, want %s", c.addr, got, c.want)
		}
	}
	var none netip.Addr
	if IPOf(nil) != none {
		t.Error("nil address")
	}
}
