package smbclient

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// fakePeer is the server end of a pipe: it hands each request it reads to
// the test and answers with the response the test gives back.
type fakePeer struct {
	reqs  chan []byte
	resps chan []byte
}

// fakeConn is a Conn of dialect d, already logged on (session 0x11, no
// key), on a pipe to a fakePeer.
func fakeConn(t *testing.T, d Dialect) (*Conn, *Tree, *fakePeer) {
	cli, srv := net.Pipe()
	t.Cleanup(func() { cli.Close(); srv.Close() })
	p := &fakePeer{reqs: make(chan []byte, 1), resps: make(chan []byte, 1)}
	go func() {
		for {
			var h [4]byte
			if _, err := io.ReadFull(srv, h[:]); err != nil {
				return
			}
			m := make([]byte, binary.BigEndian.Uint32(h[:]))
			if _, err := io.ReadFull(srv, m); err != nil {
				return
			}
			p.reqs <- m
			resp := <-p.resps
			srv.Write(binary.BigEndian.AppendUint32(nil, uint32(len(resp))))
			srv.Write(resp)
		}
	}()
	c := &Conn{
		nc: cli, Timeout: 5 * time.Second, credits: 100, next: 7, wake: make(chan struct{}),
		pending: map[uint64]chan *message{}, breaks: newBreakQueue(),
		dialect: d, sessionID: 0x11,
	}
	go c.readLoop()
	return c, &Tree{c: c, id: 5}, p
}

