package rpc

import (
	"encoding/binary"

	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// Bounds from RFC 5531: an opaque_auth body holds at most 400 bytes, and an
// AUTH_SYS credential names a machine in at most 255 bytes and lists at
// most 16 supplementary groups.
const (
	maxAuthBody    = 400
	maxMachineName = 255
	maxAuthGIDs    = 16
)

// headerVerdict is what decodeCall concluded about a message.
type headerVerdict int

const (
	verdictCall        headerVerdict = iota // a well-formed call: dispatch it
	verdictReply                            // a REPLY sent to a server: ignore it
	verdictNotRPC                           // not an RPC message at all
	verdictShort                            // a call cut off before its procedure number: drop it
	verdictRPCMismatch                      // rpcvers is not 2: answer RPC_MISMATCH
	verdictAuthError                        // the credential or verifier is refused: answer AUTH_ERROR
)

// nameCache keeps the last AUTH_SYS machine name decoded on a transport so
// that the stream of calls from one client, which all carry the same name,
// does not allocate a string per call.
type nameCache struct{ last string }

func (nc *nameCache) intern(b []byte) string {
	if string(b) != nc.last { // the comparison does not allocate
		nc.last = string(b)
	}
	return nc.last
}

// decodeCall decodes the call header at the start of msg into c and leaves
// c.Args (which must be non-nil) reading the procedure's arguments. For
// verdictAuthError the auth_stat to send is returned too. The checks run
// in the order the Linux server uses, so a client sees the same error for
// a call that is wrong in several ways: RPC version, then credential and
// verifier, then (by the caller) program, version and procedure.
func decodeCall(msg []byte, c *Call, names *nameCache) (headerVerdict, uint32) {
	if len(msg) < 8 {
		return verdictNotRPC, 0
	}
	r := c.Args
	r.Reset(msg)
	c.XID = r.Uint32()
	switch r.Uint32() {
	case MsgCall:
	case MsgReply:
		return verdictReply, 0
	default:
		return verdictNotRPC, 0
	}
	vers := r.Uint32()
	c.Prog = r.Uint32()
	c.Vers = r.Uint32()
	c.Proc = r.Uint32()
	if r.Err() != nil {
		if len(msg) >= 12 && vers != 2 {
			return verdictRPCMismatch, 0
		}
		return verdictShort, 0
	}
	if vers != 2 {
		return verdictRPCMismatch, 0
	}

	flavor := r.Uint32()
	body := r.Opaque(maxAuthBody)
	if r.Err() != nil {
		return verdictAuthError, AuthBadCred
	}
	vflavor := r.Uint32()
	vbody := r.Opaque(maxAuthBody)
	if r.Err() != nil {
		return verdictAuthError, AuthBadVerf
	}

	c.Cred = Cred{Flavor: flavor}
	switch flavor {
	case AuthNone:
		if len(body) != 0 {
			return verdictAuthError, AuthBadCred
		}
	case AuthSys:
		if !parseAuthSys(body, &c.Cred, names) {
			return verdictAuthError, AuthBadCred
		}
	default:
		// Like Linux: a flavor we have no code for is a bad credential,
		// which tells the client to stop retrying with it.
		return verdictAuthError, AuthBadCred
	}
	// Neither AUTH_NONE nor AUTH_SYS has a verifier of its own.
	if vflavor != AuthNone || len(vbody) != 0 {
		return verdictAuthError, AuthBadVerf
	}

	r.Reset(r.Rest())
	return verdictCall, 0
}

// parseAuthSys decodes an authsys_parms body, which must be consumed
// exactly.
func parseAuthSys(body []byte, cr *Cred, names *nameCache) bool {
	var r xdr.Reader
	r.Reset(body)
	cr.Stamp = r.Uint32()
	name := r.Opaque(maxMachineName)
	cr.UID = r.Uint32()
	cr.GID = r.Uint32()
	n := r.Uint32()
	if r.Err() != nil || n > maxAuthGIDs || r.Remaining() != int(n)*4 {
		return false
	}
	if names != nil {
		cr.MachineName = names.intern(name)
	} else {
		cr.MachineName = string(name)
	}
	// The groups are allocated, not pooled: a handler may keep the Cred
	// after it returns (a blocked lock waiting for its grant does).
	if n > 0 {
		cr.GIDs = make([]uint32, n)
		for i := range cr.GIDs {
			cr.GIDs[i] = r.Uint32()
		}
	}
	return true
}

// appendCred writes cred and an AUTH_NONE verifier as a call carries them.
func appendCred(w *xdr.Writer, cr *Cred) {
	switch cr.Flavor {
	case AuthNone:
		w.Uint32(AuthNone)
		w.Uint32(0)
	default:
		w.Uint32(cr.Flavor)
		at := w.Reserve(4)
		w.Uint32(cr.Stamp)
		w.String(cr.MachineName)
		w.Uint32(cr.UID)
		w.Uint32(cr.GID)
		w.Uint32(uint32(len(cr.GIDs)))
		for _, g := range cr.GIDs {
			w.Uint32(g)
		}
		w.PutUint32At(at, uint32(w.Len()-at-4))
	}
	w.Uint32(AuthNone)
	w.Uint32(0)
}

// appendCallHeader writes a call header for the given procedure.
func appendCallHeader(w *xdr.Writer, xid, prog, vers, proc uint32, cr *Cred) {
	w.Uint32(xid)
	w.Uint32(MsgCall)
	w.Uint32(2)
	w.Uint32(prog)
	w.Uint32(vers)
	w.Uint32(proc)
	appendCred(w, cr)
}

// Reply headers. Every reply we send carries an AUTH_NONE verifier.

func appendAccepted(b []byte, xid, stat uint32) []byte {
	b = binary.BigEndian.AppendUint32(b, xid)
	b = binary.BigEndian.AppendUint32(b, MsgReply)
	b = binary.BigEndian.AppendUint32(b, MsgAccepted)
	b = binary.BigEndian.AppendUint32(b, AuthNone)
	b = binary.BigEndian.AppendUint32(b, 0)
	return binary.BigEndian.AppendUint32(b, stat)
}

func appendProgMismatch(b []byte, xid, low, high uint32) []byte {
	b = appendAccepted(b, xid, ProgMismatch)
	b = binary.BigEndian.AppendUint32(b, low)
	return binary.BigEndian.AppendUint32(b, high)
}

func appendRPCMismatch(b []byte, xid uint32) []byte {
	b = binary.BigEndian.AppendUint32(b, xid)
	b = binary.BigEndian.AppendUint32(b, MsgReply)
	b = binary.BigEndian.AppendUint32(b, MsgDenied)
	b = binary.BigEndian.AppendUint32(b, RPCMismatch)
	b = binary.BigEndian.AppendUint32(b, 2)
	return binary.BigEndian.AppendUint32(b, 2)
}

func appendAuthError(b []byte, xid, stat uint32) []byte {
	b = binary.BigEndian.AppendUint32(b, xid)
	b = binary.BigEndian.AppendUint32(b, MsgReply)
	b = binary.BigEndian.AppendUint32(b, MsgDenied)
	b = binary.BigEndian.AppendUint32(b, AuthError)
	return binary.BigEndian.AppendUint32(b, stat)
}

// decodeReply reads a reply header (after the xid and message type, which
// the caller has matched) and leaves r at the results. It returns nil for
// SUCCESS, a *ReplyError for any other outcome, or a decode error.
func decodeReply(r *xdr.Reader) error {
	switch stat := r.Uint32(); stat {
	case MsgAccepted:
		r.Uint32() // verifier flavor: the client does not check verifiers
		r.Opaque(maxAuthBody)
		as := r.Uint32()
		e := &ReplyError{Stat: as}
		if as == ProgMismatch {
			e.Low, e.High = r.Uint32(), r.Uint32()
		}
		if err := r.Err(); err != nil {
			return err
		}
		if as == Success {
			return nil
		}
		return e
	case MsgDenied:
		e := &ReplyError{Denied: true, Stat: r.Uint32()}
		switch e.Stat {
		case RPCMismatch:
			e.Low, e.High = r.Uint32(), r.Uint32()
		case AuthError:
			e.Auth = r.Uint32()
		}
		if err := r.Err(); err != nil {
			return err
		}
		return e
	default:
		r.SetErr(errBadReply)
		return errBadReply
	}
}
