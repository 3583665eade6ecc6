package smb

import (
	"bytes"
	"encoding/binary"
	"unicode/utf16"
)

// A minimal DCE/RPC server (C706 connection-oriented PDUs, NDR transfer
// syntax) for the srvsvc interface, serving NetrShareEnum so that share
// browsers (smbclient -L, Explorer's network view) list the shares. Binds
// without authentication are accepted: the SMB session underneath already
// authenticated the caller.

const (
	rpcHeaderSize = 16
	rpcMaxFrag    = 4280 // the customary fragment size of both sides

	ptypeRequest      = 0
	ptypeResponse     = 2
	ptypeFault        = 3
	ptypeBind         = 11
	ptypeBindAck      = 12
	ptypeBindNak      = 13
	ptypeAlterContext = 14
	ptypeAlterResp    = 15

	pfcFirstFrag  = 0x01
	pfcLastFrag   = 0x02
	pfcObjectUUID = 0x80

	ncaOpRangeError  = 0x1c010002
	ncaProtoError    = 0x1c01000b
	ncaUnknownIf     = 0x1c010003
	werrInvalidLevel = 0x0000007c

	opNetrShareEnum = 15
)

// Interface and transfer syntax identifiers, as on the wire (UUID in
// little-endian fields, then the version as major and minor u16).
var (
	syntaxSrvsvc = [20]byte{0xc8, 0x4f, 0x32, 0x4b, 0x70, 0x16, 0xd3, 0x01, 0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88, 3, 0, 0, 0}
	syntaxNDR    = [20]byte{0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 2, 0, 0, 0}
	// Bind-time feature negotiation: the UUID prefix, the rest carries flags.
	btfnPrefix = []byte{0x2c, 0x1c, 0xb7, 0x6c, 0x12, 0x98, 0x40, 0x45}
)

// rpcConn is the RPC state of one pipe open.
type rpcConn struct {
	srv     *Server
	pipe    string
	bound   bool
	ctxID   uint16
	maxXmit int
	stub    []byte // a fragmented request being reassembled
}

// handle answers one PDU with zero or more PDUs.
func (rc *rpcConn) handle(pdu []byte) []byte {
	if pdu[0] != 5 || pdu[1] != 0 || pdu[4]&0xf0 != 0x10 {
		return nil // only little-endian NDR version 5.0 is spoken
	}
	callID := binary.LittleEndian.Uint32(pdu[12:])
	switch pdu[2] {
	case ptypeBind, ptypeAlterContext:
		return rc.bind(pdu, callID)
	case ptypeRequest:
		return rc.request(pdu, callID)
	}
	return rpcFault(callID, 0, ncaProtoError)
}

// rpcHeader appends a PDU header; the length is patched by finishPDU.
func rpcHeader(b []byte, ptype, flags byte, callID uint32) []byte {
	b = append(b, 5, 0, ptype, flags, 0x10, 0, 0, 0, 0, 0, 0, 0)
	return binary.LittleEndian.AppendUint32(b, callID)
}

func finishPDU(b []byte, start int) []byte {
	binary.LittleEndian.PutUint16(b[start+8:], uint16(len(b)-start))
	return b
}

