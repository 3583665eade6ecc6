package main

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
)

// fakeSMB answers each request read from nc with a bare response of the
// given NTSTATUS, after an interim STATUS_PENDING when pending is set, and
// hands every request it read to got.
func fakeSMB(t *testing.T, nc net.Conn, status uint32, pending bool, got chan<- []byte) {
	r := bufio.NewReader(nc)
	for {
		var lenb [4]byte
		if _, err := io.ReadFull(r, lenb[:]); err != nil {
			close(got)
			return
		}
		req := make([]byte, binary.BigEndian.Uint32(lenb[:]))
		if _, err := io.ReadFull(r, req); err != nil {
			close(got)
			return
		}
		got <- req
		reply := func(st, flags uint32) {
			resp := make([]byte, smb2HeaderLen+4)
			copy(resp, req[:smb2HeaderLen])
			binary.LittleEndian.PutUint32(resp[8:], st)
			binary.LittleEndian.PutUint32(resp[16:], flags|smb2FlagsResponse)
			binary.LittleEndian.PutUint16(resp[smb2HeaderLen:], 4)
			frame := binary.BigEndian.AppendUint32(nil, uint32(len(resp)))
			nc.Write(append(frame, resp...))
		}
		if pending {
			reply(statusPending, smb2FlagsAsync)
		}
		reply(status, 0)
	}
}

func TestSMBLockRequest(t *testing.T) {
	cli, srv := net.Pipe()
	defer cli.Close()
	got := make(chan []byte, 4)
	go fakeSMB(t, srv, statusSuccess, true, got)
	c := &smbLockClient{nc: cli, r: bufio.NewReader(cli), msgID: 7, sessionID: 0x1122, treeID: 5, dialect: dialect210}
	fid := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	if err := c.lock(fid, 100, 1, lockExclusive|lockFailImmediately); err != nil {
		t.Fatal(err)
	}
	req := <-got
	var want []byte
	want = append(want, 0xfe, 'S', 'M', 'B', 64, 0, 1, 0) // protocol, StructureSize, CreditCharge
	want = append(want, 0, 0, 0, 0)                       // ChannelSequence
	want = append(want, smb2Lock, 0, 16, 0)               // Command, CreditRequest
	want = append(want, 0, 0, 0, 0, 0, 0, 0, 0)           // Flags, NextCommand
	want = binary.LittleEndian.AppendUint64(want, 7)      // MessageId
	want = binary.LittleEndian.AppendUint32(want, 0xfeff) // ProcessId
	want = binary.LittleEndian.AppendUint32(want, 5)      // TreeId
	want = binary.LittleEndian.AppendUint64(want, 0x1122) // SessionId
	want = append(want, make([]byte, 16)...)              // Signature: unsigned
	want = append(want, 48, 0, 1, 0, 0, 0, 0, 0)          // StructureSize, LockCount, LockSequence
	want = append(want, fid[:]...)
	want = binary.LittleEndian.AppendUint64(want, 100)
	want = binary.LittleEndian.AppendUint64(want, 1)
	want = binary.LittleEndian.AppendUint32(want, lockExclusive|lockFailImmediately)
	want = append(want, 0, 0, 0, 0)
	if !bytes.Equal(req, want) {
		t.Fatalf("LOCK request\n got %x\nwant %x", req, want)
	}
	if c.msgID != 8 {
		t.Fatalf("next message id %d, want 8", c.msgID)
	}
}

func TestSMBLockRefusedAndSigned(t *testing.T) {
	cli, srv := net.Pipe()
	defer cli.Close()
	got := make(chan []byte, 4)
	go fakeSMB(t, srv, 0xc0000055, false, got) // STATUS_LOCK_NOT_GRANTED
	c := &smbLockClient{nc: cli, r: bufio.NewReader(cli), dialect: dialect210, signKey: bytes.Repeat([]byte{9}, 16)}
	err := c.lock([16]byte{}, 0, 1, lockExclusive|lockFailImmediately)
	var st smbStatusError
	if !errors.As(err, &st) || st != 0xc0000055 {
		t.Fatalf("got %v, want NTSTATUS 0xc0000055", err)
	}
	req := <-got
	if binary.LittleEndian.Uint32(req[16:])&smb2FlagsSigned == 0 {
		t.Fatal("request not marked signed")
	}
	sig := append([]byte(nil), req[48:64]...)
	copy(req[48:64], make([]byte, 16))
	if want := hmacSHA256(c.signKey, req)[:16]; !bytes.Equal(sig, want) {
		t.Fatalf("signature %x, want %x", sig, want)
	}
}

func hmacSHA256(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}
