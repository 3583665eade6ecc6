package smb

import (
	"encoding/binary"
	"strings"
	"sync"
	"sync/atomic"
)

// Named pipes on IPC$. A client opens a pipe with CREATE, then writes DCE/RPC
// requests and reads the responses (WRITE and READ), or does both at once
// with IOCTL FSCTL_PIPE_TRANSCEIVE. The only pipe served is srvsvc, enough
// for share listings (srvsvc.go).

// pipeHandlers serve the commands on an IPC$ tree.
var pipeHandlers = [numCommands]Handler{
	CmdCreate: servePipeCreate,
	CmdClose:  servePipeClose,
	CmdRead:   servePipeRead,
	CmdWrite:  servePipeWrite,
	CmdIoctl:  servePipeIoctl,
	CmdFlush:  servePipeFlush,
}

const (
	fsctlPipeTransceive = 0x0011c017
	fsctlPipeWait       = 0x00110018

	statusPipeEmpty Status = 0xc00000d9

	fileAttributeNormal = 0x80
	fileOpened          = 1
)

var pipeIDs atomic.Uint64

// pipe is one open of a pipe: the RPC server state and the bytes written
// and not yet consumed, and produced and not yet read.
type pipe struct {
	mu  sync.Mutex
	rpc rpcConn
	in  []byte
	out []byte
}

func (t *Tree) pipe(r *Request, wire []byte) (*pipe, FileID, Status) {
	id, st := r.FileID(DecodeFileID(wire))
	if st != StatusSuccess {
		return nil, id, st
	}
	t.pmu.Lock()
	defer t.pmu.Unlock()
	p := t.pipes[id]
	if p == nil {
		return nil, id, StatusFileClosed
	}
	return p, id, StatusSuccess
}

