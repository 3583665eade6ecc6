package smbclient

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	"github.com/tandemfs/tandem/test/ntlm"
)

// Security mode and capability bits of NEGOTIATE and SESSION_SETUP.
const (
	signingEnabled  = 0x0001
	signingRequired = 0x0002
	capLeasing      = 0x00000002
	capLargeMTU     = 0x00000004

	negCtxPreauth = 0x0001
	hashSHA512    = 0x0001
)

// negotiate sends NEGOTIATE (MS-SMB2 2.2.3) offering the dialects of the
// options, and for 3.1.1 a preauth integrity context (SHA-512); no
// encryption or signing algorithm is offered, so 3.1.1 signs with
// AES-CMAC.
func (c *Conn) negotiate() error {
	b := make([]byte, 36)
	binary.LittleEndian.PutUint16(b, 36)
	binary.LittleEndian.PutUint16(b[2:], uint16(len(c.opt.Dialects)))
	secMode := uint16(signingEnabled)
	if c.opt.Sign {
		secMode |= signingRequired
	}
	binary.LittleEndian.PutUint16(b[4:], secMode)
	binary.LittleEndian.PutUint32(b[8:], capLeasing|capLargeMTU)
	copy(b[12:28], c.opt.ClientGUID[:])
	has311 := false
	for _, d := range c.opt.Dialects {
		b = binary.LittleEndian.AppendUint16(b, uint16(d))
		has311 = has311 || d == Dialect311
	}
	if has311 {
		for (headerSize+len(b))%8 != 0 {
			b = append(b, 0)
		}
		binary.LittleEndian.PutUint32(b[28:], uint32(headerSize+len(b)))
		binary.LittleEndian.PutUint16(b[32:], 1)
		var salt [32]byte
		rand.Read(salt[:])
		b = binary.LittleEndian.AppendUint16(b, negCtxPreauth)
		b = binary.LittleEndian.AppendUint16(b, uint16(6+len(salt))) // count, salt length, one algorithm, salt
		b = append(b, 0, 0, 0, 0)
		b = binary.LittleEndian.AppendUint16(b, 1) // HashAlgorithmCount
		b = binary.LittleEndian.AppendUint16(b, uint16(len(salt)))
		b = binary.LittleEndian.AppendUint16(b, hashSHA512)
		b = append(b, salt[:]...)
	}
	req, r, err := c.exchange(request{cmd: cmdNegotiate, body: b})
	if err != nil {
		return fmt.Errorf("NEGOTIATE: %w", err)
	}
	if r.status != StatusSuccess {
		return &StatusError{"NEGOTIATE", r.status}
	}
	if len(r.body) < 64 {
		return errors.New("smbclient: short NEGOTIATE response")
	}
	c.serverSecMode = binary.LittleEndian.Uint16(r.body[2:])
	c.dialect = Dialect(binary.LittleEndian.Uint16(r.body[4:]))
	copy(c.serverGUID[:], r.body[8:24])
	c.maxRead = binary.LittleEndian.Uint32(r.body[32:])
	c.maxWrite = binary.LittleEndian.Uint32(r.body[36:])
	if c.dialect == Dialect311 {
		c.preauth = preauthUpdate(preauthUpdate([64]byte{}, req), r.raw)
	}
	return nil
}

// Logon is who SESSION_SETUP authenticates.
type Logon struct {
	User, Password, Domain string
	// PreviousSessionID names the session this client had before it
	// lost its connection; the server logs that session off.
	PreviousSessionID uint64
}

// SessionSetup authenticates with NTLMv2 in SPNEGO (two SESSION_SETUP
// round trips, MS-SMB2 2.2.5) and returns the status of the last one:
// StatusSuccess, StatusLogonFailure for a wrong password or an unknown
// user, or whatever else the server answered. On success the session's
// signing key is derived; requests are signed from then on if the
// options or the server require it, and every signed response of the
// session is checked.
func (c *Conn) SessionSetup(l Logon) (Status, error) {
	preauth := c.preauth
	c.mu.Lock()
	c.sessionID = 0
	c.mu.Unlock()

	req, r, err := c.exchange(request{cmd: cmdSessionSetup, body: c.setupBody(ntlm.SPNEGOInit(ntlm.Negotiate()), l)})
	if err != nil {
		return 0, fmt.Errorf("SESSION_SETUP: %w", err)
	}
	if r.status != StatusMoreProcessingRequired {
		return r.status, nil
	}
	preauth = preauthUpdate(preauthUpdate(preauth, req), r.raw)
	c.mu.Lock()
	c.sessionID = r.sessionID
	c.mu.Unlock()
	blob, err := securityBuffer(r.body)
	if err != nil {
		return 0, err
	}
	tok, err := ntlm.SPNEGOToken(blob)
	if err != nil {
		return 0, err
	}
	ch, err := ntlm.ParseChallenge(tok)
	if err != nil {
		return 0, err
	}
	auth, key, err := ntlm.Authenticate(ch, l.User, l.Domain, l.Password)
	if err != nil {
		return 0, err
	}
	req, r, err = c.exchange(request{cmd: cmdSessionSetup, body: c.setupBody(ntlm.SPNEGOResponse(auth), l)})
	if err != nil {
		return 0, fmt.Errorf("SESSION_SETUP: %w", err)
	}
	if r.status != StatusSuccess {
		c.mu.Lock()
		c.sessionID = 0
		c.mu.Unlock()
		return r.status, nil
	}
	preauth = preauthUpdate(preauth, req)
	sg := sessionSigner(c.dialect, key, preauth)
	if r.flags&flagSigned != 0 && !verifySignature(sg, r.raw) {
		return 0, errors.New("smbclient: the final SESSION_SETUP response has a bad signature")
	}
	c.mu.Lock()
	c.signer = sg
	c.sign = c.opt.Sign || c.serverSecMode&signingRequired != 0
	c.mu.Unlock()
	return r.status, nil
}

