package nlm

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/tandemfs/tandem/internal/portmap"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// Callbacks (GRANTED, GRANTED_MSG and the _RES answers to _MSG requests)
// are calls from the server to the client's own NLM service. The client
// is found at the address its request came from, never at an address a
// request names, so that the server cannot be made to call a third party;
// its NLM port comes from the portmapper there, for the version and the
// transport the request used. The call leaves from the address the
// request came to: a client matches a GRANTED against the server it
// locked on by address.

// portTTL is how long a client's NLM port is trusted without asking its
// portmapper again; a failed call forgets it at once.
const portTTL = 2 * time.Minute

type portKey struct {
	addr netip.Addr
	vers uint32
	prot uint32
}

type portEntry struct {
	port uint32
	at   time.Time
}

type portCache struct {
	pmapPort int
	mu       sync.Mutex
	m        map[portKey]portEntry
}

func (c *portCache) lookup(ctx context.Context, k portKey) (uint32, error) {
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if ok && time.Since(e.at) < portTTL {
		return e.port, nil
	}
	port, err := portmap.GetPort(ctx, k.addr.String(), c.pmapPort, Program, k.vers, k.prot)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[portKey]portEntry)
	}
	if len(c.m) >= maxHosts {
		clear(c.m)
	}
	c.m[k] = portEntry{port: port, at: time.Now()}
	c.mu.Unlock()
	return port, nil
}

func (c *portCache) forget(k portKey) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

// call calls proc of the client's NLM service at p.remote, over p's
// transport if the client's portmapper has it there, else over the other.
func (h *Handler) call(ctx context.Context, p peer, proc uint32, args func(*xdr.Writer), res func(*xdr.Reader) error) error {
	if !p.remote.IsValid() {
		return errors.New("nlm: no address to call back")
	}
	prots := [2]uint32{portmap.ProtTCP, portmap.ProtUDP}
	if p.network == "udp" {
		prots[0], prots[1] = prots[1], prots[0]
	}
	var err error
	for _, prot := range prots {
		k := portKey{addr: p.remote, vers: p.vers, prot: prot}
		var port uint32
		port, err = h.ports.lookup(ctx, k)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			continue
		}
		err = h.callPort(ctx, p, prot, port, proc, args, res)
		var re *rpc.ReplyError
		if err == nil || errors.As(err, &re) {
			return err
		}
		h.ports.forget(k)
		if ctx.Err() != nil {
			return err
		}
	}
	return err
}

func (h *Handler) callPort(ctx context.Context, p peer, prot, port, proc uint32, args func(*xdr.Writer), res func(*xdr.Reader) error) error {
	network := "tcp"
	var local net.Addr
	if prot == portmap.ProtUDP {
		network = "udp"
		if p.local.IsValid() {
			local = &net.UDPAddr{IP: p.local.AsSlice()}
		}
	} else if p.local.IsValid() {
		local = &net.TCPAddr{IP: p.local.AsSlice()}
	}
	addr := net.JoinHostPort(p.remote.String(), strconv.Itoa(int(port)))
	c, err := rpc.DialOptions(ctx, network, addr, rpc.ClientOptions{
		Dialer:     &net.Dialer{LocalAddr: local},
		Retransmit: 500 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	defer c.Close()
	cred := rpc.Cred{Flavor: rpc.AuthSys, MachineName: h.name}
	return c.Call(ctx, Program, p.vers, proc, cred, args, res)
}

// sendRes sends the result of a _MSG request back in the matching _RES
// call, in the background. The _RES calls are one-way too: their reply
// is empty, and a client that sends none costs a timeout, not a retry.
func (h *Handler) sendRes(p peer, proc uint32, body []byte) {
	h.mu.Lock()
	if h.ctx.Err() != nil {
		h.mu.Unlock()
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	go func() {
		defer h.wg.Done()
		ctx, cancel := context.WithTimeout(h.ctx, h.grantTimeout)
		defer cancel()
		err := h.call(ctx, p, proc, func(w *xdr.Writer) { w.FixedOpaque(body) }, nil)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			h.log.Debug("nlm: _RES callback failed", "proc", proc, "addr", p.remote, "err", err)
		}
	}()
}
