package smbclient

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf16"
)

// CHANGE_NOTIFY flags and completion filter bits (MS-SMB2 2.2.35), and
// the actions of FILE_NOTIFY_INFORMATION (MS-FSCC 2.7.1).
const (
	NotifyWatchTree = 0x0001

	NotifyFileName   = 0x00000001
	NotifyDirName    = 0x00000002
	NotifyAttributes = 0x00000004
	NotifySize       = 0x00000008
	NotifyLastWrite  = 0x00000010

	ActionAdded    = 1
	ActionRemoved  = 2
	ActionModified = 3
	ActionOldName  = 4
	ActionNewName  = 5
)

// NotifyChange is one FILE_NOTIFY_INFORMATION entry: what happened to the
// entry named (a path from the watched directory).
type NotifyChange struct {
	Action uint32
	Name   string
}

func (c NotifyChange) String() string { return fmt.Sprintf("%d:%s", c.Action, c.Name) }

// ChangeNotify sends CHANGE_NOTIFY (2.2.35) on the directory open fid,
// with flags (NotifyWatchTree) and the completion filter, and returns the
// changes of the final response, which may come after a long wait (the
// call's Timeout bounds it).
func (t *Tree) ChangeNotify(fid FileID, flags uint16, filter uint32) ([]NotifyChange, Status, error) {
	const outLen = 4096
	b := make([]byte, 32)
	binary.LittleEndian.PutUint16(b, 32)
	binary.LittleEndian.PutUint16(b[2:], flags)
	binary.LittleEndian.PutUint32(b[4:], outLen)
	fid.put(b[8:])
	binary.LittleEndian.PutUint32(b[24:], filter)
	r, err := t.c.call(request{cmd: cmdChangeNotify, body: b, treeID: t.id, charge: charge(outLen)})
	if err != nil {
		return nil, 0, fmt.Errorf("CHANGE_NOTIFY: %w", err)
	}
	if r.status != StatusSuccess {
		return nil, r.status, nil
	}
	if len(r.body) < 8 {
		return nil, 0, errors.New("smbclient: short CHANGE_NOTIFY response")
	}
	off := int(binary.LittleEndian.Uint16(r.body[2:])) - headerSize
	n := int(binary.LittleEndian.Uint32(r.body[4:]))
	if n == 0 {
		return nil, r.status, nil
	}
	if off < 8 || off+n > len(r.body) {
		return nil, 0, errors.New("smbclient: CHANGE_NOTIFY output out of bounds")
	}
	cs, err := parseNotify(r.body[off : off+n])
	return cs, r.status, err
}

// parseNotify decodes chained FILE_NOTIFY_INFORMATION entries.
func parseNotify(b []byte) ([]NotifyChange, error) {
	var out []NotifyChange
	for {
		if len(b) < 12 {
			return nil, errors.New("smbclient: short FILE_NOTIFY_INFORMATION")
		}
		next := int(binary.LittleEndian.Uint32(b))
		l := int(binary.LittleEndian.Uint32(b[8:]))
		if l%2 != 0 || 12+l > len(b) {
			return nil, errors.New("smbclient: FILE_NOTIFY_INFORMATION name out of bounds")
		}
		u := make([]uint16, l/2)
		for i := range u {
			u[i] = binary.LittleEndian.Uint16(b[12+2*i:])
		}
		out = append(out, NotifyChange{Action: binary.LittleEndian.Uint32(b[4:]), Name: string(utf16.Decode(u))})
		if next == 0 {
			return out, nil
		}
		if next < 12 || next > len(b) {
			return nil, errors.New("smbclient: FILE_NOTIFY_INFORMATION chain out of bounds")
		}
		b = b[next:]
	}
}
