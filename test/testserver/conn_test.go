package testserver

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"
)

func TestReadRecordJoinsFragments(t *testing.T) {
	var wire []byte
	for i, frag := range []string{"abc", "", "defgh"} {
		mark := uint32(len(frag))
		if i == 2 {
			mark |= 1 << 31
		}
		wire = binary.BigEndian.AppendUint32(wire, mark)
		wire = append(wire, frag...)
	}
	got, err := readRecord(bytes.NewReader(wire))
	if err != nil || string(got) != "abcdefgh" {
		t.Fatalf("readRecord: %q, %v; want \"abcdefgh\"", got, err)
	}
}

// fakeServer answers each call on one connection: procedure 0 with
// SUCCESS and the procedure number as result, procedure 1 with
// PROC_UNAVAIL, procedure 2 by closing the connection.
func fakeServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		r := bufio.NewReader(nc)
		for {
			rec, err := readRecord(r)
			if err != nil {
				return
			}
			d := dec{b: rec}
			xid := d.u32()
			d.skip(4 * 4) // mtype, rpcvers, prog, vers
			proc := d.u32()
			var w enc
			w.u32(0) // record mark
			w.u32(xid)
			w.u32(rpcReply)
			w.u32(msgAccepted)
			w.u32(0) // verifier AUTH_NONE
			w.u32(0)
			switch proc {
			case 0:
				w.u32(0)
				w.u32(0xfeedf00d)
			case 1:
				w.u32(3) // PROC_UNAVAIL
			default:
				return
			}
			binary.BigEndian.PutUint32(w, uint32(len(w)-4)|1<<31)
			if _, err := nc.Write(w); err != nil {
				return
			}
		}
	}()
	return l.Addr().String()
}

func TestConnCalls(t *testing.T) {
	c, err := Dial(fakeServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Timeout = 10 * time.Second

	body, err := c.Call(1, 1, 0, []byte{0, 0, 0, 1}, []byte{0, 0, 0, 2})
	if err != nil || !bytes.Equal(body, []byte{0xfe, 0xed, 0xf0, 0x0d}) {
		t.Fatalf("SUCCESS call: %x, %v", body, err)
	}
	var rerr *RPCError
	if _, err := c.Call(1, 1, 1); !errors.As(err, &rerr) || rerr.Rejected || rerr.Stat != 3 {
		t.Fatalf("PROC_UNAVAIL call: %v", err)
	}
	// The server hangs up: this call and every later one fail at once.
	if _, err := c.Call(1, 1, 2); err == nil {
		t.Fatal("call answered by a closed connection: no error")
	}
	if _, err := c.Call(1, 1, 0); err == nil {
		t.Fatal("call on a broken connection: no error")
	}
}
