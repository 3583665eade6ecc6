// Package portmap answers "which port serves program P, version V?" for
// Tandem's own RPC programs, so that clients find MOUNT, NFS, NLM and NSM
// without a system rpcbind.
//
// Two generations of the protocol share program 100000. Portmapper version
// 2 (RFC 1833, "port mapper program protocol") maps (program, version,
// protocol) to a port number and knows only TCP and UDP over IPv4. Rpcbind
// versions 3 and 4 map (program, version, netid) to a universal address, a
// string that carries host and port together: "192.0.2.7.8.1" is port
// 8*256+1 = 2049 on 192.0.2.7, and IPv6 addresses are written the same way
// after their usual text ("::1.8.1").
//
// Unlike a system rpcbind this service publishes a fixed table that the
// server sets at start: SET and UNSET from the network are refused, and the
// indirect-call procedures (CALLIT, BCAST, INDIRECT), which would let
// anyone bounce calls off this host, are silently ignored as a broadcast
// caller expects from a host without the program. A mapping's address is
// the local address the query came in on, so one table serves every
// interface of a multi-homed host.
package portmap

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// The program, its well-known port, and the protocol numbers of version 2.
const (
	Prog    = 100000
	Port    = 111
	ProtTCP = 6
	ProtUDP = 17
)

// Procedures of version 2.
const (
	procNull    = 0
	pmapSet     = 1
	pmapUnset   = 2
	pmapGetport = 3
	pmapDump    = 4
	pmapCallit  = 5
)

// Procedures of versions 3 and 4 (9 to 12 are version 4 only).
const (
	rpcbSet         = 1
	rpcbUnset       = 2
	rpcbGetaddr     = 3
	rpcbDump        = 4
	rpcbCallit      = 5 // BCAST in version 4
	rpcbGettime     = 6
	rpcbUaddr2taddr = 7
	rpcbTaddr2uaddr = 8
	rpcbGetversaddr = 9
	rpcbIndirect    = 10
	rpcbGetaddrlist = 11
	rpcbGetstat     = 12
)

// Bounds on the strings of an rpcb argument, which XDR leaves unbounded.
const (
	maxNetid = 64
	maxUaddr = 256
	maxOwner = 256
)

// Mapping is one published (program, version, transport) -> port entry.
type Mapping struct {
	Prog, Vers uint32
	Prot       uint32 // ProtTCP or ProtUDP
	Port       uint32
	// Netid, when set, is the only rpcbind netid this entry answers to
	// ("tcp6"); empty means "tcp"/"tcp6" or "udp"/"udp6" after Prot and
	// the family of the address the query came in on.
	Netid string
	// Addr, when set, is the universal address rpcbind returns for this
	// entry in place of the one built from the query's local address and
	// Port (for a host reached through address translation).
	Addr string
	// Owner is shown by rpcbind DUMP; empty means "tandem".
	Owner string
}

// Service serves program 100000 versions 2 to 4 from the published table.
// It is safe for concurrent use; Set may be called while serving.
type Service struct {
	table atomic.Pointer[[]Mapping]
}

// New returns a Service with an empty table.
func New() *Service {
	s := new(Service)
	s.table.Store(&[]Mapping{})
	return s
}

// Set publishes ms, replacing the table. The slice is copied.
func (s *Service) Set(ms []Mapping) {
	t := slices.Clone(ms)
	s.table.Store(&t)
}

// Mappings returns a copy of the published table.
func (s *Service) Mappings() []Mapping { return slices.Clone(*s.table.Load()) }

// Program is the registration of s with an rpc.Server.
func (s *Service) Program() rpc.Program {
	return rpc.Program{Prog: Prog, Low: 2, High: 4, Name: "portmap", Handler: s}
}

// MappingsFor lists a mapping to port over prot for each version of each
// program that wants to be found through the portmapper.
func MappingsFor(progs []rpc.Program, prot, port uint32) []Mapping {
	var ms []Mapping
	for _, p := range progs {
		if p.NoPortmap {
			continue
		}
		for v := p.Low; ; v++ {
			ms = append(ms, Mapping{Prog: p.Prog, Vers: v, Prot: prot, Port: port})
			if v == p.High {
				break
			}
		}
	}
	return ms
}

// ErrNotRegistered is returned by GetPort when the remote portmapper has
// no mapping for the program.
var ErrNotRegistered = errors.New("portmap: program not registered")

// GetPort asks the portmapper (version 2) at host:port (port 0 means 111)
// for the port of program prog, version vers over prot, sending the query
// over that same protocol. Without a deadline in ctx it gives up after 10
// seconds.
func GetPort(ctx context.Context, host string, port int, prog, vers, prot uint32) (uint32, error) {
	if port == 0 {
		port = Port
	}
	var network string
	switch prot {
	case ProtTCP:
		network = "tcp"
	case ProtUDP:
		network = "udp"
	default:
		return 0, errors.New("portmap: protocol is neither TCP nor UDP")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
	}
	c, err := rpc.Dial(ctx, network, net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var got uint32
	err = c.Call(ctx, Prog, 2, pmapGetport, rpc.Cred{},
		func(w *xdr.Writer) {
			w.Uint32(prog)
			w.Uint32(vers)
			w.Uint32(prot)
			w.Uint32(0)
		},
		func(r *xdr.Reader) error {
			got = r.Uint32()
			return nil
		})
	if err != nil {
		return 0, err
	}
	if got == 0 {
		return 0, ErrNotRegistered
	}
	return got, nil
}
