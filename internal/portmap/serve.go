package portmap

import (
	"context"
	"net"
	"strconv"
	"time"

	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// ServeRPC implements rpc.Handler for program 100000 versions 2 to 4.
func (s *Service) ServeRPC(ctx context.Context, c *rpc.Call, w *xdr.Writer) error {
	t := *s.table.Load()
	switch c.Vers {
	case 2:
		return serveV2(t, c, w)
	case 3, 4:
		return serveRPCB(t, c, w)
	}
	return rpc.ErrProcUnavail
}

func serveV2(t []Mapping, c *rpc.Call, w *xdr.Writer) error {
	r := c.Args
	switch c.Proc {
	case procNull:
		return nil
	case pmapSet, pmapUnset:
		readPmap(r)
		if r.Err() != nil {
			return rpc.ErrGarbageArgs
		}
		w.Bool(false)
		return nil
	case pmapGetport:
		prog, vers, prot, _ := readPmap(r)
		if r.Err() != nil {
			return rpc.ErrGarbageArgs
		}
		var port uint32
		if m, ok := find(t, prog, vers, prot, "", false); ok {
			port = m.Port
		}
		w.Uint32(port)
		return nil
	case pmapDump:
		for _, m := range t {
			if m.Netid != "" {
				continue
			}
			w.Bool(true)
			w.Uint32(m.Prog)
			w.Uint32(m.Vers)
			w.Uint32(m.Prot)
			w.Uint32(m.Port)
		}
		w.Bool(false)
		return nil
	case pmapCallit:
		return rpc.ErrDrop
	}
	return rpc.ErrProcUnavail
}

// readPmap reads a version 2 mapping argument.
func readPmap(r *xdr.Reader) (prog, vers, prot, port uint32) {
	return r.Uint32(), r.Uint32(), r.Uint32(), r.Uint32()
}

// rpcb is the argument of rpcbind SET, UNSET, GETADDR and GETVERSADDR.
type rpcb struct {
	prog, vers uint32
	netid      []byte
}

func readRPCB(r *xdr.Reader) rpcb {
	a := rpcb{prog: r.Uint32(), vers: r.Uint32(), netid: r.Opaque(maxNetid)}
	r.Opaque(maxUaddr) // the caller's address: unused
	r.Opaque(maxOwner)
	return a
}

func serveRPCB(t []Mapping, c *rpc.Call, w *xdr.Writer) error {
	r := c.Args
	switch c.Proc {
	case procNull:
		return nil
	case rpcbSet, rpcbUnset:
		readRPCB(r)
		if r.Err() != nil {
			return rpc.ErrGarbageArgs
		}
		w.Bool(false)
		return nil
	case rpcbGetaddr, rpcbGetversaddr:
		if c.Proc == rpcbGetversaddr && c.Vers < 4 {
			return rpc.ErrProcUnavail
		}
		a := readRPCB(r)
		if r.Err() != nil {
			return rpc.ErrGarbageArgs
		}
		w.String(getaddr(t, c, a, c.Proc == rpcbGetversaddr))
		return nil
	case rpcbDump:
		for i := range t {
			m := &t[i]
			netid, addr := entryAddr(m, c.LocalAddr)
			if netid == "" {
				continue
			}
			w.Bool(true)
			w.Uint32(m.Prog)
			w.Uint32(m.Vers)
			w.String(netid)
			w.String(addr)
			w.String(owner(m))
		}
		w.Bool(false)
		return nil
	case rpcbCallit:
		return rpc.ErrDrop
	case rpcbIndirect:
		if c.Vers < 4 {
			return rpc.ErrProcUnavail
		}
		return rpc.ErrDrop
	case rpcbGettime:
		w.Uint32(uint32(time.Now().Unix()))
		return nil
	}
	// UADDR2TADDR, TADDR2UADDR, GETADDRLIST, GETSTAT: conversions and
	// statistics nobody needs from a file server.
	return rpc.ErrProcUnavail
}

// getaddr answers GETADDR (any version of the program will do when the
// one asked for is missing, so that the caller learns the versions from
// PROG_MISMATCH) and GETVERSADDR (exact).
//
// RFC 1833 says to ignore the netid asked for and use that of the
// transport the query came on; we use the netid when it names TCP or UDP,
// which matches both readings for every client that asks over the
// transport it wants, and is right for one that does not. The address
// family is always the query's: it is the only local address known.
func getaddr(t []Mapping, c *rpc.Call, a rpcb, exact bool) string {
	netid := string(a.netid)
	prot := protOf(netid)
	if netid == "" {
		prot = protOf(c.Network)
	}
	if prot == 0 {
		return ""
	}
	m, ok := find(t, a.prog, a.vers, prot, netid, exact)
	if !ok {
		return ""
	}
	_, addr := entryAddr(&m, c.LocalAddr)
	return addr
}

// find looks a mapping up by program, version and protocol. An exact
// version is preferred, then an entry published for the very netid asked
// for; failing an exact version, the first entry of another version will
// do unless exact is set. An entry with its own Netid answers only queries
// naming that netid, and so is invisible to version 2.
func find(t []Mapping, prog, vers, prot uint32, netid string, exact bool) (Mapping, bool) {
	best, bestScore := -1, -1
	for i := range t {
		m := &t[i]
		if m.Prog != prog || m.Prot != prot || (m.Netid != "" && m.Netid != netid) {
			continue
		}
		score := 0
		if m.Vers == vers {
			score += 2
		} else if exact {
			continue
		}
		if m.Netid != "" {
			score++
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return Mapping{}, false
	}
	return t[best], true
}

func protOf(netid string) uint32 {
	switch netid {
	case "tcp", "tcp6":
		return ProtTCP
	case "udp", "udp6":
		return ProtUDP
	}
	return 0
}

// entryAddr is the netid and universal address rpcbind shows for m to a
// query that arrived on local. Without an address of its own, an entry is
// shown in the query's address family.
func entryAddr(m *Mapping, local net.Addr) (netid, addr string) {
	if m.Netid != "" && m.Addr != "" {
		return m.Netid, m.Addr
	}
	ip := addrIP(local)
	if ip == nil {
		return "", ""
	}
	netid = m.Netid
	if netid == "" {
		switch m.Prot {
		case ProtTCP:
			netid = "tcp"
		case ProtUDP:
			netid = "udp"
		default:
			return "", ""
		}
		if ip.To4() == nil {
			netid += "6"
		}
	}
	addr = m.Addr
	if addr == "" {
		addr = UniversalAddr(ip, m.Port)
	}
	return netid, addr
}

func addrIP(a net.Addr) net.IP {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP
	case *net.UDPAddr:
		return a.IP
	}
	return nil
}

func owner(m *Mapping) string {
	if m.Owner != "" {
		return m.Owner
	}
	return "tandem"
}

// UniversalAddr writes ip and port as an rpcbind universal address:
// "h1.h2.h3.h4.p1.p2" for IPv4 (IPv4-mapped IPv6 included) and the IPv6
// text followed by ".p1.p2" otherwise.
func UniversalAddr(ip net.IP, port uint32) string {
	var b []byte
	if ip4 := ip.To4(); ip4 != nil {
		for _, o := range ip4 {
			b = strconv.AppendUint(b, uint64(o), 10)
			b = append(b, '.')
		}
	} else {
		b = append(b, ip.String()...)
		b = append(b, '.')
	}
	b = strconv.AppendUint(b, uint64(port>>8&0xff), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(port&0xff), 10)
	return string(b)
}
