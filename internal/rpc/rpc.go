// Package rpc is ONC RPC version 2 (RFC 5531) for Tandem's servers: record
// marking over TCP, datagrams over UDP, the call and reply headers, AUTH_NONE
// and AUTH_SYS credentials, and dispatch of calls to registered programs.
//
// A Program is a number, a range of versions and a Handler. The Server reads
// calls, answers the RPC-level errors itself (PROG_UNAVAIL, PROG_MISMATCH,
// GARBAGE_ARGS, AUTH_ERROR, RPC_MISMATCH), runs handlers concurrently (many
// calls in flight per connection, replies in completion order) and recovers
// from a handler panic by answering SYSTEM_ERR: no panic ever reaches a
// connection.
//
// Credentials are checked as the Linux server checks them, so that clients
// see familiar errors: a flavor other than AUTH_NONE and AUTH_SYS (AUTH_DH,
// RPCSEC_GSS, AUTH_SHORT) and a malformed credential (an AUTH_SYS body that
// does not parse exactly, a machine name over 255 bytes, more than 16
// groups, an AUTH_NONE body that is not empty) get AUTH_ERROR/AUTH_BADCRED;
// a verifier other than an empty AUTH_NONE gets AUTH_BADVERF. Programs that
// want more than AUTH_NONE say so with ErrAuthTooWeak.
//
// On a TCP stream a peer that breaks record marking (a record over the size
// bound, too many fragments) or sends something that is not an RPC message
// loses its connection; on UDP such datagrams are dropped. A call cut off
// before its procedure number and a reply sent to the server are ignored.
package rpc

import (
	"context"
	"errors"
	"net"

	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// Message types, reply and accept states (RFC 5531 section 9).
const (
	MsgCall  = 0
	MsgReply = 1

	MsgAccepted = 0
	MsgDenied   = 1

	Success      = 0
	ProgUnavail  = 1
	ProgMismatch = 2
	ProcUnavail  = 3
	GarbageArgs  = 4
	SystemErr    = 5

	RPCMismatch = 0
	AuthError   = 1
)

// Authentication flavors and auth_stat values.
const (
	AuthNone  = 0
	AuthSys   = 1
	AuthShort = 2

	AuthOK           = 0
	AuthBadCred      = 1
	AuthRejectedCred = 2
	AuthBadVerf      = 3
	AuthRejectedVerf = 4
	AuthTooWeak      = 5
)

// Cred is the caller's identity as the credential states it. For AUTH_NONE
// Flavor is AuthNone and the ids are meaningless; the file system maps such
// callers to the anonymous user.
type Cred struct {
	Flavor      uint32
	Stamp       uint32
	MachineName string
	UID, GID    uint32
	GIDs        []uint32
}

// Call is one decoded call. Args reads the procedure's arguments. The Call
// and Args are reused once the handler returns: the handler must not keep
// them, or slices read from Args, past its return. Cred may be kept.
type Call struct {
	XID        uint32
	Prog       uint32
	Vers       uint32
	Proc       uint32
	Cred       Cred
	Args       *xdr.Reader
	Network    string // "tcp" or "udp"
	LocalAddr  net.Addr
	RemoteAddr net.Addr
}

// Handler serves the calls of one program. It writes the procedure's
// results (everything after accept_stat SUCCESS) to w and returns nil, or
// returns one of the errors below for the RPC-level failures; w is then
// discarded. Any other error answers SYSTEM_ERR.
type Handler interface {
	ServeRPC(ctx context.Context, c *Call, w *xdr.Writer) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, c *Call, w *xdr.Writer) error

// ServeRPC calls f.
func (f HandlerFunc) ServeRPC(ctx context.Context, c *Call, w *xdr.Writer) error {
	return f(ctx, c, w)
}

// Errors a Handler returns to ask for an RPC-level reply.
var (
	ErrProcUnavail = errors.New("rpc: procedure unavailable")
	ErrGarbageArgs = errors.New("rpc: garbage arguments")
	ErrSystem      = errors.New("rpc: system error")
	// ErrAuthTooWeak answers AUTH_ERROR/AUTH_TOOWEAK (a flavor the
	// program does not accept).
	ErrAuthTooWeak = errors.New("rpc: authentication too weak")
	// ErrDrop sends no reply at all (the duplicate of a call in progress,
	// or a call the server chooses to ignore, such as a forged callback).
	ErrDrop = errors.New("rpc: drop call")
)

// Program is one RPC program version range served by a Server.
type Program struct {
	Prog      uint32
	Low       uint32 // lowest version served
	High      uint32 // highest version served
	Name      string // for logs and metrics, e.g. "nfs"
	Handler   Handler
	NoPortmap bool // true for programs not registered with the portmapper
}
