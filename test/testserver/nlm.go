package testserver

import "fmt"

// NLMProgram is the program number of the network lock manager.
const NLMProgram = 100021

// NLM version 4 procedures (the synchronous ones).
const (
	nlmProcTest   = 1
	nlmProcLock   = 2
	nlmProcCancel = 3
	nlmProcUnlock = 4
)

// NLMStat is an nlm4_stats value.
type NLMStat uint32

// The NLM4 statuses.
const (
	NLMGranted           NLMStat = 0
	NLMDenied            NLMStat = 1
	NLMDeniedNoLocks     NLMStat = 2
	NLMBlocked           NLMStat = 3
	NLMDeniedGracePeriod NLMStat = 4
	NLMDeadlock          NLMStat = 5
	NLMReadOnlyFS        NLMStat = 6
	NLMStaleFH           NLMStat = 7
	NLMFileBig           NLMStat = 8
	NLMFailed            NLMStat = 9
)

var nlmStatNames = [...]string{"GRANTED", "DENIED", "DENIED_NOLOCKS", "BLOCKED",
	"DENIED_GRACE_PERIOD", "DEADLCK", "ROFS", "STALE_FH", "FBIG", "FAILED"}

func (s NLMStat) String() string {
	if int(s) < len(nlmStatNames) {
		return "NLM4_" + nlmStatNames[s]
	}
	return fmt.Sprintf("NLM4 stat %d", uint32(s))
}

// NLMLock is an nlm4_lock: who locks (the client host's caller name, the
// owner handle and the process's svid) which bytes of which file.
// Length 0 is "to the end of the file".
type NLMLock struct {
	Caller string
	FH     []byte
	OH     []byte
	Svid   uint32
	Offset uint64
	Length uint64
}

func (e *enc) nlmLock(l NLMLock) {
	e.str(l.Caller)
	e.opaque(l.FH)
	e.opaque(l.OH)
	e.u32(l.Svid)
	e.u64(l.Offset)
	e.u64(l.Length)
}

// NLMLockArgs are the choices of an NLM4 LOCK besides the lock itself.
type NLMLockArgs struct {
	Exclusive bool
	// Block asks the server to queue the request and grant it later
	// with a GRANTED callback; the reply is then NLMBlocked. Tests
	// without a callback service leave it false.
	Block bool
	// Reclaim marks a lock the client held before the server
	// restarted, sent during the grace period.
	Reclaim bool
	// State is the client's NSM state number.
	State int32
}

// nlmCookie is the cookie of every call: replies are matched by xid.
var nlmCookie = []byte("testserver")

// nlmRes reads an nlm4_res (cookie, stat).
func (c *Conn) nlmRes(proc uint32, args enc) (NLMStat, *dec, error) {
	body, err := c.Call(NLMProgram, 4, proc, args)
	if err != nil {
		return 0, nil, err
	}
	d := &dec{b: body}
	d.opaque()
	st := NLMStat(d.u32())
	return st, d, d.err
}

// NLMLock calls NLM4 LOCK and returns its status.
func (c *Conn) NLMLock(l NLMLock, a NLMLockArgs) (NLMStat, error) {
	var e enc
	e.opaque(nlmCookie)
	e.bool(a.Block)
	e.bool(a.Exclusive)
	e.nlmLock(l)
	e.bool(a.Reclaim)
	e.u32(uint32(a.State))
	st, _, err := c.nlmRes(nlmProcLock, e)
	return st, err
}

// NLMUnlock calls NLM4 UNLOCK.
func (c *Conn) NLMUnlock(l NLMLock) (NLMStat, error) {
	var e enc
	e.opaque(nlmCookie)
	e.nlmLock(l)
	st, _, err := c.nlmRes(nlmProcUnlock, e)
	return st, err
}

// NLMCancel calls NLM4 CANCEL of a blocked LOCK.
func (c *Conn) NLMCancel(l NLMLock, a NLMLockArgs) (NLMStat, error) {
	var e enc
	e.opaque(nlmCookie)
	e.bool(a.Block)
	e.bool(a.Exclusive)
	e.nlmLock(l)
	st, _, err := c.nlmRes(nlmProcCancel, e)
	return st, err
}

// NLMHolder is the conflicting lock a TEST reports.
type NLMHolder struct {
	Exclusive      bool
	Svid           uint32
	OH             []byte
	Offset, Length uint64
}

// NLMTest calls NLM4 TEST; a holder comes back with NLMDenied.
func (c *Conn) NLMTest(l NLMLock, exclusive bool) (NLMStat, *NLMHolder, error) {
	var e enc
	e.opaque(nlmCookie)
	e.bool(exclusive)
	e.nlmLock(l)
	st, d, err := c.nlmRes(nlmProcTest, e)
	if err != nil || st != NLMDenied {
		return st, nil, err
	}
	h := &NLMHolder{Exclusive: d.bool(), Svid: d.u32()}
	h.OH = append([]byte(nil), d.opaque()...)
	h.Offset, h.Length = d.u64(), d.u64()
	return st, h, d.err
}
