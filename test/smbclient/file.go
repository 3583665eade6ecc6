package smbclient

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// charge is the CreditCharge of a request moving n bytes: one credit per
// 64 KiB begun (2.1 and later).
func charge(n int) uint16 { return uint16(max(1, (n+65535)/65536)) }

// WriteThrough is the WRITE flag asking that the data be on stable
// storage before the response.
const WriteThrough = 0x00000001

// Write writes data at off (WRITE, MS-SMB2 2.2.21) and returns the count
// the server wrote.
func (t *Tree) Write(fid FileID, off uint64, data []byte) (uint32, Status, error) {
	return t.WriteFlags(fid, off, data, 0)
}

// WriteFlags is Write with the request's Flags (WriteThrough).
func (t *Tree) WriteFlags(fid FileID, off uint64, data []byte, flags uint32) (uint32, Status, error) {
	b := make([]byte, 48, 48+len(data))
	binary.LittleEndian.PutUint16(b, 49)
	binary.LittleEndian.PutUint16(b[2:], headerSize+48) // DataOffset
	binary.LittleEndian.PutUint32(b[4:], uint32(len(data)))
	binary.LittleEndian.PutUint64(b[8:], off)
	fid.put(b[16:])
	binary.LittleEndian.PutUint32(b[44:], flags)
	b = append(b, data...)
	r, err := t.c.call(request{cmd: cmdWrite, body: b, treeID: t.id, charge: charge(len(data))})
	if err != nil {
		return 0, 0, fmt.Errorf("WRITE: %w", err)
	}
	if r.status != StatusSuccess {
		return 0, r.status, nil
	}
	if len(r.body) < 16 {
		return 0, 0, errors.New("smbclient: short WRITE response")
	}
	return binary.LittleEndian.Uint32(r.body[4:]), r.status, nil
}

// Read reads up to n bytes at off (READ, 2.2.19). At the end of the file
// the status is StatusEndOfFile and no data comes back.
func (t *Tree) Read(fid FileID, off uint64, n uint32) ([]byte, Status, error) {
	b := make([]byte, 49)
	binary.LittleEndian.PutUint16(b, 49)
	binary.LittleEndian.PutUint32(b[4:], n)
	binary.LittleEndian.PutUint64(b[8:], off)
	fid.put(b[16:])
	r, err := t.c.call(request{cmd: cmdRead, body: b, treeID: t.id, charge: charge(int(n))})
	if err != nil {
		return nil, 0, fmt.Errorf("READ: %w", err)
	}
	if r.status != StatusSuccess {
		return nil, r.status, nil
	}
	if len(r.body) < 16 {
		return nil, 0, errors.New("smbclient: short READ response")
	}
	doff := int(r.body[2]) - headerSize
	dlen := int(binary.LittleEndian.Uint32(r.body[4:]))
	if dlen == 0 {
		return []byte{}, r.status, nil
	}
	if doff < 16 || doff+dlen > len(r.body) {
		return nil, 0, errors.New("smbclient: READ data out of bounds")
	}
	return append([]byte(nil), r.body[doff:doff+dlen]...), r.status, nil
}

// fileCall sends a request whose body is StructureSize, 6 reserved bytes
// and a FileId (FLUSH, CLOSE).
func (t *Tree) fileCall(cmd command, name string, fid FileID, size uint16) (*message, error) {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint16(b, size)
	fid.put(b[8:])
	r, err := t.c.call(request{cmd: cmd, body: b, treeID: t.id})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}

// Flush asks that the file's data be on stable storage (FLUSH, 2.2.17).
func (t *Tree) Flush(fid FileID) (Status, error) {
	r, err := t.fileCall(cmdFlush, "FLUSH", fid, 24)
	if err != nil {
		return 0, err
	}
	return r.status, nil
}

// Close closes the open (CLOSE, 2.2.15); its locks go with it.
func (t *Tree) Close(fid FileID) (Status, error) {
	r, err := t.fileCall(cmdClose, "CLOSE", fid, 24)
	if err != nil {
		return 0, err
	}
	return r.status, nil
}

