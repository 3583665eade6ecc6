package smb

import "encoding/binary"

// waitCreate holds up the requests of a compound that follow a CREATE
// that went asynchronous (waiting for the break of another's oplock or
// lease): MS-SMB2 3.3.5.2.7 lets a related request name the file the
// CREATE opens, which it has only once done. The interim response goes
// out now with those before it; the final CREATE response and the
// responses of msgs[from:] then go out together in one compound frame,
// as Windows and Samba send them. The rest is served on the goroutine
// that completes the CREATE, never on the connection's reader, which
// must stay free to take the break acknowledgment.
func (c *Conn) waitCreate(p *Pending, ch *chain, msgs [][]byte, from int, enc *Session) {
	rest := append([][]byte(nil), msgs...)
	p.then = func(w *Response) {
		ch.created(w)
		resps := make([]*Response, 1, len(rest)-from+1)
		resps[0] = w
		c.serveFrom(ch, rest, from, resps, p.encrypt, enc)
	}
}

// created passes on what the final response w of a CREATE gives the
// related requests after it: the FileId it opened, or its failure.
func (ch *chain) created(w *Response) {
	b := w.Bytes()
	if w.Status != StatusSuccess || len(b) < 80 {
		st := w.Status
		if st == StatusSuccess {
			st = StatusInternalError
		}
		ch.status = st
		return
	}
	ch.fileID = FileID{binary.LittleEndian.Uint64(b[64:]), binary.LittleEndian.Uint64(b[72:])}
	ch.hasFile = true
	ch.status = 0
}