func servePipeCreate(w *Response, r *Request) {
	b := r.Body
	if len(b) < 56 || binary.LittleEndian.Uint16(b) != 57 {
		w.Error(StatusInvalidParameter)
		return
	}
	raw, ok := r.Buffer(uint32(binary.LittleEndian.Uint16(b[44:])), uint32(binary.LittleEndian.Uint16(b[46:])))
	if !ok {
		w.Error(StatusInvalidParameter)
		return
	}
	name, err := fromUTF16le(raw)
	if err != nil {
		w.Error(StatusObjectNameInvalid)
		return
	}
	name = strings.ToLower(strings.TrimPrefix(name, `\`))
	if name != "srvsvc" {
		w.Error(StatusObjectNameNotFound)
		return
	}
	n := pipeIDs.Add(1)
	id := FileID{Persistent: n, Volatile: n}
	t := r.Tree
	t.pmu.Lock()
	if t.pipes == nil {
		t.pipes = map[FileID]*pipe{}
	}
	if len(t.pipes) >= maxPipesPerTree {
		t.pmu.Unlock()
		w.Error(StatusInsufficientResources)
		return
	}
	t.pipes[id] = &pipe{rpc: rpcConn{srv: r.Conn.srv, pipe: name}}
	t.pmu.Unlock()
	r.FileID(id)

	out := w.Grow(88)
	binary.LittleEndian.PutUint16(out, 89)
	binary.LittleEndian.PutUint32(out[4:], fileOpened)
	binary.LittleEndian.PutUint64(out[40:], 4096) // allocation size
	binary.LittleEndian.PutUint32(out[56:], fileAttributeNormal)
	binary.LittleEndian.PutUint64(out[64:], id.Persistent)
	binary.LittleEndian.PutUint64(out[72:], id.Volatile)
	w.Grow(1)
}

func servePipeClose(w *Response, r *Request) {
	b := r.Body
	if len(b) < 24 || binary.LittleEndian.Uint16(b) != 24 {
		w.Error(StatusInvalidParameter)
		return
	}
	_, id, st := r.Tree.pipe(r, b[8:24])
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	r.Tree.pmu.Lock()
	delete(r.Tree.pipes, id)
	r.Tree.pmu.Unlock()
	out := w.Grow(60)
	binary.LittleEndian.PutUint16(out, 60)
}

func servePipeFlush(w *Response, r *Request) {
	b := r.Body
	if len(b) < 24 || binary.LittleEndian.Uint16(b) != 24 {
		w.Error(StatusInvalidParameter)
		return
	}
	if _, _, st := r.Tree.pipe(r, b[8:24]); st != StatusSuccess {
		w.Error(st)
		return
	}
	out := w.Grow(4)
	binary.LittleEndian.PutUint16(out, 4)
}

func servePipeWrite(w *Response, r *Request) {
	b := r.Body
	if len(b) < 48 || binary.LittleEndian.Uint16(b) != 49 {
		w.Error(StatusInvalidParameter)
		return
	}
	data, ok := r.Buffer(uint32(binary.LittleEndian.Uint16(b[2:])), binary.LittleEndian.Uint32(b[4:]))
	if !ok || len(data) > int(r.Conn.maxWrite) || !r.ChargeCovers(uint32(len(data))) {
		w.Error(StatusInvalidParameter)
		return
	}
	p, _, st := r.Tree.pipe(r, b[16:32])
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	p.mu.Lock()
	st = p.write(data)
	p.mu.Unlock()
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	out := w.Grow(16)
	binary.LittleEndian.PutUint16(out, 17)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(data)))
	w.Grow(1)
}

// write feeds written bytes to the RPC server, which answers each
// complete PDU into out.
func (p *pipe) write(data []byte) Status {
	p.in = append(p.in, data...)
	for len(p.in) >= rpcHeaderSize {
		n := int(binary.LittleEndian.Uint16(p.in[8:]))
		if n < rpcHeaderSize || n > rpcMaxFrag {
			p.in = nil
			return StatusInvalidParameter
		}
		if len(p.in) < n {
			break
		}
		p.out = append(p.out, p.rpc.handle(p.in[:n])...)
		p.in = p.in[n:]
	}
	if len(p.in) == 0 {
		p.in = nil
	}
	return StatusSuccess
}

// read takes up to n bytes of output. A message longer than n is read in
// parts, each but the last with STATUS_BUFFER_OVERFLOW.
func (p *pipe) read(n int) ([]byte, Status) {
	if len(p.out) == 0 {
		return nil, statusPipeEmpty
	}
	k := min(n, len(p.out))
	data := p.out[:k]
	p.out = p.out[k:]
	if len(p.out) > 0 {
		return data, StatusBufferOverflow
	}
	p.out = nil
	return data, StatusSuccess
}

func servePipeRead(w *Response, r *Request) {
	b := r.Body
	if len(b) < 48 || binary.LittleEndian.Uint16(b) != 49 {
		w.Error(StatusInvalidParameter)
		return
	}
	p, _, st := r.Tree.pipe(r, b[16:32])
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	n := binary.LittleEndian.Uint32(b[4:])
	if n > r.Conn.maxRead || !r.ChargeCovers(n) {
		w.Error(StatusInvalidParameter)
		return
	}
	p.mu.Lock()
	data, st := p.read(int(n))
	p.mu.Unlock()
	if data == nil {
		w.Error(st)
		return
	}
	w.Status = st
	out := w.Grow(16)
	binary.LittleEndian.PutUint16(out, 17)
	out[2] = HeaderSize + 16
	binary.LittleEndian.PutUint32(out[4:], uint32(len(data)))
	w.Write(data)
}

func servePipeIoctl(w *Response, r *Request) {
	b := r.Body
	if len(b) < 56 || binary.LittleEndian.Uint16(b) != 57 {
		w.Error(StatusInvalidParameter)
		return
	}
	switch binary.LittleEndian.Uint32(b[4:]) {
	case fsctlPipeTransceive:
	case fsctlPipeWait:
		ioctlResponse(w, b, nil)
		return
	default:
		serveIPCIoctl(w, r)
		return
	}
	in, ok := r.Buffer(binary.LittleEndian.Uint32(b[24:]), binary.LittleEndian.Uint32(b[28:]))
	if !ok {
		w.Error(StatusInvalidParameter)
		return
	}
	p, _, st := r.Tree.pipe(r, b[8:24])
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	maxOut := binary.LittleEndian.Uint32(b[44:])
	if len(in) > int(r.Conn.maxTransact) || maxOut > r.Conn.maxTransact || !r.ChargeCovers(max(uint32(len(in)), maxOut)) {
		w.Error(StatusInvalidParameter)
		return
	}
	p.mu.Lock()
	st = p.write(in)
	var data []byte
	if st == StatusSuccess {
		data, st = p.read(int(maxOut))
	}
	p.mu.Unlock()
	if data == nil {
		w.Error(st)
		return
	}
	w.Status = st
	ioctlResponse(w, b, data)
}

// ioctlResponse writes an IOCTL response body with output data.
func ioctlResponse(w *Response, req []byte, data []byte) {
	out := w.Grow(48)
	binary.LittleEndian.PutUint16(out, 49)
	copy(out[4:24], req[4:24]) // CtlCode and FileId
	binary.LittleEndian.PutUint32(out[24:], HeaderSize+48)
	binary.LittleEndian.PutUint32(out[32:], HeaderSize+48)
	binary.LittleEndian.PutUint32(out[36:], uint32(len(data)))
	w.Write(data)
}
