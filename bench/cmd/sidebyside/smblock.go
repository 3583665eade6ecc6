package main

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// smbLockClient is a minimal SMB2 client (MS-SMB2) for byte-range lock
// round trips, which go-smb2 does not offer: NEGOTIATE of dialect 2.0.2 or
// 2.1 (no preauthentication hash, no encryption), NTLMv2 SESSION_SETUP,
// TREE_CONNECT, CREATE, LOCK and CLOSE, one request at a time. Requests are
// signed (HMAC-SHA256, the 2.x scheme) when the server requires it.
type smbLockClient struct {
	nc        net.Conn
	r         *bufio.Reader
	msgID     uint64
	sessionID uint64
	treeID    uint32
	dialect   uint16
	signKey   []byte // nil: requests go unsigned
}

const (
	smb2Negotiate     = 0
	smb2SessionSetup  = 1
	smb2TreeConnect   = 3
	smb2Create        = 5
	smb2Close         = 6
	smb2Lock          = 10
	smb2HeaderLen     = 64
	smb2FlagsResponse = 0x1
	smb2FlagsAsync    = 0x2
	smb2FlagsSigned   = 0x8
	smb2SigningReq    = 0x2

	statusSuccess         = 0
	statusPending         = 0x00000103
	statusMoreProcessing  = 0xc0000016
	lockExclusive         = 0x2
	lockUnlock            = 0x4
	lockFailImmediately   = 0x10
	dialect202            = 0x0202
	dialect210            = 0x0210
	fileGenericReadWrite  = 0x0012019f
	fileOpenIf            = 3
	fileNonDirectoryFile  = 0x40
	fileAttributeNormal   = 0x80
	fileShareAll          = 7
	impersonationImperson = 2
)

// smbStatusError is a response whose NTSTATUS is not success.
type smbStatusError uint32

func (e smbStatusError) Error() string { return fmt.Sprintf("NTSTATUS 0x%08x", uint32(e)) }

