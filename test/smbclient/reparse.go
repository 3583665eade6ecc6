package smbclient

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"

	"github.com/tandemfs/tandem/test/ntlm"
)

// Symbolic links, as Windows servers show them (MS-SMB2 2.2.2.2.1, MS-FSCC
// 2.1.2.4): a CREATE that meets one fails with StatusStoppedOnSymlink and
// a symbolic link error response (CreateResponse.Symlink); the link's
// reparse point is read and set with FSCTL_GET_REPARSE_POINT and
// FSCTL_SET_REPARSE_POINT (Tree.Ioctl, SymlinkReparseData,
// ParseSymlinkReparseData).

const cmdIoctl command = 0x0b

// FSCTL codes and values of reparse points.
const (
	FsctlSetReparsePoint = 0x000900a4
	FsctlGetReparsePoint = 0x000900a8
	ReparseTagSymlink    = 0xa000000c
	SymlinkFlagRelative  = 0x00000001
	AttributeReparse     = 0x00000400
	symlinkErrorTag      = 0x4c4d5953
)

// The statuses of symbolic links.
const (
	StatusStoppedOnSymlink Status = 0x8000002d
	StatusNotAReparsePoint Status = 0xc0000275
)

// Symlink is a symbolic link as a server shows it.
type Symlink struct {
	SubstituteName string
	PrintName      string
	Flags          uint32
	// UnparsedPathLength is the length in bytes of what the path named
	// after the link (error response only).
	UnparsedPathLength uint16
}

// Ioctl sends an FSCTL (IOCTL, 2.2.31) with input in and returns the
// output, which an error status may carry too.
func (t *Tree) Ioctl(fid FileID, code uint32, in []byte, maxOut uint32) ([]byte, Status, error) {
	b := make([]byte, 56, 56+len(in))
	binary.LittleEndian.PutUint16(b, 57)
	binary.LittleEndian.PutUint32(b[4:], code)
	fid.put(b[8:])
	binary.LittleEndian.PutUint32(b[24:], headerSize+56) // InputOffset
	binary.LittleEndian.PutUint32(b[28:], uint32(len(in)))
	binary.LittleEndian.PutUint32(b[44:], maxOut)
	binary.LittleEndian.PutUint32(b[48:], 1) // SMB2_0_IOCTL_IS_FSCTL
	b = append(b, in...)
	if len(in) == 0 {
		b = append(b, 0)
	}
	r, err := t.c.call(request{cmd: cmdIoctl, body: b, treeID: t.id, charge: charge(max(len(in), int(maxOut)))})
	if err != nil {
		return nil, 0, fmt.Errorf("IOCTL: %w", err)
	}
	if len(r.body) < 48 || binary.LittleEndian.Uint16(r.body) != 49 {
		return nil, r.status, nil // an error response
	}
	off, n := int(binary.LittleEndian.Uint32(r.body[32:]))-headerSize, int(binary.LittleEndian.Uint32(r.body[36:]))
	if n == 0 {
		return []byte{}, r.status, nil
	}
	if off < 48 || off+n > len(r.body) {
		return nil, 0, errors.New("smbclient: IOCTL output out of bounds")
	}
	return append([]byte(nil), r.body[off:off+n]...), r.status, nil
}

// SymlinkReparseData is the REPARSE_DATA_BUFFER of a symbolic link.
func SymlinkReparseData(substitute, print string, flags uint32) []byte {
	s, p := ntlm.UTF16LE(substitute), ntlm.UTF16LE(print)
	b := make([]byte, 20, 20+len(s)+len(p))
	binary.LittleEndian.PutUint32(b, ReparseTagSymlink)
	binary.LittleEndian.PutUint16(b[4:], uint16(12+len(s)+len(p)))
	binary.LittleEndian.PutUint16(b[8:], 0)
	binary.LittleEndian.PutUint16(b[10:], uint16(len(s)))
	binary.LittleEndian.PutUint16(b[12:], uint16(len(s)))
	binary.LittleEndian.PutUint16(b[14:], uint16(len(p)))
	binary.LittleEndian.PutUint32(b[16:], flags)
	return append(append(b, s...), p...)
}

// ParseSymlinkReparseData decodes the REPARSE_DATA_BUFFER of a symbolic
// link.
func ParseSymlinkReparseData(b []byte) (*Symlink, error) {
	if len(b) < 8 || binary.LittleEndian.Uint32(b) != ReparseTagSymlink {
		return nil, errors.New("smbclient: not symbolic link reparse data")
	}
	if int(binary.LittleEndian.Uint16(b[4:])) != len(b)-8 {
		return nil, errors.New("smbclient: ReparseDataLength does not match")
	}
	return parseSymlinkNames(b[8:])
}

// parseSymlinkNames decodes name offsets, lengths, flags and names.
func parseSymlinkNames(b []byte) (*Symlink, error) {
	if len(b) < 12 {
		return nil, errors.New("smbclient: short symbolic link data")
	}
	path := b[12:]
	name := func(off, n uint16) (string, error) {
		if int(off)+int(n) > len(path) || n%2 != 0 {
			return "", errors.New("smbclient: symbolic link name out of bounds")
		}
		u := make([]uint16, n/2)
		for i := range u {
			u[i] = binary.LittleEndian.Uint16(path[int(off)+2*i:])
		}
		return string(utf16.Decode(u)), nil
	}
	sub, err := name(binary.LittleEndian.Uint16(b), binary.LittleEndian.Uint16(b[2:]))
	if err != nil {
		return nil, err
	}
	prn, err := name(binary.LittleEndian.Uint16(b[4:]), binary.LittleEndian.Uint16(b[6:]))
	if err != nil {
		return nil, err
	}
	return &Symlink{SubstituteName: sub, PrintName: prn, Flags: binary.LittleEndian.Uint32(b[8:])}, nil
}

// parseSymlinkError decodes the symbolic link error response of an
// SMB2 ERROR body: ErrorData itself, or from 3.1.1 the error context of
// ErrorId 0 (2.2.2.1).
func parseSymlinkError(body []byte) (*Symlink, error) {
	if len(body) < 8 {
		return nil, errors.New("smbclient: short error response")
	}
	n := int(binary.LittleEndian.Uint32(body[4:]))
	if 8+n > len(body) {
		return nil, errors.New("smbclient: error data out of bounds")
	}
	data := body[8 : 8+n]
	if count := body[2]; count > 0 {
		var found []byte
		for range count {
			if len(data) < 8 {
				return nil, errors.New("smbclient: short error context")
			}
			l := int(binary.LittleEndian.Uint32(data))
			if 8+l > len(data) {
				return nil, errors.New("smbclient: error context out of bounds")
			}
			if binary.LittleEndian.Uint32(data[4:]) == 0 && found == nil {
				found = data[8 : 8+l]
			}
			data = data[min(len(data), 8+(l+7)/8*8):]
		}
		if found == nil {
			return nil, errors.New("smbclient: no default error context")
		}
		data = found
	}
	if len(data) < 28 || binary.LittleEndian.Uint32(data[4:]) != symlinkErrorTag || binary.LittleEndian.Uint32(data[8:]) != ReparseTagSymlink {
		return nil, errors.New("smbclient: not a symbolic link error response")
	}
	if int(binary.LittleEndian.Uint32(data)) != len(data)-4 {
		return nil, errors.New("smbclient: SymLinkLength does not match")
	}
	s, err := parseSymlinkNames(data[16:])
	if err != nil {
		return nil, err
	}
	s.UnparsedPathLength = binary.LittleEndian.Uint16(data[14:])
	return s, nil
}
