package lock

import (
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
)

// FileKey names a file in the lock table: the share and the file id. The
// generation of a handle is left out on purpose: a stale handle never
// reaches the lock manager, and the key must stay the same across restarts.
type FileKey struct {
	Share uint32
	ID    uint64
}

// KeyOf is the lock table key of the file a handle names.
func KeyOf(h fs.Handle) FileKey { return FileKey{Share: h.Share, ID: h.ID} }

// FileKeySize is the length of a FileKey's binary form.
const FileKeySize = 12

// AppendBinary appends the key's binary form (big-endian share, then id), so
// that keys sort by share and then file in a store's ordered key space.
func (k FileKey) AppendBinary(b []byte) ([]byte, error) {
	b = binary.BigEndian.AppendUint32(b, k.Share)
	return binary.BigEndian.AppendUint64(b, k.ID), nil
}

// ParseFileKey decodes the binary form made by AppendBinary.
func ParseFileKey(b []byte) (FileKey, bool) {
	if len(b) != FileKeySize {
		return FileKey{}, false
	}
	return FileKey{Share: binary.BigEndian.Uint32(b), ID: binary.BigEndian.Uint64(b[4:])}, true
}

func (k FileKey) less(o FileKey) bool {
	if k.Share != o.Share {
		return k.Share < o.Share
	}
	return k.ID < o.ID
}

func (k FileKey) String() string {
	return strconv.FormatUint(uint64(k.Share), 10) + ":" + strconv.FormatUint(k.ID, 10)
}

// Proto is the protocol an owner speaks. It decides how the owner's own
// byte ranges combine (see the package documentation).
type Proto uint8

// Protocols. The zero Proto is no protocol: it is valid only where a
// method says so (NFS I/O, which has no lock owner).
const (
	NLM   Proto = 1 // POSIX semantics: split, merge, replace
	SMB   Proto = 2 // Windows semantics: stacking, exact-range unlock
	Local Proto = 3 // the server itself (admin tools, tests): POSIX semantics
)

func (p Proto) valid() bool { return p >= NLM && p <= Local }

// posix reports whether owners of p follow POSIX range semantics.
func (p Proto) posix() bool { return p == NLM || p == Local }