func dialSMBLock(addr, user, password, host, share string) (*smbLockClient, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	c := &smbLockClient{nc: nc, r: bufio.NewReader(nc)}
	if err := c.login(user, password); err != nil {
		nc.Close()
		return nil, err
	}
	if err := c.treeConnect(`\\` + host + `\` + share); err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

func (c *smbLockClient) close() { c.nc.Close() }

// roundTrip sends one request and returns the final response's header
// and body, skipping interim (STATUS_PENDING) responses.
func (c *smbLockClient) roundTrip(cmd uint16, body []byte) (hdr, resp []byte, err error) {
	h := make([]byte, smb2HeaderLen)
	copy(h, "\xfeSMB")
	binary.LittleEndian.PutUint16(h[4:], smb2HeaderLen)
	if c.dialect >= dialect210 {
		binary.LittleEndian.PutUint16(h[6:], 1) // CreditCharge
	}
	binary.LittleEndian.PutUint16(h[12:], cmd)
	binary.LittleEndian.PutUint16(h[14:], 16) // credits requested
	binary.LittleEndian.PutUint64(h[24:], c.msgID)
	binary.LittleEndian.PutUint32(h[32:], 0xfeff) // ProcessId
	binary.LittleEndian.PutUint32(h[36:], c.treeID)
	binary.LittleEndian.PutUint64(h[40:], c.sessionID)
	msg := append(h, body...)
	if c.signKey != nil {
		binary.LittleEndian.PutUint32(msg[16:], smb2FlagsSigned)
		mac := hmac.New(sha256.New, c.signKey)
		mac.Write(msg)
		copy(msg[48:64], mac.Sum(nil))
	}
	id := c.msgID
	c.msgID++
	frame := make([]byte, 4, 4+len(msg))
	binary.BigEndian.PutUint32(frame, uint32(len(msg))) // first byte 0: session message
	if _, err := c.nc.Write(append(frame, msg...)); err != nil {
		return nil, nil, err
	}
	for {
		var lenb [4]byte
		if _, err := io.ReadFull(c.r, lenb[:]); err != nil {
			return nil, nil, err
		}
		n := binary.BigEndian.Uint32(lenb[:]) & 0xffffff
		if n < smb2HeaderLen {
			return nil, nil, errors.New("smb2: short response")
		}
		m := make([]byte, n)
		if _, err := io.ReadFull(c.r, m); err != nil {
			return nil, nil, err
		}
		if string(m[:4]) != "\xfeSMB" || binary.LittleEndian.Uint64(m[24:]) != id {
			return nil, nil, errors.New("smb2: unexpected response")
		}
		flags := binary.LittleEndian.Uint32(m[16:])
		status := binary.LittleEndian.Uint32(m[8:])
		if flags&smb2FlagsAsync != 0 && status == statusPending {
			continue
		}
		return m[:smb2HeaderLen], m[smb2HeaderLen:], nil
	}
}

func status(hdr []byte) uint32 { return binary.LittleEndian.Uint32(hdr[8:]) }

func (c *smbLockClient) login(user, password string) error {
	// NEGOTIATE: StructureSize 36, two dialects, signing enabled.
	var guid [16]byte
	rand.Read(guid[:])
	body := make([]byte, 36, 40)
	binary.LittleEndian.PutUint16(body[0:], 36)
	binary.LittleEndian.PutUint16(body[2:], 2)
	binary.LittleEndian.PutUint16(body[4:], 1)
	copy(body[12:], guid[:])
	body = binary.LittleEndian.AppendUint16(body, dialect202)
	body = binary.LittleEndian.AppendUint16(body, dialect210)
	hdr, resp, err := c.roundTrip(smb2Negotiate, body)
	if err != nil {
		return fmt.Errorf("NEGOTIATE: %w", err)
	}
	if st := status(hdr); st != statusSuccess || len(resp) < 64 {
		return fmt.Errorf("NEGOTIATE: %w", smbStatusError(st))
	}
	secMode := binary.LittleEndian.Uint16(resp[2:])
	c.dialect = binary.LittleEndian.Uint16(resp[4:])
	if c.dialect != dialect202 && c.dialect != dialect210 {
		return fmt.Errorf("NEGOTIATE: server chose dialect 0x%04x", c.dialect)
	}

	hdr, resp, err = c.sessionSetup(spnegoInit(ntlmNegotiate()))
	if err != nil {
		return err
	}
	if st := status(hdr); st != statusMoreProcessing {
		return fmt.Errorf("SESSION_SETUP 1: %w", smbStatusError(st))
	}
	c.sessionID = binary.LittleEndian.Uint64(hdr[40:])
	tok, err := securityBuffer(resp)
	if err != nil {
		return err
	}
	if tok, err = spnegoToken(tok); err != nil {
		return err
	}
	ch, err := parseNTLMChallenge(tok)
	if err != nil {
		return err
	}
	auth, key, err := ntlmAuthenticate(ch, user, "", password)
	if err != nil {
		return err
	}
	hdr, _, err = c.sessionSetup(spnegoResponse(auth))
	if err != nil {
		return err
	}
	if st := status(hdr); st != statusSuccess {
		return fmt.Errorf("SESSION_SETUP 2: %w", smbStatusError(st))
	}
	if secMode&smb2SigningReq != 0 {
		c.signKey = key
	}
	return nil
}

func (c *smbLockClient) sessionSetup(token []byte) (hdr, resp []byte, err error) {
	body := make([]byte, 24, 24+len(token))
	binary.LittleEndian.PutUint16(body[0:], 25)
	body[3] = 1 // SecurityMode: signing enabled
	binary.LittleEndian.PutUint16(body[12:], smb2HeaderLen+24)
	binary.LittleEndian.PutUint16(body[14:], uint16(len(token)))
	hdr, resp, err = c.roundTrip(smb2SessionSetup, append(body, token...))
	if err != nil {
		err = fmt.Errorf("SESSION_SETUP: %w", err)
	}
	return hdr, resp, err
}

// securityBuffer returns the security blob of a SESSION_SETUP response.
func securityBuffer(resp []byte) ([]byte, error) {
	if len(resp) < 8 {
		return nil, errors.New("SESSION_SETUP: short response")
	}
	off := int(binary.LittleEndian.Uint16(resp[4:])) - smb2HeaderLen
	n := int(binary.LittleEndian.Uint16(resp[6:]))
	if off < 0 || off+n > len(resp) {
		return nil, errors.New("SESSION_SETUP: security buffer out of bounds")
	}
	return resp[off : off+n], nil
}

func (c *smbLockClient) treeConnect(path string) error {
	p := utf16le(path)
	body := make([]byte, 8, 8+len(p))
	binary.LittleEndian.PutUint16(body[0:], 9)
	binary.LittleEndian.PutUint16(body[4:], smb2HeaderLen+8)
	binary.LittleEndian.PutUint16(body[6:], uint16(len(p)))
	hdr, _, err := c.roundTrip(smb2TreeConnect, append(body, p...))
	if err != nil {
		return fmt.Errorf("TREE_CONNECT: %w", err)
	}
	if st := status(hdr); st != statusSuccess {
		return fmt.Errorf("TREE_CONNECT %s: %w", path, smbStatusError(st))
	}
	c.treeID = binary.LittleEndian.Uint32(hdr[36:])
	return nil
}

// open opens (creating if need be) a file for reading and writing,
// sharing everything, and returns its FileId.
func (c *smbLockClient) open(name string) ([16]byte, error) {
	var fid [16]byte
	p := utf16le(name)
	body := make([]byte, 56, 56+len(p))
	binary.LittleEndian.PutUint16(body[0:], 57)
	binary.LittleEndian.PutUint32(body[4:], impersonationImperson)
	binary.LittleEndian.PutUint32(body[24:], fileGenericReadWrite)
	binary.LittleEndian.PutUint32(body[28:], fileAttributeNormal)
	binary.LittleEndian.PutUint32(body[32:], fileShareAll)
	binary.LittleEndian.PutUint32(body[36:], fileOpenIf)
	binary.LittleEndian.PutUint32(body[40:], fileNonDirectoryFile)
	binary.LittleEndian.PutUint16(body[44:], smb2HeaderLen+56)
	binary.LittleEndian.PutUint16(body[46:], uint16(len(p)))
	hdr, resp, err := c.roundTrip(smb2Create, append(body, p...))
	if err != nil {
		return fid, fmt.Errorf("CREATE: %w", err)
	}
	if st := status(hdr); st != statusSuccess {
		return fid, fmt.Errorf("CREATE %s: %w", name, smbStatusError(st))
	}
	if len(resp) < 80 {
		return fid, errors.New("CREATE: short response")
	}
	copy(fid[:], resp[64:80])
	return fid, nil
}

// lock sends one LOCK request with one element.
func (c *smbLockClient) lock(fid [16]byte, off, length uint64, flags uint32) error {
	body := make([]byte, 48)
	binary.LittleEndian.PutUint16(body[0:], 48)
	binary.LittleEndian.PutUint16(body[2:], 1)
	copy(body[8:24], fid[:])
	binary.LittleEndian.PutUint64(body[24:], off)
	binary.LittleEndian.PutUint64(body[32:], length)
	binary.LittleEndian.PutUint32(body[40:], flags)
	hdr, _, err := c.roundTrip(smb2Lock, body)
	if err != nil {
		return err
	}
	if st := status(hdr); st != statusSuccess {
		return smbStatusError(st)
	}
	return nil
}

func (c *smbLockClient) closeFile(fid [16]byte) error {
	body := make([]byte, 24)
	binary.LittleEndian.PutUint16(body[0:], 24)
	copy(body[8:], fid[:])
	hdr, _, err := c.roundTrip(smb2Close, body)
	if err != nil {
		return err
	}
	if st := status(hdr); st != statusSuccess {
		return smbStatusError(st)
	}
	return nil
}
