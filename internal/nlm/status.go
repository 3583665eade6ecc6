package nlm

import (
	"errors"
	"strconv"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
)

// Stat is an nlm4_stats value, the result of a request in version 4.
// Versions 1 and 3 know only the first five; wireStat narrows the others.
type Stat uint32

// The nlm4_stats values.
const (
	StatGranted       Stat = 0
	StatDenied        Stat = 1
	StatDeniedNoLocks Stat = 2 // the server is out of lock resources
	StatBlocked       Stat = 3 // queued: a GRANTED callback will follow
	StatDeniedGrace   Stat = 4 // the server is in its grace period
	StatDeadlock      Stat = 5
	StatROFS          Stat = 6
	StatStaleFH       Stat = 7
	StatFBig          Stat = 8
	StatFailed        Stat = 9
)

var statNames = [...]string{
	"GRANTED", "DENIED", "DENIED_NOLOCKS", "BLOCKED", "DENIED_GRACE_PERIOD",
	"DEADLCK", "ROFS", "STALE_FH", "FBIG", "FAILED",
}

func (s Stat) String() string {
	if int(s) < len(statNames) {
		return "NLM4_" + statNames[s]
	}
	return "NLM4_STAT(" + strconv.FormatUint(uint64(s), 10) + ")"
}

// statusTable is the one mapping from the lock manager's outcomes to
// nlm4_stats. NotLocked and InvalidRange belong to SMB's semantics and do
// not happen to an NLM owner; they are mapped for completeness.
var statusTable = [...]Stat{
	lock.Granted:       StatGranted,
	lock.Queued:        StatBlocked,
	lock.Denied:        StatDenied,
	lock.Deadlock:      StatDeadlock,
	lock.LimitExceeded: StatDeniedNoLocks,
	lock.InvalidRange:  StatFBig,
	lock.NotLocked:     StatDenied,
	lock.Cancelled:     StatDenied,
	lock.Invalid:       StatFailed,
	lock.Breaking:      StatFailed,
	lock.BreakDone:     StatFailed,
	lock.Grace:         StatDeniedGrace,
}

func statOf(s lock.Status) Stat {
	if int(s) < len(statusTable) {
		return statusTable[s]
	}
	return StatFailed
}

// statOfErr maps a file system error met before the lock manager is asked:
// a handle that is not ours or names a removed file is STALE_FH, a client
// the share does not admit is DENIED (as Linux answers), anything else
// FAILED.
func statOfErr(err error) Stat {
	var fe fs.Error
	if !errors.As(err, &fe) {
		return StatFailed
	}
	switch fe {
	case fs.ErrStale, fs.ErrBadHandle, fs.ErrNotExist:
		return StatStaleFH
	case fs.ErrAccess, fs.ErrPerm:
		return StatDenied
	case fs.ErrROFS:
		return StatROFS
	case fs.ErrFBig:
		return StatFBig
	case fs.ErrNoSpace:
		return StatDeniedNoLocks
	}
	return StatFailed
}

// wireStat is s as version vers sends it. Versions 1 and 3 have no
// DEADLCK (the client sees DENIED, as from Linux) and no ROFS, STALE_FH,
// FBIG or FAILED (DENIED_NOLOCKS, the catch-all failure).
func wireStat(vers uint32, s Stat) uint32 {
	if vers == Version4 || s <= StatDeniedGrace {
		return uint32(s)
	}
	if s == StatDeadlock {
		return uint32(StatDenied)
	}
	return uint32(StatDeniedNoLocks)
}
