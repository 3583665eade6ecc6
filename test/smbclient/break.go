package smbclient

import (
	"encoding/binary"
	"sync"
)

// Break is an unsolicited break notification (MS-SMB2 2.2.23): the server
// takes back (part of) an oplock or a lease because another open needs
// it. A break whose AckRequired is set waits for AckOplockBreak or
// AckLeaseBreak.
type Break struct {
	// Lease tells a lease break (2.2.23.2) from an oplock break
	// (2.2.23.1).
	Lease bool

	// Oplock break: the open and the level it breaks to.
	FileID      FileID
	OplockLevel OplockLevel

	// Lease break: the lease, its new epoch (version 2 leases), whether
	// the server waits for an acknowledgment, and the caching state
	// before and after.
	LeaseKey     [16]byte
	Epoch        uint16
	AckRequired  bool
	CurrentState LeaseState
	NewState     LeaseState
}

// Breaks delivers the break notifications the connection receives, in
// order. It is never full: notifications nobody reads are kept. It is
// closed when the connection ends.
func (c *Conn) Breaks() <-chan Break { return c.breaks.out }

const leaseBreakAckRequired = 0x01

// parseBreak decodes an oplock or lease break notification.
func parseBreak(m *message) (Break, bool) {
	b := m.body
	switch {
	case len(b) >= 24 && binary.LittleEndian.Uint16(b) == 24:
		return Break{FileID: getFileID(b[8:]), OplockLevel: OplockLevel(b[2])}, true
	case len(b) >= 44 && binary.LittleEndian.Uint16(b) == 44:
		br := Break{
			Lease:        true,
			Epoch:        binary.LittleEndian.Uint16(b[2:]),
			AckRequired:  binary.LittleEndian.Uint32(b[4:])&leaseBreakAckRequired != 0,
			CurrentState: LeaseState(binary.LittleEndian.Uint32(b[24:])),
			NewState:     LeaseState(binary.LittleEndian.Uint32(b[28:])),
		}
		copy(br.LeaseKey[:], b[8:24])
		return br, true
	}
	return Break{}, false
}

// breakQueue is an unbounded queue in front of a channel, so that the
// connection's reader never waits for a test to read its breaks.
type breakQueue struct {
	out chan Break

	mu     sync.Mutex
	q      []Break
	more   chan struct{} // signalled when q grows
	closed bool
}

func newBreakQueue() *breakQueue {
	bq := &breakQueue{out: make(chan Break), more: make(chan struct{}, 1)}
	go bq.forward()
	return bq
}

func (bq *breakQueue) put(b Break) {
	bq.mu.Lock()
	if !bq.closed {
		bq.q = append(bq.q, b)
	}
	bq.mu.Unlock()
	select {
	case bq.more <- struct{}{}:
	default:
	}
}

// close ends the channel once what was queued has been read.
func (bq *breakQueue) close() {
	bq.mu.Lock()
	bq.closed = true
	bq.mu.Unlock()
	select {
	case bq.more <- struct{}{}:
	default:
	}
}

func (bq *breakQueue) forward() {
	for {
		bq.mu.Lock()
		if len(bq.q) == 0 {
			closed := bq.closed
			bq.mu.Unlock()
			if closed {
				close(bq.out)
				return
			}
			<-bq.more
			continue
		}
		b := bq.q[0]
		bq.q = bq.q[1:]
		bq.mu.Unlock()
		bq.out <- b
	}
}
