package nlm

import (
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// The RPC program and the versions served. Version 4 is the one NFSv3
// clients use; 1 and 3 (NFSv2's) differ from it only in 32-bit offsets and
// lengths and a shorter status enum; 3 adds SHARE, UNSHARE, NM_LOCK and
// FREE_ALL to 1.
const (
	Program  = 100021
	Version1 = 1
	Version3 = 3
	Version4 = 4
)

// Procedure numbers, the same in every version.
const (
	ProcNull       = 0
	ProcTest       = 1
	ProcLock       = 2
	ProcCancel     = 3
	ProcUnlock     = 4
	ProcGranted    = 5
	ProcTestMsg    = 6
	ProcLockMsg    = 7
	ProcCancelMsg  = 8
	ProcUnlockMsg  = 9
	ProcGrantedMsg = 10
	ProcTestRes    = 11
	ProcLockRes    = 12
	ProcCancelRes  = 13
	ProcUnlockRes  = 14
	ProcGrantedRes = 15
	ProcShare      = 20
	ProcUnshare    = 21
	ProcNMLock     = 22
	ProcFreeAll    = 23
)

// Bounds of the protocol's variable-length items: MAXNETOBJ_SZ for netobj
// (cookies, file and owner handles), LM_MAXSTRLEN for caller names and
// LM_MAXNAMELEN for the host name of FREE_ALL.
const (
	maxNetobj     = 1024
	maxCallerName = 1024
	maxNotifyName = 1025
)

// wireLock is nlm4_lock, or nlm_lock of versions 1 and 3 with its 32-bit
// offset and length widened. Its slices alias the call's arguments.
type wireLock struct {
	caller []byte
	fh     []byte
	oh     []byte
	svid   uint32
	offset uint64
	length uint64
}

func readLock(r *xdr.Reader, v4 bool, l *wireLock) {
	l.caller = r.Opaque(maxCallerName)
	l.fh = r.Opaque(maxNetobj)
	l.oh = r.Opaque(maxNetobj)
	l.svid = r.Uint32()
	if v4 {
		l.offset, l.length = r.Uint64(), r.Uint64()
	} else {
		l.offset, l.length = uint64(r.Uint32()), uint64(r.Uint32())
	}
}

func writeLock(w *xdr.Writer, v4 bool, l *wireLock) {
	w.Opaque(l.caller)
	w.Opaque(l.fh)
	w.Opaque(l.oh)
	w.Uint32(l.svid)
	writeRange(w, v4, l.offset, l.length)
}

// writeRange writes an offset and length. Versions 1 and 3 cannot express
// a range beyond 2^32-1: an offset there is clamped, and a range that
// reaches past it is sent as "to the end of the file" (length 0).
func writeRange(w *xdr.Writer, v4 bool, off, n uint64) {
	if v4 {
		w.Uint64(off)
		w.Uint64(n)
		return
	}
	const max32 = 1<<32 - 1
	if off > max32 {
		off, n = max32, 0
	} else if n > max32-off+1 {
		n = 0
	}
	w.Uint32(uint32(off))
	w.Uint32(uint32(n))
}

// clone copies l's slices so that it outlives the call.
func (l wireLock) clone() wireLock {
	buf := make([]byte, 0, len(l.caller)+len(l.fh)+len(l.oh))
	buf = append(buf, l.caller...)
	buf = append(buf, l.fh...)
	buf = append(buf, l.oh...)
	n1, n2 := len(l.caller), len(l.caller)+len(l.fh)
	l.caller, l.fh, l.oh = buf[:n1:n1], buf[n1:n2:n2], buf[n2:]
	return l
}

// testArgs is nlm4_testargs, also the argument of GRANTED.
type testArgs struct {
	cookie    []byte
	exclusive bool
	lock      wireLock
}

func readTestArgs(r *xdr.Reader, v4 bool, a *testArgs) {
	a.cookie = r.Opaque(maxNetobj)
	a.exclusive = r.Bool()
	readLock(r, v4, &a.lock)
}

func writeTestArgs(w *xdr.Writer, v4 bool, a *testArgs) {
	w.Opaque(a.cookie)
	w.Bool(a.exclusive)
	writeLock(w, v4, &a.lock)
}

// lockArgs is nlm4_lockargs. State is the client's NSM state number.
type lockArgs struct {
	cookie    []byte
	block     bool
	exclusive bool
	lock      wireLock
	reclaim   bool
	state     int32
}

func readLockArgs(r *xdr.Reader, v4 bool, a *lockArgs) {
	a.cookie = r.Opaque(maxNetobj)
	a.block = r.Bool()
	a.exclusive = r.Bool()
	readLock(r, v4, &a.lock)
	a.reclaim = r.Bool()
	a.state = r.Int32()
}

// cancelArgs is nlm4_cancargs.
type cancelArgs struct {
	cookie    []byte
	block     bool
	exclusive bool
	lock      wireLock
}

func readCancelArgs(r *xdr.Reader, v4 bool, a *cancelArgs) {
	a.cookie = r.Opaque(maxNetobj)
	a.block = r.Bool()
	a.exclusive = r.Bool()
	readLock(r, v4, &a.lock)
}

// unlockArgs is nlm4_unlockargs.
type unlockArgs struct {
	cookie []byte
	lock   wireLock
}

func readUnlockArgs(r *xdr.Reader, v4 bool, a *unlockArgs) {
	a.cookie = r.Opaque(maxNetobj)
	readLock(r, v4, &a.lock)
}

// DOS share modes of nlm4_share: what the opener denies others (fsh4_mode)
// and the access it wants (fsh4_access).
const (
	denyNone      = 0
	denyRead      = 1
	denyWrite     = 2
	denyReadWrite = 3

	accessNone      = 0
	accessRead      = 1
	accessWrite     = 2
	accessReadWrite = 3
)

// shareArgs is nlm4_shareargs.
type shareArgs struct {
	cookie  []byte
	caller  []byte
	fh      []byte
	oh      []byte
	mode    uint32
	access  uint32
	reclaim bool
}

func readShareArgs(r *xdr.Reader, a *shareArgs) {
	a.cookie = r.Opaque(maxNetobj)
	a.caller = r.Opaque(maxCallerName)
	a.fh = r.Opaque(maxNetobj)
	a.oh = r.Opaque(maxNetobj)
	a.mode = r.Uint32()
	a.access = r.Uint32()
	a.reclaim = r.Bool()
	if a.mode > denyReadWrite || a.access > accessReadWrite {
		r.SetErr(errBadEnum)
	}
}

// notifyArgs is nlm4_notify, the argument of FREE_ALL.
type notifyArgs struct {
	name  []byte
	state int32
}

func readNotifyArgs(r *xdr.Reader, a *notifyArgs) {
	a.name = r.Opaque(maxNotifyName)
	a.state = r.Int32()
}

// resArgs is nlm4_res: the result of most procedures, and the argument of
// the _RES procedures.
type resArgs struct {
	cookie []byte
	stat   uint32
}

func readRes(r *xdr.Reader, a *resArgs) {
	a.cookie = r.Opaque(maxNetobj)
	a.stat = r.Uint32()
}

func writeRes(w *xdr.Writer, cookie []byte, st uint32) {
	w.Opaque(cookie)
	w.Uint32(st)
}

// holder is nlm4_holder, the conflicting lock TEST reports.
type holder struct {
	exclusive bool
	svid      uint32
	oh        []byte
	offset    uint64
	length    uint64
}

// writeTestRes writes nlm4_testres: the holder follows a DENIED status.
func writeTestRes(w *xdr.Writer, v4 bool, cookie []byte, st uint32, denied bool, h *holder) {
	w.Opaque(cookie)
	w.Uint32(st)
	if denied {
		w.Bool(h.exclusive)
		w.Uint32(h.svid)
		w.Opaque(h.oh)
		writeRange(w, v4, h.offset, h.length)
	}
}

// writeShareRes writes nlm4_shareres; the sequence number is unused by
// clients and always 0.
func writeShareRes(w *xdr.Writer, cookie []byte, st uint32) {
	w.Opaque(cookie)
	w.Uint32(st)
	w.Uint32(0)
}

type protoError string

func (e protoError) Error() string { return string(e) }

// errBadEnum marks an enum value outside its definition; the call is
// answered GARBAGE_ARGS.
const errBadEnum = protoError("nlm: enum value out of range")
