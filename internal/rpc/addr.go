package rpc

import (
	"net"
	"net/netip"
)

// IPOf is the IP address of a network address, with IPv4-mapped IPv6
// addresses unmapped so that rules written for IPv4 networks (export
// client lists, the hosts NSM believes) match whichever socket family the
// call came in on. It is the zero Addr if a carries no IP address.
func IPOf(a net.Addr) netip.Addr {
	var ip netip.Addr
	switch a := a.(type) {
	case *net.TCPAddr:
		ip = a.AddrPort().Addr()
	case *net.UDPAddr:
		ip = a.AddrPort().Addr()
	case nil:
	default:
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			ip = ap.Addr()
		} else if p, err := netip.ParseAddr(a.String()); err == nil {
			ip = p
		}
	}
	return ip.Unmap()
}
