// Package rpcauth turns the credential of an ONC RPC call into the file
// system's caller. NFS, MOUNT and NLM all use this one rule, so that a
// client is the same user to each of them.
//
// The rpc layer admits only AUTH_SYS and AUTH_NONE (any other flavor is
// refused there with AUTH_BADCRED, as Linux's nfsd does), so the rule is
// short: AUTH_SYS gives the uid, gid and groups the client sent, AUTH_NONE
// an anonymous caller that the share's squash settings map to its
// anonymous user.
package rpcauth

import (
	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/rpc"
)

// Caller fills cl from the call's credential and source address. A flavor
// other than AUTH_SYS and AUTH_NONE is rpc.ErrAuthTooWeak.
func Caller(c *rpc.Call, cl *fs.Caller) error {
	switch c.Cred.Flavor {
	case rpc.AuthSys:
		cl.UID, cl.GID, cl.Groups = c.Cred.UID, c.Cred.GID, c.Cred.GIDs
	case rpc.AuthNone:
		cl.Anonymous = true
	default:
		return rpc.ErrAuthTooWeak
	}
	cl.Addr = rpc.IPOf(c.RemoteAddr)
	return nil
}