func (c *Conn) setupBody(token []byte, l Logon) []byte {
	b := make([]byte, 24, 24+len(token))
	binary.LittleEndian.PutUint16(b, 25)
	b[3] = signingEnabled
	if c.opt.Sign {
		b[3] |= signingRequired
	}
	binary.LittleEndian.PutUint16(b[12:], headerSize+24)
	binary.LittleEndian.PutUint16(b[14:], uint16(len(token)))
	binary.LittleEndian.PutUint64(b[16:], l.PreviousSessionID)
	return append(b, token...)
}

// securityBuffer returns the security blob of a SESSION_SETUP response.
func securityBuffer(body []byte) ([]byte, error) {
	if len(body) < 8 {
		return nil, errors.New("smbclient: short SESSION_SETUP response")
	}
	off := int(binary.LittleEndian.Uint16(body[4:])) - headerSize
	n := int(binary.LittleEndian.Uint16(body[6:]))
	if off < 0 || off+n > len(body) {
		return nil, errors.New("smbclient: SESSION_SETUP security buffer out of bounds")
	}
	return body[off : off+n], nil
}

// Logoff ends the session (LOGOFF): the server closes its opens and
// releases their locks, durable or not.
func (c *Conn) Logoff() (Status, error) {
	r, err := c.call(request{cmd: cmdLogoff, body: []byte{4, 0, 0, 0}})
	if err != nil {
		return 0, fmt.Errorf("LOGOFF: %w", err)
	}
	if r.status == StatusSuccess {
		c.mu.Lock()
		c.sessionID, c.signer, c.sign = 0, nil, false
		c.mu.Unlock()
	}
	return r.status, nil
}

// Tree is a connected share (TREE_CONNECT) of a connection's session; the
// file operations go through it.
type Tree struct {
	c  *Conn
	id uint32
}

// TreeConnect connects the share named by path, `\\server\share`. The
// tree is nil unless the status is StatusSuccess.
func (c *Conn) TreeConnect(path string) (*Tree, Status, error) {
	p := ntlm.UTF16LE(path)
	b := make([]byte, 8, 8+len(p))
	binary.LittleEndian.PutUint16(b, 9)
	binary.LittleEndian.PutUint16(b[4:], headerSize+8)
	binary.LittleEndian.PutUint16(b[6:], uint16(len(p)))
	r, err := c.call(request{cmd: cmdTreeConnect, body: append(b, p...)})
	if err != nil {
		return nil, 0, fmt.Errorf("TREE_CONNECT: %w", err)
	}
	if r.status != StatusSuccess {
		return nil, r.status, nil
	}
	return &Tree{c: c, id: r.treeID}, r.status, nil
}

// Conn is the connection the tree belongs to.
func (t *Tree) Conn() *Conn { return t.c }

// ID is the TreeId.
func (t *Tree) ID() uint32 { return t.id }

// Disconnect disconnects the tree (TREE_DISCONNECT).
func (t *Tree) Disconnect() (Status, error) {
	r, err := t.c.call(request{cmd: cmdTreeDisconnect, body: []byte{4, 0, 0, 0}, treeID: t.id})
	if err != nil {
		return 0, fmt.Errorf("TREE_DISCONNECT: %w", err)
	}
	return r.status, nil
}

// Connect is the usual start: Dial with opt, log on as user with
// password and connect `\\host\share` of addr. Any step that does not
// succeed is an error (a *StatusError for a refusal).
func Connect(addr string, opt Options, user, password, share string) (*Conn, *Tree, error) {
	c, err := Dial(addr, opt)
	if err != nil {
		return nil, nil, err
	}
	st, err := c.SessionSetup(Logon{User: user, Password: password})
	if err == nil && st != StatusSuccess {
		err = &StatusError{"SESSION_SETUP", st}
	}
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	t, st, err := c.TreeConnect(`\\` + host + `\` + share)
	if err == nil && st != StatusSuccess {
		err = &StatusError{"TREE_CONNECT", st}
	}
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, t, nil
}
