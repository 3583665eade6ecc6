package smb

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/identity"
)

// exchange is one authentication in progress: a new session's, a
// re-authentication's or a channel binding's. Each has its own NTLM
// state, so that a binding on a second connection does not disturb the
// session it joins.
type exchange struct {
	ntlm     *ntlmServer
	mechList []byte // the client's SPNEGO mechanism list, for the mechListMIC
}

func (c *Conn) newExchange() *exchange {
	return &exchange{ntlm: &ntlmServer{computer: c.srv.opt.Name, domain: c.srv.opt.Domain}}
}

// identity is who an exchange proved the client to be.
type identityProof struct {
	key       [16]byte // exported session key; zero for anonymous and guests
	name      string
	caller    fs.Caller
	anonymous bool
	guest     bool
}

// keyless reports an identity without a session key.
func (p *identityProof) keyless() bool { return p.anonymous || p.guest }

// same reports whether p names the user a session already holds.
func (p *identityProof) same(s *Session) bool {
	return p.anonymous == s.anonymous && p.guest == s.guest && equalFold(p.name, s.user)
}

// step feeds one client token to the exchange and returns the token to
// send back; when the exchange is complete, who is set.
func (c *Conn) step(ctx context.Context, x *exchange, token []byte) (out []byte, who *identityProof, err error) {
	a := x.ntlm
	raw := bytes.HasPrefix(token, ntlmSignature)
	ntlmTok := token
	var clientMIC []byte
	if !raw {
		init, resp, err := parseSPNEGO(token)
		if err != nil {
			return nil, nil, StatusInvalidParameter
		}
		if init != nil {
			x.mechList = bytes.Clone(init.mechListRaw)
			hasNTLM := false
			for _, m := range init.mechTypes {
				hasNTLM = hasNTLM || bytes.Equal(m, oidNTLMSSP)
			}
			if !hasNTLM {
				return nil, nil, StatusLogonFailure
			}
			if !bytes.Equal(init.mechTypes[0], oidNTLMSSP) || !bytes.HasPrefix(init.mechToken, ntlmSignature) {
				// The client's optimistic token is for another mechanism:
				// select NTLMSSP and wait for its first token.
				return encodeNegTokenResp(negAcceptIncomplete, true, nil, nil), nil, nil
			}
			ntlmTok = init.mechToken
		} else {
			ntlmTok = resp.responseToken
			clientMIC = resp.mechListMIC
		}
	}
	if len(ntlmTok) < 12 || !bytes.HasPrefix(ntlmTok, ntlmSignature) {
		return nil, nil, StatusInvalidParameter
	}
	switch binary.LittleEndian.Uint32(ntlmTok[8:]) {
	case 1:
		chal, err := a.challengeMessage(ntlmTok, filetime(c.srv.opt.Now()))
		if err != nil {
			return nil, nil, StatusInvalidParameter
		}
		if raw {
			return chal, nil, nil
		}
		return encodeNegTokenResp(negAcceptIncomplete, true, chal, nil), nil, nil
	case 3:
		if a.challMsg == nil {
			return nil, nil, StatusInvalidParameter
		}
		who, err := c.authenticate(ctx, a, ntlmTok)
		if err != nil {
			return nil, nil, err
		}
		var mic []byte
		if clientMIC != nil && !who.keyless() {
			want := ntlmMAC(who.key, a.flags, true, 0, x.mechList)
			if !bytes.Equal(want[:], clientMIC) {
				return nil, nil, StatusLogonFailure
			}
			m := ntlmMAC(who.key, a.flags, false, 0, x.mechList)
			mic = m[:]
		}
		if raw {
			return []byte{}, who, nil
		}
		return encodeNegTokenResp(negAcceptCompleted, false, nil, mic), who, nil
	}
	return nil, nil, StatusInvalidParameter
}

// authenticate checks an AUTHENTICATE message against the user store and
// says who the client is.
func (c *Conn) authenticate(ctx context.Context, a *ntlmServer, msg []byte) (*identityProof, error) {
	am, err := parseAuthenticate(msg)
	if err != nil {
		return nil, StatusInvalidParameter
	}
	srv := c.srv
	who := &identityProof{name: am.user}
	switch {
	case am.anonymous:
		who.anonymous = true
		who.caller = fs.Caller{Anonymous: true}
	default:
		u, err := srv.ids.Lookup(ctx, am.user)
		switch {
		case errors.Is(err, identity.ErrNotFound):
			if !srv.opt.MapToGuest {
				return nil, StatusLogonFailure
			}
			who.guest = true
			who.caller = fs.Caller{Anonymous: true}
		case err != nil:
			srv.log.Error("smb: user lookup", "user", am.user, "err", err)
			return nil, StatusLogonFailure
		default:
			k, ok := a.verify(am, u.NTHash)
			if !ok {
				return nil, StatusLogonFailure
			}
			who.key = k
			who.name = u.Name
			a.flags = am.flags // what the client settled on keys its MACs
			who.caller = fs.Caller{UID: u.UID, GID: u.GID}
		}
	}
	who.caller.Addr = c.remote
	return who, nil
}

func equalFold(a, b string) bool { return bytes.EqualFold([]byte(a), []byte(b)) }