func (p Proto) String() string {
	switch p {
	case NLM:
		return "nlm"
	case SMB:
		return "smb"
	case Local:
		return "local"
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}

// Limits on the length of an owner's strings, those of NLM (LM_MAXSTRLEN
// for caller names, MAXNETOBJ_SZ for owner handles). Longer ones are
// refused as Invalid so that a client cannot make records of any size.
const (
	MaxHostLen = 1024
	MaxOHLen   = 1024
)

// Owner is who holds a lock, waits for one or holds a share reservation.
// Two requests belong to the same owner exactly when their Owners are equal.
//
// For NLM the owner is the lock holder of the client's kernel: Host is the
// caller name, Svid the process id and OH the opaque owner handle. For SMB it
// is the open: Host is the client (its ClientGuid, in a stable text form)
// and Open the open's persistent FileId, which survives a durable reconnect
// on a new session. Host also groups owners for the per-client limit and for
// ReleaseHost.
type Owner struct {
	Proto Proto
	Host  string
	Svid  uint32 // NLM
	OH    string // NLM, the oh bytes
	Open  uint64 // SMB
	// Prior marks state held before the server restarted and not yet
	// reclaimed (see grace.go): the prior twin of an owner is the same
	// Owner with Prior set. It is never persisted: every record is
	// restored as prior.
	Prior bool
}

// NLMOwner is the owner of an NLM lock.
func NLMOwner(host string, svid uint32, oh []byte) Owner {
	return Owner{Proto: NLM, Host: host, Svid: svid, OH: string(oh)}
}

// SMBOwner is the owner of the locks and the share reservation of an SMB open.
func SMBOwner(client string, open uint64) Owner {
	return Owner{Proto: SMB, Host: client, Open: open}
}

func (o Owner) valid() bool {
	return o.Proto.valid() && len(o.Host) <= MaxHostLen && len(o.OH) <= MaxOHLen
}

func (o Owner) String() string {
	s := o.Proto.String() + ":" + o.Host
	switch o.Proto {
	case SMB:
		if o.OH != "" {
			s += "/lease=" + hex.EncodeToString([]byte(o.OH))
		} else {
			s += "/open=" + strconv.FormatUint(o.Open, 16)
		}
	default:
		s += "/svid=" + strconv.FormatUint(uint64(o.Svid), 10)
		if o.OH != "" {
			s += "/oh=" + hex.EncodeToString([]byte(o.OH))
		}
	}
	if o.Prior {
		s += "/prior"
	}
	return s
}

// prior is o's prior twin.
func (o Owner) prior() Owner {
	o.Prior = true
	return o
}

// Kind is what an entry of the lock table is.
type Kind uint8

// Kinds.
const (
	KindRange Kind = 1 // a byte-range lock (or a request waiting for one)
	KindShare Kind = 2 // a share reservation: an open's access and share modes
	// KindCaching is a breakable caching grant (an SMB lease or oplock).
	// Restore refuses such records: a grant does not outlive its opens.
	KindCaching Kind = 3
)

func (k Kind) String() string {
	switch k {
	case KindRange:
		return "range"
	case KindShare:
		return "share"
	case KindCaching:
		return "caching"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Mode is the strength of a byte-range lock.
type Mode uint8

// Modes. Shared is a read lock (NLM exclusive=false, SMB2_LOCKFLAG_SHARED_LOCK),
// Exclusive a write lock.
const (
	Shared    Mode = 1
	Exclusive Mode = 2
)

func (m Mode) valid() bool { return m == Shared || m == Exclusive }

func (m Mode) String() string {
	switch m {
	case Shared:
		return "shared"
	case Exclusive:
		return "exclusive"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// Range is a byte range as the owner's protocol states it. Length 0 means
// "to the end of the file" (every offset from Offset on) for POSIX owners
// and a zero-length range for SMB owners. A POSIX range whose end would pass
// 2^64-1 reaches to the end, as if Length were 0; an SMB range like that is
// refused with InvalidRange.
type Range struct {
	Offset uint64
	Length uint64
}

// Access is the data access of an open, as the share-mode check sees it.
// The SMB front end maps FILE_READ_DATA and FILE_EXECUTE to AccessRead,
// FILE_WRITE_DATA and FILE_APPEND_DATA to AccessWrite and DELETE to
// AccessDelete; other access rights do not take part in sharing.
type Access uint8

// Access bits.
const (
	AccessRead   Access = 1
	AccessWrite  Access = 2
	AccessDelete Access = 4
)

// ShareAccess is what an open lets other opens do; the values are SMB2's
// FILE_SHARE_READ, FILE_SHARE_WRITE and FILE_SHARE_DELETE. A missing bit
// denies that access to every other open (NLM SHARE's deny modes map to
// the missing bits).
type ShareAccess uint8

// Share access bits.
const (
	ShareRead   ShareAccess = 1
	ShareWrite  ShareAccess = 2
	ShareDelete ShareAccess = 4
)

const accessMask = 7

// Lock is a byte-range lock, granted or requested.
type Lock struct {
	File  FileKey
	Owner Owner
	Range Range
	Mode  Mode
	Since time.Time // when it was granted or, for a waiter, queued
}

// Reservation is a share reservation.
type Reservation struct {
	File        FileKey
	Owner       Owner
	Access      Access
	ShareAccess ShareAccess
	Since       time.Time
}

// Status is the outcome of a request, and of a waiter in a Notice. Each
// protocol maps it to its status codes in one table.
type Status uint8

// Statuses.
const (
	// Granted: the lock or reservation is held.
	Granted Status = iota
	// Queued: the request waits; a Notice will say when it is granted or
	// why it was dropped.
	Queued
	// Denied: a lock or reservation of another owner conflicts (for a
	// Notice: the waiter's deadline passed).
	Denied
	// Deadlock: waiting would close a cycle in the wait-for graph.
	Deadlock
	// LimitExceeded: the client, the file or the server holds as many
	// entries as Limits allow.
	LimitExceeded
	// InvalidRange: an SMB range that passes the last byte of 2^64.
	InvalidRange
	// NotLocked: an SMB unlock that matches no lock of the open exactly.
	NotLocked
	// Cancelled: a waiter dropped because its owner, host or file was
	// released.
	Cancelled
	// Invalid: a malformed request (unknown protocol or mode, strings too long).
	Invalid
	// Breaking: a Notice with a break to send to a caching grant's holder
	// (Notice.Break).
	Breaking
	// BreakDone: a Notice that a break of a grant on Lock.File ended
	// (acknowledged, revoked, or the grant went); requests waiting for it
	// may go on.
	BreakDone
	// Grace: a reclaim outside the grace period, or a request that the
	// grace period holds back (NLM4_DENIED_GRACE_PERIOD).
	Grace
)

var statusNames = [...]string{
	Granted:       "granted",
	Queued:        "queued",
	Denied:        "denied",
	Deadlock:      "deadlock",
	LimitExceeded: "limit exceeded",
	InvalidRange:  "invalid range",
	NotLocked:     "not locked",
	Cancelled:     "cancelled",
	Invalid:       "invalid request",
	Breaking:      "breaking",
	BreakDone:     "break done",
	Grace:         "grace period",
}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "status(" + strconv.Itoa(int(s)) + ")"
}

// Err maps s to the file system's error vocabulary, for callers (NFS I/O,
// the fs layer) that need no finer distinction: nil for Granted and Queued.
// Protocol front ends map Status itself, which keeps every distinction.
func (s Status) Err() error {
	switch s {
	case Granted, Queued:
		return nil
	case Denied, Deadlock, Cancelled:
		return fs.ErrLocked
	case Grace:
		return fs.ErrJukebox
	case LimitExceeded:
		return fs.ErrNoSpace
	}
	return fs.ErrInval
}

// WaiterID names a queued request for Cancel and in Notices. IDs are never
// reused within a Manager.
type WaiterID uint64

// Request asks for a byte-range lock (Lock), or whether one could be had
// (Test).
type Request struct {
	File  FileKey
	Owner Owner
	Range Range
	Mode  Mode
	// Wait queues the request when it cannot be granted now (NLM
	// block=true, SMB without SMB2_LOCKFLAG_FAIL_IMMEDIATELY); otherwise it
	// is Denied.
	Wait bool
	// Deadline, if not zero, is when a waiting request gives up (Expire
	// reports it Denied). Zero waits until granted or cancelled.
	Deadline time.Time
}

// Decision is the answer to a Lock or Test.
type Decision struct {
	Status Status
	// Holder is the first lock that conflicts (Denied, Queued, Deadlock).
	// For a request queued only behind an earlier waiter (see fairness in
	// the package documentation) it is that waiter's request.
	Holder Lock
	// Waiter names the queued request (Queued).
	Waiter WaiterID
	// Notices are the waiters this change granted (a POSIX downgrade or
	// partial replace can free a range) or dropped as deadlocked.
	Notices []Notice
}

// Notice tells the caller what became of a waiter: Granted (the lock is now
// held: send NLM_GRANTED, complete the SMB async LOCK), Denied (its deadline
// passed), Cancelled (its owner, host or file was released) or Deadlock (a
// later change closed a cycle through it).
//
// A caching grant's notices have no waiter: Breaking carries the break to
// send, BreakDone says a break ended; Lock names the file and the grant's
// holder.
type Notice struct {
	Waiter WaiterID
	Status Status
	Lock   Lock
	Break  Break
}

// Limits bound the entries (granted locks, waiters and share reservations)
// a client, a file and the whole server may have. Zero means no limit.
// Unlocks and releases are never refused, even when a POSIX unlock splits a
// range and so adds an entry.
type Limits struct {
	PerClient int
	PerFile   int
	Total     int
}

// DefaultLimits are generous bounds that keep one client from exhausting
// the server's memory.
var DefaultLimits = Limits{PerClient: 100_000, PerFile: 100_000, Total: 1_000_000}

// Config configures a Manager.
type Config struct {
	// Now is the clock: lock ages, waiter deadlines. Nil means time.Now.
	Now    func() time.Time
	Limits Limits
	// Track makes the Manager remember which files' persisted state
	// changed, for Changes: set it when a journal persists the table.
	Track bool
}
