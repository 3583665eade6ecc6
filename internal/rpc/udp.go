package rpc

import (
	"errors"
	"net"
	"sync"
	"time"
)

// maxDatagram is the largest UDP payload (IPv4: 65535 less the IP and UDP
// headers). No call can be larger, and a reply that would be is answered
// with SYSTEM_ERR instead.
const maxDatagram = 65507

// ServeUDP serves calls arriving on pc, one call per datagram, replying to
// the sender. It returns ErrServerClosed after Shutdown (and closes pc), or
// the error that ended pc.
//
// When pc is a UDP socket bound to a wildcard address, the server learns
// from each datagram which local address it was sent to (on Linux), sets
// Call.LocalAddr to it and replies from it, as clients on multi-homed
// hosts expect.
func (s *Server) ServeUDP(pc net.PacketConn) error {
	if !s.track(nil, pc) {
		pc.Close()
		return ErrServerClosed
	}
	defer s.untrack(nil, pc)

	p := newPacketConn(pc, s.forcePktinfo)
	var (
		names    nameCache
		inflight sync.WaitGroup
		slots    = make(chan struct{}, s.maxInFlight)
		pause    time.Duration
	)
	defer func() {
		inflight.Wait()
		pc.Close()
	}()
	for {
		req := getRequest()
		err := p.read(req)
		if err != nil {
			putRequest(req)
			if s.closing.Load() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			pause = min(max(2*pause, time.Millisecond), 100*time.Millisecond)
			s.log.Warn("rpc: udp read failed", "addr", pc.LocalAddr(), "err", err)
			time.Sleep(pause)
			continue
		}
		pause = 0
		slots <- struct{}{}
		inflight.Add(1)
		release := func() {
			putRequest(req)
			<-slots
			inflight.Done()
		}
		h, out, hdr, notRPC := s.prepare(req, &names)
		if h == nil {
			if !notRPC {
				s.replyUDP(p, req, out, hdr)
			}
			release()
			continue
		}
		go func() {
			out, hdr := s.handle(h, req)
			s.replyUDP(p, req, out, hdr)
			release()
		}()
	}
}

func (s *Server) replyUDP(p *packetConn, req *request, out outcome, hdr []byte) {
	if out == replyNone {
		return
	}
	var body []byte
	if out == replyResults {
		body = req.w.Bytes()
	}
	if len(hdr)+len(body) > maxDatagram {
		s.log.Warn("rpc: udp reply too large", "prog", req.call.Prog, "proc", req.call.Proc, "size", len(hdr)+len(body))
		hdr = appendAccepted(req.hdr[4:4], req.call.XID, SystemErr)
		body = nil
	}
	// The call's bytes are no longer needed: its buffer carries the reply.
	b := append(req.rec[:0], hdr...)
	b = append(b, body...)
	req.rec = b
	if err := p.write(req, b); err != nil {
		s.log.Debug("rpc: udp reply failed", "remote", req.from, "err", err)
	}
}

// packetConn reads calls from and writes replies to a packet socket,
// using the kernel's packet info where the socket's own address does not
// say which local address a datagram was sent to.
type packetConn struct {
	pc    net.PacketConn
	uc    *net.UDPConn // set when packet info is on
	local net.Addr
	port  int
	oob   []byte // scratch for received control data; reader only
}

func newPacketConn(pc net.PacketConn, force bool) *packetConn {
	p := &packetConn{pc: pc, local: pc.LocalAddr()}
	uc, ok := pc.(*net.UDPConn)
	la, _ := p.local.(*net.UDPAddr)
	if !ok || la == nil || (!la.IP.IsUnspecified() && !force) {
		return p
	}
	if err := enablePktinfo(uc, la.IP.To4() == nil); err != nil {
		return p
	}
	p.uc, p.port = uc, la.Port
	p.oob = make([]byte, pktinfoSpace)
	return p
}

// read receives one datagram into req and fills in the transport fields
// of req.call.
func (p *packetConn) read(req *request) error {
	req.rec = grow(req.rec[:0], maxDatagram+1)
	req.call.Network = "udp"
	req.call.LocalAddr = p.local
	if p.uc == nil {
		n, from, err := p.pc.ReadFrom(req.rec)
		if err != nil {
			return err
		}
		req.rec = req.rec[:n]
		req.from = from
		req.call.RemoteAddr = from
		return nil
	}
	n, oobn, _, from, err := p.uc.ReadMsgUDP(req.rec, p.oob)
	if err != nil {
		return err
	}
	req.rec = req.rec[:n]
	req.from = from
	req.call.RemoteAddr = from
	if ip, oob, ok := parsePktinfo(p.oob[:oobn], req.oob[:0]); ok {
		req.call.LocalAddr = &net.UDPAddr{IP: ip, Port: p.port}
		req.oob = oob
	}
	return nil
}

func (p *packetConn) write(req *request, b []byte) error {
	if p.uc != nil && len(req.oob) > 0 {
		if ua, ok := req.from.(*net.UDPAddr); ok {
			_, _, err := p.uc.WriteMsgUDP(b, req.oob, ua)
			return err
		}
	}
	_, err := p.pc.WriteTo(b, req.from)
	return err
}