// Lock element flags (2.2.26.1).
const (
	LockShared          = 0x01
	LockExclusive       = 0x02
	LockUnlock          = 0x04
	LockFailImmediately = 0x10
)

// LockElement is one range of a LOCK request.
type LockElement struct {
	Offset, Length uint64
	Flags          uint32
}

// LockSequence is the LockSequenceNumber (4 bits) and LockSequenceIndex
// (1 to 64) of a resilient or durable open's LOCK (2.2.26), which lets
// the server recognize a replayed request.
type LockSequence struct {
	Number uint8
	Index  uint32
}

// Lock sends one LOCK (2.2.26) of the elements, without a lock sequence.
// A lock without LockFailImmediately may wait: the call returns when the
// server completes it (the interim STATUS_PENDING is not returned).
func (t *Tree) Lock(fid FileID, locks ...LockElement) (Status, error) {
	return t.LockSeq(fid, LockSequence{}, locks...)
}

// LockSeq is Lock with a lock sequence.
func (t *Tree) LockSeq(fid FileID, seq LockSequence, locks ...LockElement) (Status, error) {
	b := make([]byte, 24, 24+24*len(locks))
	binary.LittleEndian.PutUint16(b, 48)
	binary.LittleEndian.PutUint16(b[2:], uint16(len(locks)))
	binary.LittleEndian.PutUint32(b[4:], uint32(seq.Number&0xf)|seq.Index<<4)
	fid.put(b[8:])
	for _, l := range locks {
		b = binary.LittleEndian.AppendUint64(b, l.Offset)
		b = binary.LittleEndian.AppendUint64(b, l.Length)
		b = binary.LittleEndian.AppendUint32(b, l.Flags)
		b = append(b, 0, 0, 0, 0)
	}
	if len(locks) == 0 {
		b = append(b, make([]byte, 24)...) // the body is 48 bytes at least
	}
	r, err := t.c.call(request{cmd: cmdLock, body: b, treeID: t.id})
	if err != nil {
		return 0, fmt.Errorf("LOCK: %w", err)
	}
	return r.status, nil
}

// AckOplockBreak acknowledges an oplock break (2.2.24.1) with the level
// the client keeps, and returns the level the server's response names.
func (t *Tree) AckOplockBreak(fid FileID, level OplockLevel) (OplockLevel, Status, error) {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint16(b, 24)
	b[2] = byte(level)
	fid.put(b[8:])
	r, err := t.c.call(request{cmd: cmdOplockBreak, body: b, treeID: t.id})
	if err != nil {
		return 0, 0, fmt.Errorf("OPLOCK_BREAK: %w", err)
	}
	if r.status != StatusSuccess {
		return 0, r.status, nil
	}
	if len(r.body) < 24 {
		return 0, 0, errors.New("smbclient: short oplock break response")
	}
	return OplockLevel(r.body[2]), r.status, nil
}

// AckLeaseBreak acknowledges a lease break (2.2.24.2) with the state the
// client keeps, and returns the state the server's response names.
func (t *Tree) AckLeaseBreak(key [16]byte, state LeaseState) (LeaseState, Status, error) {
	b := make([]byte, 36)
	binary.LittleEndian.PutUint16(b, 36)
	copy(b[8:24], key[:])
	binary.LittleEndian.PutUint32(b[24:], uint32(state))
	r, err := t.c.call(request{cmd: cmdOplockBreak, body: b, treeID: t.id})
	if err != nil {
		return 0, 0, fmt.Errorf("OPLOCK_BREAK (lease): %w", err)
	}
	if r.status != StatusSuccess {
		return 0, r.status, nil
	}
	if len(r.body) < 36 {
		return 0, 0, errors.New("smbclient: short lease break response")
	}
	return LeaseState(binary.LittleEndian.Uint32(r.body[24:])), r.status, nil
}
