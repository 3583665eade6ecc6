//go:build linux

package rpc

import (
	"net"
	"syscall"
	"unsafe"
)

// Packet info (IP_PKTINFO, IPV6_PKTINFO) tells a socket bound to a wildcard
// address which local address each datagram was sent to, and lets the
// reply leave from that address.

// pktinfoSpace holds the control message of either family.
var pktinfoSpace = syscall.CmsgSpace(syscall.SizeofInet6Pktinfo)

func enablePktinfo(uc *net.UDPConn, v6 bool) error {
	rc, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if v6 {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_RECVPKTINFO, 1)
		} else {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_PKTINFO, 1)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// parsePktinfo finds the packet info in a datagram's control data. It
// returns the local address the datagram was sent to and appends to dst
// the control message that sends a reply from that address.
func parsePktinfo(oob, dst []byte) (net.IP, []byte, bool) {
	hdrLen := syscall.CmsgLen(0)
	for len(oob) >= hdrLen {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		n := int(h.Len)
		if n < hdrLen || n > len(oob) {
			return nil, dst, false
		}
		data := oob[hdrLen:n]
		switch {
		case h.Level == syscall.IPPROTO_IP && h.Type == syscall.IP_PKTINFO && len(data) >= syscall.SizeofInet4Pktinfo:
			// in_pktinfo: ifindex, spec_dst (the local address that
			// routing picks, an interface's own even for a broadcast),
			// addr (the header's destination).
			ip := net.IP(append([]byte(nil), data[4:8]...))
			var pi syscall.Inet4Pktinfo
			copy(pi.Spec_dst[:], ip)
			return ip, appendCmsg(dst, syscall.IPPROTO_IP, syscall.IP_PKTINFO, unsafe.Slice((*byte)(unsafe.Pointer(&pi)), syscall.SizeofInet4Pktinfo)), true
		case h.Level == syscall.IPPROTO_IPV6 && h.Type == syscall.IPV6_PKTINFO && len(data) >= syscall.SizeofInet6Pktinfo:
			// in6_pktinfo: addr, ifindex. Sending with the same pair
			// keeps link-local replies on the right interface.
			ip := net.IP(append([]byte(nil), data[0:16]...))
			return ip, appendCmsg(dst, syscall.IPPROTO_IPV6, syscall.IPV6_PKTINFO, data[:syscall.SizeofInet6Pktinfo]), true
		}
		oob = oob[min(syscall.CmsgSpace(n-hdrLen), len(oob)):]
	}
	return nil, dst, false
}

func appendCmsg(dst []byte, level, typ int32, data []byte) []byte {
	off := len(dst)
	dst = append(dst, make([]byte, syscall.CmsgSpace(len(data)))...)
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&dst[off]))
	h.Level, h.Type = level, typ
	h.SetLen(syscall.CmsgLen(len(data)))
	copy(dst[off+syscall.CmsgLen(0):], data)
	return dst
}
