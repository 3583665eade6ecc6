package smb

import (
	"encoding/binary"
	"testing"
)

// Only requests that cannot wait on the client are served by the reader.
func TestServedInline(t *testing.T) {
	msg := func(cmd Command, body []byte) []byte {
		m := make([]byte, HeaderSize, HeaderSize+len(body))
		binary.LittleEndian.PutUint16(m[12:], uint16(cmd))
		return append(m, body...)
	}
	lockBody := func(flags ...uint32) []byte {
		b := make([]byte, 24+24*len(flags))
		binary.LittleEndian.PutUint16(b, 48)
		binary.LittleEndian.PutUint16(b[2:], uint16(len(flags)))
		for i, f := range flags {
			binary.LittleEndian.PutUint32(b[24+24*i+16:], f)
		}
		return b
	}
	for _, c := range []struct {
		name string
		m    []byte
		want bool
	}{
		{"echo", msg(CmdEcho, make([]byte, 4)), true},
		{"query info", msg(CmdQueryInfo, make([]byte, 40)), true},
		{"lock failing immediately", msg(CmdLock, lockBody(lockExclusive|lockFailImmediately)), true},
		{"unlocks", msg(CmdLock, lockBody(lockUnlock, lockUnlock)), true},
		{"waiting lock", msg(CmdLock, lockBody(lockExclusive)), false},
		{"one waiting lock of two", msg(CmdLock, lockBody(lockShared|lockFailImmediately, lockShared)), false},
		{"lock with fewer elements than it counts", msg(CmdLock, lockBody(lockUnlock)[:30]), false},
		{"lock without elements", msg(CmdLock, lockBody()), false},
		{"truncated lock", msg(CmdLock, nil), false},
		{"create", msg(CmdCreate, make([]byte, 56)), false},
		{"read", msg(CmdRead, make([]byte, 48)), false},
		{"close", msg(CmdClose, make([]byte, 24)), false},
	} {
		if got := servedInline(c.m); got != c.want {
			t.Errorf("%s: servedInline = %v, want %v", c.name, got, c.want)
		}
	}
}