// answer takes the next request and answers it with status and body.
func (p *fakePeer) answer(t *testing.T, status Status, body []byte) []byte {
	t.Helper()
	var req []byte
	select {
	case req = <-p.reqs:
	case <-time.After(5 * time.Second):
		t.Fatal("no request")
	}
	resp := make([]byte, headerSize, headerSize+len(body))
	copy(resp, req[:headerSize])
	binary.LittleEndian.PutUint32(resp[8:], uint32(status))
	binary.LittleEndian.PutUint16(resp[14:], 1)
	binary.LittleEndian.PutUint32(resp[16:], flagResponse)
	p.resps <- append(resp, body...)
	return req
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// header is the request header this package sends, for comparison.
func header(cmd command, charge uint16, flags uint32, msgID uint64, tree uint32) []byte {
	h := make([]byte, headerSize)
	copy(h, "\xfeSMB")
	h[4] = 64
	binary.LittleEndian.PutUint16(h[6:], charge)
	binary.LittleEndian.PutUint16(h[12:], uint16(cmd))
	binary.LittleEndian.PutUint16(h[14:], creditsWanted)
	binary.LittleEndian.PutUint32(h[16:], flags)
	binary.LittleEndian.PutUint64(h[24:], msgID)
	binary.LittleEndian.PutUint32(h[32:], 0xfeff)
	binary.LittleEndian.PutUint32(h[36:], tree)
	binary.LittleEndian.PutUint64(h[40:], 0x11)
	return h
}

// TestCreateWire: a CREATE with a version 2 lease (parent key, epoch), a
// DH2Q and the replay flag, byte by byte as MS-SMB2 2.2.13 lays them out,
// and the decoding of a response carrying a lease and a DH2Q.
func TestCreateWire(t *testing.T) {
	_, tree, p := fakeConn(t, Dialect311)
	key := [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	parent := [16]byte{0xa0, 15: 0xee}
	guid := [16]byte{0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf}
	done := make(chan *CreateResponse)
	go func() {
		r, err := tree.Create("ab", CreateRequest{
			DesiredAccess: AccessReadWrite, FileAttributes: AttributeNormal, ShareAccess: ShareRead,
			Disposition: DispositionOpenIf, Options: OptionNonDirectory, OplockLevel: OplockLease,
			Lease:     &LeaseRequest{Key: key, State: LeaseRWH, V2: true, ParentKey: &parent, Epoch: 3},
			DurableV2: &DurableV2Request{CreateGUID: guid, Timeout: 30000, Flags: DurablePersistent},
			Replay:    true,
		})
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()

	var respBody []byte
	respBody = append(respBody, unhex(t, "5900"+"ff"+"00"+"02000000")...) // size, oplock, flags, action created
	respBody = append(respBody, make([]byte, 32)...)                      // times
	respBody = append(respBody, unhex(t, "0000000000000000"+"0500000000000000"+"80000000"+"00000000")...)
	respBody = append(respBody, unhex(t, "0100000000000000"+"0200000000000000")...) // FileId
	respBody = append(respBody, unhex(t, "98000000"+"70000000")...)                 // contexts at 64+88, 112 bytes
	// RqLs v2: key, state RH, flags parent set, duration, parent, epoch 4.
	lease := append(key[:], unhex(t, "03000000"+"04000000"+"0000000000000000")...)
	lease = append(lease, parent[:]...)
	lease = append(lease, 4, 0, 0, 0)
	respBody = append(respBody, unhex(t, "50000000"+"1000"+"0400"+"0000"+"1800"+"34000000")...)
	respBody = append(respBody, "RqLs\x00\x00\x00\x00"...)
	respBody = append(respBody, lease...)
	respBody = append(respBody, 0, 0, 0, 0) // pad to 8
	respBody = append(respBody, unhex(t, "00000000"+"1000"+"0400"+"0000"+"1800"+"08000000")...)
	respBody = append(respBody, "DH2Q\x00\x00\x00\x00"...)
	respBody = append(respBody, unhex(t, "30750000"+"00000000")...)
	req := p.answer(t, StatusSuccess, respBody)

	var want []byte
	want = append(want, header(cmdCreate, 1, flagReplay, 7, 5)...)
	want = append(want, unhex(t, "3900"+"00"+"ff"+"02000000"+"0000000000000000"+"0000000000000000")...)
	want = append(want, unhex(t, "9f011200"+"80000000"+"01000000"+"03000000"+"40000000")...)
	want = append(want, unhex(t, "7800"+"0400"+"80000000"+"88000000")...) // name at 120, 4 bytes; contexts at 128
	want = append(want, "a\x00b\x00"...)
	want = append(want, 0, 0, 0, 0) // pad to 8
	// RqLs v2 (52 bytes of data): next context at 0x50.
	want = append(want, unhex(t, "50000000"+"1000"+"0400"+"0000"+"1800"+"34000000")...)
	want = append(want, "RqLs\x00\x00\x00\x00"...)
	want = append(want, key[:]...)
	want = append(want, unhex(t, "07000000"+"04000000"+"0000000000000000")...)
	want = append(want, parent[:]...)
	want = append(want, 3, 0, 0, 0)
	want = append(want, 0, 0, 0, 0) // pad to 8
	// DH2Q: timeout, flags, reserved, CreateGuid.
	want = append(want, unhex(t, "00000000"+"1000"+"0400"+"0000"+"1800"+"20000000")...)
	want = append(want, "DH2Q\x00\x00\x00\x00"...)
	want = append(want, unhex(t, "30750000"+"02000000"+"0000000000000000")...)
	want = append(want, guid[:]...)
	if !bytes.Equal(req, want) {
		t.Fatalf("CREATE request\n got %x\nwant %x", req, want)
	}

	r := <-done
	wantLease := LeaseResponse{V2: true, Key: key, State: LeaseRead | LeaseHandle, Flags: LeaseParentKeySet, ParentKey: parent, Epoch: 4}
	if r.Status != StatusSuccess || r.FileID != (FileID{1, 2}) || r.OplockLevel != OplockLease || r.CreateAction != ActionCreated ||
		r.EndOfFile != 5 || r.FileAttributes != AttributeNormal || r.Lease == nil || *r.Lease != wantLease ||
		r.DurableV2 == nil || *r.DurableV2 != (DurableV2Response{Timeout: 30000}) || len(r.Contexts) != 2 {
		t.Fatalf("decoded %+v (lease %+v, durable %+v)", r, r.Lease, r.DurableV2)
	}
}

// TestReconnectWire: DHnC and DH2C contexts, and a lease v1 request.
func TestReconnectWire(t *testing.T) {
	_, tree, p := fakeConn(t, Dialect300)
	fid := FileID{0x0102030405060708, 0x1112131415161718}
	guid := [16]byte{0xc0, 15: 0xcf}
	key := [16]byte{0x4b, 15: 0x4c}
	go tree.Create("", CreateRequest{
		OplockLevel: OplockLease, Lease: &LeaseRequest{Key: key, State: LeaseRead},
		Reconnect: &fid, ReconnectV2: &DurableV2Reconnect{FileID: fid, CreateGUID: guid, Flags: DurablePersistent},
	})
	req := p.answer(t, StatusObjectNameNotFound, unhex(t, "0900000000000000"))
	body := req[headerSize:]
	if body[3] != 0xff || binary.LittleEndian.Uint16(body[46:]) != 0 || binary.LittleEndian.Uint32(body[48:]) != 64+56+8 {
		t.Fatalf("CREATE body %x", body[:56])
	}
	var want []byte
	want = append(want, unhex(t, "38000000"+"1000"+"0400"+"0000"+"1800"+"20000000")...)
	want = append(want, "RqLs\x00\x00\x00\x00"...)
	want = append(want, key[:]...)
	want = append(want, unhex(t, "01000000"+"00000000"+"0000000000000000")...)
	want = append(want, unhex(t, "28000000"+"1000"+"0400"+"0000"+"1800"+"10000000")...)
	want = append(want, "DHnC\x00\x00\x00\x00"...)
	want = append(want, unhex(t, "0807060504030201"+"1817161514131211")...)
	want = append(want, unhex(t, "00000000"+"1000"+"0400"+"0000"+"1800"+"24000000")...)
	want = append(want, "DH2C\x00\x00\x00\x00"...)
	want = append(want, unhex(t, "0807060504030201"+"1817161514131211")...)
	want = append(want, guid[:]...)
	want = append(want, 2, 0, 0, 0)
	if got := body[64:]; !bytes.Equal(got, want) {
		t.Fatalf("contexts\n got %x\nwant %x", got, want)
	}
}

// TestLockAndBreakWire: LOCK with a lock sequence, the lease and oplock
// break acknowledgments, and the decoding of break notifications.
func TestLockAndBreakWire(t *testing.T) {
	c, tree, p := fakeConn(t, Dialect311)
	fid := FileID{1, 2}
	go tree.LockSeq(fid, LockSequence{Number: 5, Index: 3},
		LockElement{Offset: 100, Length: 10, Flags: LockExclusive | LockFailImmediately},
		LockElement{Offset: 200, Length: 1, Flags: LockShared})
	req := p.answer(t, StatusLockNotGranted, unhex(t, "0900000000000000"))
	want := header(cmdLock, 1, 0, 7, 5)
	want = append(want, unhex(t, "3000"+"0200"+"35000000"+"0100000000000000"+"0200000000000000")...)
	want = append(want, unhex(t, "6400000000000000"+"0a00000000000000"+"12000000"+"00000000")...)
	want = append(want, unhex(t, "c800000000000000"+"0100000000000000"+"01000000"+"00000000")...)
	if !bytes.Equal(req, want) {
		t.Fatalf("LOCK request\n got %x\nwant %x", req, want)
	}

	key := [16]byte{0x4b, 15: 0x4c}
	go tree.AckLeaseBreak(key, LeaseRead|LeaseHandle)
	req = p.answer(t, StatusSuccess, nil)
	want = header(cmdOplockBreak, 1, 0, 8, 5)
	want = append(want, unhex(t, "2400"+"0000"+"00000000")...)
	want = append(want, key[:]...)
	want = append(want, unhex(t, "03000000"+"0000000000000000")...)
	if !bytes.Equal(req, want) {
		t.Fatalf("lease break acknowledgment\n got %x\nwant %x", req, want)
	}
	go tree.AckOplockBreak(fid, OplockII)
	req = p.answer(t, StatusSuccess, nil)
	want = header(cmdOplockBreak, 1, 0, 9, 5)
	want = append(want, unhex(t, "1800"+"01"+"00"+"00000000"+"0100000000000000"+"0200000000000000")...)
	if !bytes.Equal(req, want) {
		t.Fatalf("oplock break acknowledgment\n got %x\nwant %x", req, want)
	}

	// Two unsolicited notifications: a lease break and an oplock break.
	note := func(body []byte) *message {
		m := make([]byte, headerSize)
		copy(m, "\xfeSMB")
		binary.LittleEndian.PutUint16(m[12:], uint16(cmdOplockBreak))
		binary.LittleEndian.PutUint32(m[16:], flagResponse)
		binary.LittleEndian.PutUint64(m[24:], unsolicited)
		msg, err := parseMessage(append(m, body...))
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	lb := unhex(t, "2c00"+"0700"+"01000000")
	lb = append(lb, key[:]...)
	lb = append(lb, unhex(t, "07000000"+"03000000"+"00000000"+"00000000"+"00000000")...)
	c.dispatch(note(lb))
	c.dispatch(note(unhex(t, "1800"+"01"+"00"+"00000000"+"0100000000000000"+"0200000000000000")))
	if b := <-c.Breaks(); b != (Break{Lease: true, LeaseKey: key, Epoch: 7, AckRequired: true, CurrentState: LeaseRWH, NewState: LeaseRead | LeaseHandle}) {
		t.Fatalf("lease break decoded as %+v", b)
	}
	if b := <-c.Breaks(); b != (Break{FileID: fid, OplockLevel: OplockII}) {
		t.Fatalf("oplock break decoded as %+v", b)
	}
}

// TestCMAC: the AES-CMAC examples of RFC 4493 section 4.
func TestCMAC(t *testing.T) {
	m := newCMAC(unhex(t, "2b7e151628aed2a6abf7158809cf4f3c"))
	msg := unhex(t, "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
	for _, c := range []struct {
		n    int
		want string
	}{
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{40, "dfa66747de9ae63030ca32611497c827"},
		{64, "51f0bebf7e3b9d92fc49741779363cfe"},
	} {
		if got := m.sum(msg[:c.n]); !bytes.Equal(got[:], unhex(t, c.want)) {
			t.Errorf("CMAC of %d bytes: %x, want %s", c.n, got, c.want)
		}
	}
}

// TestSignedResponsesChecked: when signing, the server signs its
// responses with the key the client derived (the client checks every
// one), and a changed byte breaks the signature, for each dialect family.
func TestSignedResponsesChecked(t *testing.T) {
	addr := startServer(t)
	for _, d := range []Dialect{Dialect210, Dialect300, Dialect311} {
		c, tree := connect(t, addr, Options{Dialects: []Dialect{d}, Sign: true}, alice, alicePass)
		r, err := c.call(request{cmd: cmdTreeDisconnect, body: []byte{4, 0, 0, 0}, treeID: tree.id})
		if err != nil || r.status != StatusSuccess || r.flags&flagSigned == 0 {
			t.Fatalf("%v: signed TREE_DISCONNECT: %v, status %v, flags %#x", d, err, r.status, r.flags)
		}
		if !verifySignature(c.signer, r.raw) {
			t.Fatalf("%v: the response's signature does not verify", d)
		}
		r.raw[len(r.raw)-1] ^= 1
		if verifySignature(c.signer, r.raw) {
			t.Fatalf("%v: a changed response still verifies", d)
		}
	}
}

// TestNegotiateWire: a NEGOTIATE offering 2.0.2 and 3.1.1, with its
// preauth integrity context (SHA-512 and a 32-byte salt) after the
// dialects, 8-byte aligned; the refusal comes back as a *StatusError.
func TestNegotiateWire(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan []byte, 1)
	go func() {
		nc, err := l.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		var h [4]byte
		io.ReadFull(nc, h[:])
		m := make([]byte, binary.BigEndian.Uint32(h[:]))
		io.ReadFull(nc, m)
		got <- m
		resp := make([]byte, headerSize+8)
		copy(resp, m[:headerSize])
		binary.LittleEndian.PutUint32(resp[8:], uint32(StatusNotSupported))
		binary.LittleEndian.PutUint32(resp[16:], flagResponse)
		binary.LittleEndian.PutUint16(resp[headerSize:], 9)
		nc.Write(binary.BigEndian.AppendUint32(nil, uint32(len(resp))))
		nc.Write(resp)
	}()
	clientGUID := [16]byte{'g', 15: 'z'}
	_, err = Dial(l.Addr().String(), Options{ClientGUID: clientGUID, Dialects: []Dialect{Dialect202, Dialect311}, Sign: true})
	var se *StatusError
	if !errors.As(err, &se) || se.Op != "NEGOTIATE" || se.Status != StatusNotSupported {
		t.Fatalf("Dial: %v, want NEGOTIATE: STATUS_NOT_SUPPORTED", err)
	}
	m := <-got
	if binary.LittleEndian.Uint16(m[12:]) != uint16(cmdNegotiate) || binary.LittleEndian.Uint64(m[24:]) != 0 {
		t.Fatalf("header %x", m[:headerSize])
	}
	body := m[headerSize:]
	var want []byte
	want = append(want, unhex(t, "2400"+"0200"+"0300"+"0000"+"06000000")...) // size, 2 dialects, signing enabled+required, leasing+large MTU
	want = append(want, clientGUID[:]...)
	want = append(want, unhex(t, "68000000"+"0100"+"0000")...) // contexts at 64+40, one
	want = append(want, unhex(t, "0202"+"1103")...)
	want = append(want, unhex(t, "0100"+"2600"+"00000000"+"0100"+"2000"+"0100")...) // preauth, 38 bytes of data: 1 algorithm, 32 bytes of salt, SHA-512
	if len(body) != len(want)+32 || !bytes.Equal(body[:len(want)], want) {
		t.Fatalf("NEGOTIATE body\n got %x\nwant %x and a 32-byte salt", body, want)
	}
}

// TestTreeConnectSigned311: a 3.1.1 client signs TREE_CONNECT even when
// it does not sign other requests, as MS-SMB2 3.2.4.1.1 requires.
func TestTreeConnectSigned311(t *testing.T) {
	c, _, p := fakeConn(t, Dialect311)
	c.signer = hmacSHA256(bytes.Repeat([]byte{7}, 16))
	go c.TreeConnect(`\\h\s`)
	req := p.answer(t, StatusBadNetworkName, unhex(t, "0900000000000000"))
	if binary.LittleEndian.Uint32(req[16:])&flagSigned == 0 || !verifySignature(c.signer, req) {
		t.Fatalf("3.1.1 TREE_CONNECT not signed: %x", req[:headerSize])
	}
	go c.Logoff()
	req = p.answer(t, StatusSuccess, unhex(t, "04000000"))
	if binary.LittleEndian.Uint32(req[16:])&flagSigned != 0 {
		t.Fatal("LOGOFF signed without signing on")
	}
}