func (rc *rpcConn) bind(pdu []byte, callID uint32) []byte {
	if len(pdu) < 28 {
		return rpcFault(callID, 0, ncaProtoError)
	}
	if binary.LittleEndian.Uint16(pdu[10:]) != 0 {
		// Authenticated binds are not offered: reject the bind (reason 0,
		// not specified).
		out := rpcHeader(nil, ptypeBindNak, pfcFirstFrag|pfcLastFrag, callID)
		out = append(out, 0, 0, 0)
		return finishPDU(out, 0)
	}
	xmit := int(binary.LittleEndian.Uint16(pdu[16:]))
	recv := int(binary.LittleEndian.Uint16(pdu[18:]))
	assoc := binary.LittleEndian.Uint32(pdu[20:])
	if assoc == 0 {
		assoc = 0x5354 // any nonzero group id
	}
	rc.maxXmit = max(min(recv, rpcMaxFrag), 1024)
	n := int(pdu[24])
	p := pdu[28:]

	ptype := byte(ptypeBindAck)
	if pdu[2] == ptypeAlterContext {
		ptype = ptypeAlterResp
	}
	out := rpcHeader(nil, ptype, pfcFirstFrag|pfcLastFrag, callID)
	out = binary.LittleEndian.AppendUint16(out, uint16(rc.maxXmit))
	out = binary.LittleEndian.AppendUint16(out, uint16(max(min(xmit, rpcMaxFrag), 1024)))
	out = binary.LittleEndian.AppendUint32(out, assoc)
	if ptype == ptypeBindAck {
		addr := `\PIPE\` + rc.pipe + "\x00"
		out = binary.LittleEndian.AppendUint16(out, uint16(len(addr)))
		out = append(out, addr...)
	} else {
		out = append(out, 0, 0)
	}
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	out = append(out, byte(n), 0, 0, 0)
	for range n {
		if len(p) < 24 {
			return rpcFault(callID, 0, ncaProtoError)
		}
		id := binary.LittleEndian.Uint16(p)
		nts := int(p[2])
		abstract := [20]byte(p[4:24])
		p = p[24:]
		if len(p) < 20*nts {
			return rpcFault(callID, 0, ncaProtoError)
		}
		ndr := false
		for i := range nts {
			ndr = ndr || [20]byte(p[20*i:20*i+20]) == syntaxNDR
		}
		p = p[20*nts:]
		switch {
		case bytes.HasPrefix(abstract[:], btfnPrefix):
			// negotiate_ack with no features.
			out = append(out, 3, 0, 0, 0)
			out = append(out, make([]byte, 20)...)
		case abstract == syntaxSrvsvc && rc.pipe == "srvsvc" && ndr:
			out = append(out, 0, 0, 0, 0)
			out = append(out, syntaxNDR[:]...)
			rc.bound, rc.ctxID = true, id
		case abstract == syntaxSrvsvc && rc.pipe == "srvsvc":
			out = append(out, 2, 0, 2, 0) // provider rejection: transfer syntaxes
			out = append(out, make([]byte, 20)...)
		default:
			out = append(out, 2, 0, 1, 0) // provider rejection: abstract syntax
			out = append(out, make([]byte, 20)...)
		}
	}
	return finishPDU(out, 0)
}

func rpcFault(callID uint32, ctxID uint16, status uint32) []byte {
	out := rpcHeader(nil, ptypeFault, pfcFirstFrag|pfcLastFrag, callID)
	out = binary.LittleEndian.AppendUint32(out, 0)
	out = binary.LittleEndian.AppendUint16(out, ctxID)
	out = append(out, 0, 0)
	out = binary.LittleEndian.AppendUint32(out, status)
	out = binary.LittleEndian.AppendUint32(out, 0)
	return finishPDU(out, 0)
}

func (rc *rpcConn) request(pdu []byte, callID uint32) []byte {
	if len(pdu) < 24 {
		return rpcFault(callID, 0, ncaProtoError)
	}
	flags := pdu[3]
	ctxID := binary.LittleEndian.Uint16(pdu[20:])
	opnum := binary.LittleEndian.Uint16(pdu[22:])
	stub := pdu[24:]
	if flags&pfcObjectUUID != 0 {
		if len(stub) < 16 {
			return rpcFault(callID, ctxID, ncaProtoError)
		}
		stub = stub[16:]
	}
	if al := int(binary.LittleEndian.Uint16(pdu[10:])); al > 0 {
		return rpcFault(callID, ctxID, ncaProtoError)
	}
	if !rc.bound || ctxID != rc.ctxID {
		return rpcFault(callID, ctxID, ncaUnknownIf)
	}
	if flags&pfcFirstFrag != 0 {
		rc.stub = rc.stub[:0]
	}
	if len(rc.stub)+len(stub) > 1<<20 {
		rc.stub = nil
		return rpcFault(callID, ctxID, ncaProtoError)
	}
	rc.stub = append(rc.stub, stub...)
	if flags&pfcLastFrag == 0 {
		return nil
	}
	var reply []byte
	switch opnum {
	case opNetrShareEnum:
		reply = rc.srv.netrShareEnum(rc.stub)
	default:
		return rpcFault(callID, ctxID, ncaOpRangeError)
	}
	if reply == nil {
		return rpcFault(callID, ctxID, ncaProtoError)
	}
	return rc.response(callID, ctxID, reply)
}

// response splits a reply stub into response PDUs of at most maxXmit
// bytes each.
func (rc *rpcConn) response(callID uint32, ctxID uint16, stub []byte) []byte {
	const hdr = rpcHeaderSize + 8
	per := (rc.maxXmit - hdr) &^ 7
	var out []byte
	first := true
	for {
		n := min(per, len(stub))
		var flags byte
		if first {
			flags |= pfcFirstFrag
		}
		if n == len(stub) {
			flags |= pfcLastFrag
		}
		start := len(out)
		out = rpcHeader(out, ptypeResponse, flags, callID)
		out = binary.LittleEndian.AppendUint32(out, uint32(len(stub))) // alloc hint
		out = binary.LittleEndian.AppendUint16(out, ctxID)
		out = append(out, 0, 0)
		out = append(out, stub[:n]...)
		out = finishPDU(out, start)
		stub = stub[n:]
		first = false
		if len(stub) == 0 {
			return out
		}
	}
}

// ndr is a little-endian NDR encoder of the few types srvsvc needs.
type ndr struct {
	b   []byte
	ref uint32
}

func (e *ndr) align(n int) {
	for len(e.b)%n != 0 {
		e.b = append(e.b, 0)
	}
}

func (e *ndr) u32(v uint32) {
	e.align(4)
	e.b = binary.LittleEndian.AppendUint32(e.b, v)
}

// ptr writes a unique pointer's referent id (0 for null).
func (e *ndr) ptr(present bool) {
	if !present {
		e.u32(0)
		return
	}
	e.ref += 4
	e.u32(0x00020000 + e.ref)
}

// str writes a conformant varying NUL-terminated UTF-16 string.
func (e *ndr) str(s string) {
	u := append(utf16.Encode([]rune(s)), 0)
	e.u32(uint32(len(u)))
	e.u32(0)
	e.u32(uint32(len(u)))
	for _, c := range u {
		e.b = binary.LittleEndian.AppendUint16(e.b, c)
	}
}

// ndrReader decodes the request side.
type ndrReader struct {
	b   []byte
	off int
	bad bool
}

func (d *ndrReader) u32() uint32 {
	d.off = (d.off + 3) &^ 3
	if d.off+4 > len(d.b) {
		d.bad = true
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

// skipStr skips a conformant varying UTF-16 string.
func (d *ndrReader) skipStr() {
	d.u32()
	d.u32()
	n := d.u32()
	if d.bad || uint64(d.off)+2*uint64(n) > uint64(len(d.b)) {
		d.bad = true
		return
	}
	d.off += 2 * int(n)
}

// Share types of SHARE_INFO.
const (
	stypeDiskTree = 0x00000000
	stypeIPC      = 0x00000003
	stypeSpecial  = 0x80000000
)

type shareEntry struct {
	name, remark string
	typ          uint32
}

// netrShareEnum serves NetrShareEnum (MS-SRVS 3.1.4.8) at info levels 0,
// 1 and 2, listing every share and IPC$ in one call.
func (srv *Server) netrShareEnum(stub []byte) []byte {
	d := &ndrReader{b: stub}
	if d.u32() != 0 { // ServerName: unique pointer to a string
		d.skipStr()
	}
	level := d.u32()
	d.u32()           // union discriminant
	if d.u32() != 0 { // container pointer
		d.u32() // EntriesRead
		d.u32() // Buffer pointer (null in requests)
	}
	d.u32() // PreferedMaximumLength
	hasResume := d.u32() != 0
	if hasResume {
		d.u32()
	}
	if d.bad {
		return nil
	}

	var shares []shareEntry
	for _, cfg := range srv.fs.Shares() {
		shares = append(shares, shareEntry{name: cfg.Name, remark: srv.shareOptions(cfg.Name).Comment, typ: stypeDiskTree})
	}
	shares = append(shares, shareEntry{name: "IPC$", remark: "IPC Service (" + srv.opt.Name + ")", typ: stypeIPC | stypeSpecial})

	e := &ndr{}
	if level > 2 {
		e.u32(level)
		e.u32(level)
		e.ptr(false)
		e.u32(0)
		e.ptr(hasResume)
		if hasResume {
			e.u32(0)
		}
		e.u32(werrInvalidLevel)
		return e.b
	}
	e.u32(level)
	e.u32(level)
	e.ptr(true) // container
	e.u32(uint32(len(shares)))
	e.ptr(true) // array
	e.u32(uint32(len(shares)))
	for range shares {
		e.ptr(true) // netname
		if level >= 1 {
			e.u32(0)    // type, patched below
			e.ptr(true) // remark
		}
		if level == 2 {
			e.u32(0)          // permissions
			e.u32(0xffffffff) // max uses
			e.u32(0)          // current uses
			e.ptr(true)       // path
			e.ptr(false)      // password
		}
	}
	// Patch the types in: each entry has a fixed size after the array's
	// conformance.
	per := map[uint32]int{0: 4, 1: 12, 2: 32}[level]
	base := len(e.b) - per*len(shares)
	for i, s := range shares {
		if level >= 1 {
			binary.LittleEndian.PutUint32(e.b[base+per*i+4:], s.typ)
		}
	}
	for _, s := range shares {
		e.str(s.name)
		if level >= 1 {
			e.str(s.remark)
		}
		if level == 2 {
			path := `C:\` + s.name
			if s.typ&stypeSpecial != 0 {
				path = ""
			}
			e.str(path)
		}
	}
	e.u32(uint32(len(shares))) // TotalEntries
	e.ptr(hasResume)
	if hasResume {
		e.u32(0)
	}
	e.u32(0) // WERR_OK
	return e.b
}
