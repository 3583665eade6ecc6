package smb

import "sync"

// Channel sequence (MS-SMB2 3.3.5.2.10). In 3.x a client numbers the
// epochs of its connection to an open: after losing a channel it moves
// ChannelSequence on, so that a WRITE, SET_INFO or IOCTL it sent on the
// lost channel and that arrives late cannot undo one sent since. An open
// keeps the newest ChannelSequence it has seen; a request carrying one
// that is newer (up to 0x7FFF ahead in 16-bit arithmetic) moves it on, and
// one that is older is stale: WRITE, SET_INFO and IOCTL are refused with
// STATUS_FILE_NOT_AVAILABLE, other commands run. The counts of requests
// outstanding under the old and the new sequence, which the protocol also
// keeps to refuse a replay while older requests are still in flight, are
// not kept: a replay is judged by its sequence alone.

// channelSeq is an open's ChannelSequence.
type channelSeq struct {
	mu  sync.Mutex
	seq uint16
}

// admit judges a request's ChannelSequence for the open it names.
func (c *channelSeq) admit(r *Request) Status {
	if r.Conn.dialect < Dialect300 || r.Conn.dialect == dialectWildcard {
		return StatusSuccess
	}
	seq := uint16(r.Header.Status) // a 3.x request's ChannelSequence
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case seq == c.seq:
	case seq-c.seq <= 0x7fff:
		c.seq = seq
	case r.Header.Command == CmdWrite || r.Header.Command == CmdSetInfo || r.Header.Command == CmdIoctl:
		return StatusFileNotAvailable
	}
	return StatusSuccess
}
