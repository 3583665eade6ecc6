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

// fakeRPC serves one connection: answer gets each call's procedure and
// arguments and returns the accept_stat and results of the reply, or
// hangup to close the connection instead.
func fakeRPC(t *testing.T, answer func(proc uint32, args []byte) (stat uint32, results []byte, hangup bool)) string {
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
			d.skip(4)            // credential flavor
			d.skip(int(d.u32())) // credential body (AUTH_SYS: a multiple of 4)
			d.skip(8)            // verifier AUTH_NONE
			stat, results, hangup := answer(proc, d.b)
			if hangup {
				return
			}
			var w enc
			w.u32(0) // record mark
			w.u32(xid)
			w.u32(rpcReply)
			w.u32(msgAccepted)
			w.u32(0) // verifier AUTH_NONE
			w.u32(0)
			w.u32(stat)
			w = append(w, results...)
			binary.BigEndian.PutUint32(w, uint32(len(w)-4)|1<<31)
			if _, err := nc.Write(w); err != nil {
				return
			}
		}
	}()
	return l.Addr().String()
}

// fakeServer answers procedure 0 with SUCCESS and 0xfeedf00d, procedure
// 1 with PROC_UNAVAIL and procedure 2 by closing the connection.
func fakeServer(t *testing.T) string {
	return fakeRPC(t, func(proc uint32, _ []byte) (uint32, []byte, bool) {
		switch proc {
		case 0:
			return 0, []byte{0xfe, 0xed, 0xf0, 0x0d}, false
		case 1:
			return 3, nil, false // PROC_UNAVAIL
		}
		return 0, nil, true
	})
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
