package nsm

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tandemfs/tandem/internal/portmap"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// NotifyAll tells every monitored host, in the background, that this
// server restarted: SM_NOTIFY with the current state number, to the
// host's status monitor at the address its lock requests came from,
// naming the server by the address the host used for it (a client's
// monitor matches a notification against the server it locked on, by
// name or by the caller's address). An unresponsive host is retried for
// NotifyFor. The record of a host of an earlier run is forgotten once the
// host has been told; if the host locks again, it is recorded again.
//
// Grace: when locks survive restarts, the server's grace period starts
// with these notifications, and the hosts told here are the ones whose
// reclaims it waits for.
func (s *Service) NotifyAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return
	}
	state := s.state
	for name, h := range s.hosts {
		s.wg.Add(1)
		go s.notifyHost(name, *h, state)
	}
}

func (s *Service) notifyHost(name string, h host, state int32) {
	defer s.wg.Done()
	monName := h.server.String()
	if !h.server.IsValid() {
		monName, _ = os.Hostname()
	}
	deadline := time.Now().Add(s.notifyFor)
	pause := time.Second
	for {
		ctx, cancel := context.WithTimeout(s.ctx, s.notifyTimeout)
		err := s.call(ctx, h.client, h.server, Program, Version, ProcNotify, func(w *xdr.Writer) {
			w.String(monName)
			w.Int32(state)
		})
		cancel()
		if err == nil {
			break
		}
		if s.ctx.Err() != nil {
			return
		}
		if time.Now().After(deadline) {
			s.log.Warn("nsm: could not tell a host of the restart", "host", name, "addr", h.client, "err", err)
			return
		}
		if !s.sleep(pause) {
			return
		}
		pause = min(2*pause, time.Minute)
	}
	s.log.Info("nsm: host told of the restart", "host", name, "addr", h.client, "state", state)
	if !h.lastRun {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.hosts[name]; cur != nil && cur.lastRun {
		delete(s.hosts, name)
		if err := s.del(s.ctx, hostKey(name)); err != nil {
			s.log.Error("nsm: cannot forget a notified host", "host", name, "err", err)
		}
	}
}

// sleep waits for d unless the Service closes first.
func (s *Service) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// simuCrash acts as if the server had restarted: a new state number,
// told to every monitored host. Locks stay; clients reclaim what they
// hold, which they already have.
func (s *Service) simuCrash() {
	s.mu.Lock()
	state, err := bumpState(s.ctx, s.store, 2)
	if err == nil {
		s.state = state
	}
	s.mu.Unlock()
	if err != nil {
		s.log.Error("nsm: cannot advance the state number", "err", err)
		return
	}
	s.NotifyAll()
}

// callBack calls every SM_MON registration for name with the host's new
// state, at the address the registration came from.
func (s *Service) callBack(name string, state int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return
	}
	for k, r := range s.mons {
		if !strings.EqualFold(k.monName, name) {
			continue
		}
		s.wg.Add(1)
		go func(k monKey, r registration) {
			defer s.wg.Done()
			for try := 0; try < 3; try++ {
				if try > 0 && !s.sleep(time.Duration(try)*time.Second) {
					return
				}
				ctx, cancel := context.WithTimeout(s.ctx, s.notifyTimeout)
				err := s.call(ctx, r.from, netip.Addr{}, k.prog, k.vers, k.proc, func(w *xdr.Writer) {
					writeStatus(w, k.monName, state, r.priv[:])
				})
				cancel()
				if err == nil {
					return
				}
				s.log.Debug("nsm: monitor callback failed", "to", r.from, "prog", k.prog, "err", err)
			}
		}(k, *r)
	}
}

// call calls a program on a peer, found through the peer's portmapper,
// over UDP (what status monitors listen on) or else TCP, from the local
// address from if valid.
func (s *Service) call(ctx context.Context, to, from netip.Addr, prog, vers, proc uint32, args func(*xdr.Writer)) error {
	if !to.IsValid() {
		return errors.New("nsm: no address to call")
	}
	var err error
	for _, prot := range [...]uint32{portmap.ProtUDP, portmap.ProtTCP} {
		var port uint32
		port, err = portmap.GetPort(ctx, to.String(), s.pmapPort, prog, vers, prot)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			continue
		}
		network := "udp"
		var local net.Addr
		if prot == portmap.ProtTCP {
			network = "tcp"
			if from.IsValid() {
				local = &net.TCPAddr{IP: from.AsSlice()}
			}
		} else if from.IsValid() {
			local = &net.UDPAddr{IP: from.AsSlice()}
		}
		var c *rpc.Client
		c, err = rpc.DialOptions(ctx, network, net.JoinHostPort(to.String(), strconv.Itoa(int(port))),
			rpc.ClientOptions{Dialer: &net.Dialer{LocalAddr: local}, Retransmit: 500 * time.Millisecond})
		if err != nil {
			continue
		}
		err = c.Call(ctx, prog, vers, proc, rpc.Cred{}, args, nil)
		c.Close()
		var re *rpc.ReplyError
		if err == nil || errors.As(err, &re) || ctx.Err() != nil {
			return err
		}
	}
	return err
}
