package rpc

import (
	"net"
	"net/netip"
)

// Peers lists the remote address of every TCP connection, one entry per
// connection.
func (s *Server) Peers() []netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]netip.AddrPort, 0, len(s.conns))
	for c := range s.conns {
		if ap, err := netip.ParseAddrPort(c.remote.String()); err == nil {
			out = append(out, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
		}
	}
	return out
}

// ClosePeer cuts every TCP connection from addr (its calls in progress
// finish unanswered; the client reconnects and retransmits); it returns
// how many.
func (s *Server) ClosePeer(addr netip.Addr) int {
	s.mu.Lock()
	var cs []net.Conn
	for c := range s.conns {
		if ap, err := netip.ParseAddrPort(c.remote.String()); err == nil && ap.Addr().Unmap() == addr.Unmap() {
			cs = append(cs, c.nc)
		}
	}
	s.mu.Unlock()
	for _, nc := range cs {
		nc.Close()
	}
	return len(cs)
}
