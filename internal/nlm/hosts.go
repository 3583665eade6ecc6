package nlm

import (
	"net/netip"
	"strings"
	"sync"
)

// The host book remembers, for each client caller name, the addresses its
// requests came from and the NSM state number its last LOCK carried. It is
// what makes a reboot notification or a FREE_ALL believable: a caller
// name is only a string in a request, but the address a request came
// from is a fact of the connection, so a host's state is dropped only on
// word from where that host was seen.
const (
	maxHostAddrs = 4       // per host: a host with several interfaces, or a renumbered one
	maxHosts     = 100_000 // in all, so that invented caller names cannot fill memory
)

type hostRec struct {
	addrs     [maxHostAddrs]netip.Addr // most recent first
	state     int32                    // NSM state of the host's last LOCK; 0: unknown
	monitored bool                     // the monitor was told of the host
}

func (r *hostRec) has(a netip.Addr) bool {
	for _, x := range r.addrs {
		if x == a && a.IsValid() {
			return true
		}
	}
	return false
}

type hostBook struct {
	mu sync.Mutex
	m  map[string]*hostRec
}

// seen records a request of host that came from p. monitored says the
// request makes state that a reboot of the host must clear (LOCK, SHARE;
// not NM_LOCK, whose client has no status monitor). The monitor is told
// when the host becomes monitored or shows up at a new address.
func (h *Handler) seen(host string, p peer, state int32, monitored bool) {
	if h.hosts.seen(host, p.remote, state, monitored) && h.monitor != nil {
		h.monitor.Monitor(host, p.remote, p.local)
	}
}

// seen records a request and reports whether the monitor must be told.
func (b *hostBook) seen(host string, addr netip.Addr, state int32, monitored bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.m[host]
	if r == nil {
		if len(b.m) >= maxHosts {
			b.evict()
		}
		r = new(hostRec)
		b.m[host] = r
	}
	if monitored && state != 0 {
		r.state = state
	}
	moved := false
	if r.addrs[0] != addr {
		moved = true
		i := 0
		for i < maxHostAddrs-1 && r.addrs[i] != addr {
			i++
		}
		copy(r.addrs[1:i+1], r.addrs[:i])
		r.addrs[0] = addr
	}
	if monitored && (!r.monitored || moved) {
		r.monitored = true
		return true
	}
	return false
}

// evict makes room for one more host (b.mu held), preferring a host that
// has not been monitored.
func (b *hostBook) evict() {
	n := 0
	for name, r := range b.m {
		if !r.monitored || n >= 16 {
			delete(b.m, name)
			return
		}
		n++
	}
}

// rebooted finds and forgets the hosts a reboot notification concerns
// (see Handler.Rebooted).
func (b *hostBook) rebooted(name string, state int32, from netip.Addr, nameIsFrom bool) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for host, r := range b.m {
		fromSeen := r.has(from)
		named := strings.EqualFold(host, name)
		if !(named && (fromSeen || nameIsFrom)) && !(nameIsFrom && fromSeen) {
			continue
		}
		if state != 0 && r.state == state {
			continue
		}
		out = append(out, host)
		delete(b.m, host)
	}
	return out
}

// forget forgets host if from is an address its requests came from, and
// reports whether it was.
func (b *hostBook) forget(host string, from netip.Addr) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.m[host]
	if r == nil || !r.has(from) {
		return false
	}
	delete(b.m, host)
	return true
}

func (b *hostBook) drop(host string) {
	b.mu.Lock()
	delete(b.m, host)
	b.mu.Unlock()
}
