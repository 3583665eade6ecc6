package smb

import "sync"

// Lock sequence verification (MS-SMB2 3.3.5.14): a client that may resend
// a LOCK on another channel after losing a connection numbers its LOCK
// requests, so that the server recognises a resent one it already
// carried out and answers it with success instead of locking twice. The
// LockSequence field holds a 4-bit number and, above it, an index of 1
// to 64 into the open's table of the last numbers that succeeded; other
// indexes are not checked.
type lockSequences struct {
	mu  sync.Mutex
	num [64]uint8 // the number that last succeeded at each index, plus one; 0 when none did
}

// lockSeq names one entry of the table and the number a request brings.
type lockSeq struct {
	idx int // -1 when the request is not checked
	num uint8
}

// checksLockSequence reports whether LOCKs on the request's connection are
// verified: 3.x connections that may be one channel of several.
func (r *Request) checksLockSequence() bool {
	c := r.Conn
	return c.dialect >= Dialect300 && c.dialect != dialectWildcard && c.serverCaps&capMultiChannel != 0
}

// lockReplay looks the request's LockSequence up. A replay of a request
// that succeeded reports true; any other request voids the entry until it
// succeeds in turn.
func (o *open) lockReplay(r *Request, field uint32) (lockSeq, bool) {
	seq := lockSeq{idx: -1}
	i := int(field >> 4)
	if !r.checksLockSequence() || i < 1 || i > len(o.seqs.num) {
		return seq, false
	}
	seq = lockSeq{idx: i - 1, num: uint8(field & 0xf)}
	o.seqs.mu.Lock()
	defer o.seqs.mu.Unlock()
	if o.seqs.num[seq.idx] == seq.num+1 {
		return seq, true
	}
	o.seqs.num[seq.idx] = 0
	return seq, false
}

// lockDone records that the request numbered seq succeeded.
func (o *open) lockDone(seq lockSeq) {
	if seq.idx < 0 {
		return
	}
	o.seqs.mu.Lock()
	o.seqs.num[seq.idx] = seq.num + 1
	o.seqs.mu.Unlock()
}
