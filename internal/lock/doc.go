// Package lock is the unified lock manager: one table per file that holds
// the byte-range locks, the waiting lock requests and the share
// reservations of every protocol, so that an NFS client's fcntl lock and an
// SMB client's LockFileEx see each other.
//
// # A state machine
//
// The Manager knows no wire format and does no I/O. Requests and a clock go
// in; decisions and notices come out; the caller sends the replies and the
// callbacks. Every method runs as one step under the Manager's mutex, so
// protocol goroutines call it directly, and a test drives it with a fake
// clock and asserts exact outcomes. A grant that frees waiters comes back
// as Notices from the call that caused it (an Unlock, a Cancel, a release,
// Expire); the caller turns each Granted notice into NLM_GRANTED or the
// final response of an SMB2 LOCK that went async.
//
// # Entries: owner and kind
//
// Every entry has an Owner and a Kind. An NLM owner is the locking process
// of a client host (caller name, svid, oh); an SMB owner is an open, named
// by its persistent FileId so that it survives a durable reconnect. The
// kinds are byte-range locks (KindRange), share reservations (KindShare)
// and caching grants (KindCaching: SMB leases and oplocks).
//
// # Caching grants
//
// A caching grant lets its holder cache reads, handles and writes (the R,
// H and W of an SMB2 lease; an oplock is R, RW or RWH). A lease is held by
// the client's lease key and shared by the opens that name it; an oplock
// by its open; either goes with its last open. An open first asks
// PrepareOpen which grants of other holders it conflicts with (W goes for
// any other open, H too for one that meets a sharing violation, R with an
// overwrite; stat opens break nothing): the answer is Breaking notices to
// send and whether to wait. A grant that caches only reads breaks at once;
// one that caches handles or writes keeps its state until the holder
// acknowledges (AckBreak) or the break's deadline passes (Expire revokes
// it); either ends with a BreakDone notice, upon which the waiting open
// asks again. GrantCaching then gives the open what the file's other opens
// allow: W only without other holders' opens and without NLM locks.
// Contend is the same for the other protocol's requests: an NFS READ or an
// NLM lock breaks W, a WRITE or a change of size all caching, a REMOVE or
// RENAME H; an SMB write breaks the read-only caching of other opens.
//
// # Byte ranges: two semantics and one rule between them
//
// POSIX (NLM, and the server's own Local owner) sees a lock as a property of
// each byte: an owner holds at most one mode on a byte. A new lock by the
// same owner replaces what it held there: shared over exclusive downgrades,
// exclusive over shared upgrades (waiting if another owner shares the
// range), a lock in the middle of a bigger one splits it into three, and
// adjacent or overlapping locks of the same mode merge into one. Unlock
// releases bytes, not locks: unlocking the middle of a range leaves two, and
// unlocking what is not held succeeds. A length of 0 means "to the end of
// the file", that is every offset up to 2^64-1; so does a range whose end
// would pass 2^64-1 (NLM4 offsets and lengths are unsigned 64-bit; Linux's
// lockd clamps such ranges the same way). A POSIX owner never conflicts with
// itself.
//
// Windows (SMB) sees locks as objects that stack (MS-FSA 2.1.5.8): an open
// may take overlapping shared locks, and a shared lock over its own
// exclusive one, but an exclusive lock never overlaps any lock, even of the
// same open. Unlock must name exactly the offset and length of one lock and
// removes just that one, preferring an exclusive one (MS-FSA 2.1.5.9);
// anything else is NotLocked (STATUS_RANGE_NOT_LOCKED). A range whose last
// byte would pass 2^64-1 is InvalidRange. A zero-length range is a real
// lock that holds no byte: per MS-FSA 2.1.4.10 its "last byte" is offset-1,
// so a zero-length lock at x overlaps only a range that starts before x and
// reaches x, never another zero-length lock, and one at offset 0 overlaps
// nothing at all.
//
// Between different owners, of the same protocol or not, one rule holds:
// overlapping ranges conflict when either is exclusive.
//
// SMB locks are also mandatory for I/O (CheckIO): an exclusive lock refuses
// reads and writes of every other owner, a shared lock refuses writes of
// every owner, its own included. NLM locks are advisory, as POSIX says: they
// bind NFS I/O not at all, but they do bind SMB I/O, so that an SMB writer
// cannot scribble under an NFS client's lock.
//
// # Waiting, fairness and deadlock
//
// A request that may wait and cannot be granted is queued on its file and
// is granted when what blocks it goes: each change re-examines the file's
// queue first come first. The queue is fair: a waiting request does not
// overtake an earlier waiter it conflicts with (same rule: overlap, and one
// of the two exclusive, different owners), so a stream of shared lockers
// cannot starve a waiting exclusive one. A request that does not wait
// (F_SETLK, SMB2_LOCKFLAG_FAIL_IMMEDIATELY) is a question about the locks
// held now and is decided against granted locks alone, as POSIX and Windows
// both define it.
//
// Fairness gives way where it would make an owner wait for itself: a
// request overtakes every earlier waiter that waits, directly or through
// others, for the request's own owner (the owner holding a shared lock that
// another waits to take exclusively may still upgrade it, as POSIX allows).
// This is decided when the request comes and kept, so a waiter's edges in
// the wait-for graph never grow after it is queued.
//
// All waiters form one wait-for graph across files, owners and protocols:
// an owner points at the owners whose granted locks block its waiting
// requests and at those of the earlier waiters it queues behind. A request
// whose waiting would close a cycle (A waits for B, who waits, perhaps
// through C on another file, for A) is refused with Deadlock
// (NLM4_DEADLCK; STATUS_LOCK_NOT_GRANTED) instead of being queued. An SMB
// open waiting behind its own exclusive lock is no cycle: the client may
// still unlock it. Should a grant close a cycle after the fact (its new
// holder also waits elsewhere), the waiters on it are dropped with a
// Deadlock notice.
//
// A waiter waits until it is granted, cancelled (Cancel), released with its
// owner, host or file (a Cancelled notice), or its deadline passes (Expire
// reports it Denied; NextDeadline says when to call Expire). NLM blocking
// requests have no deadline.
//
// # Share reservations
//
// An SMB open carries an access (read, write, delete) and a share access
// (what it lets others do). AddShare checks and records it in one step with
// MS-FSA's sharing check: opens with data access conflict when either one's
// access is not allowed by the other's share access. BeginIO (and
// ShareDenies) answers NFS, which has no opens: while an SMB open denies
// write, NFS WRITE is refused. Only SMB opens count there; an NLM share
// reservation binds other reservations, not NFS I/O, which cannot tell its
// client from another. OpenFiles and Opened tell which files SMB holds
// open at all, for NFS renames of the directories above them.
//
// # Per-share locking
//
// How one protocol's locks and share modes bind the other's clients is
// set per share (SetLocking): Unified, the default, is Windows's rules
// for both; Unix makes them advisory across the protocols while locks
// still conflict with locks (locking.go tells which rule changes).
//
// # NFS requests in progress
//
// An NFS request is judged and held in one step: BeginIO checks it
// against SMB's share modes, locks and caching grants and keeps its intent
// until Intent.End, so that an SMB open, lock or lease arriving meanwhile
// sees the request as an open doing the same would be seen: refused, made
// to wait, or granted less (intent.go).
//
// # Files without state
//
// NFS asks about its file on every READ and WRITE, and nearly every file
// has no entry at all. Idle says so without the mutex, from counters that
// change when a file's table is made or forgotten, so those calls cost a
// few atomic operations there and do not contend with the protocols' lock
// traffic; Empty does the same for the whole table.
//
// # Limits, snapshot, persistence
//
// Limits bound the entries per client host, per file and in all, so that no
// client can exhaust the server; exceeding one is LimitExceeded. Unlocks and
// releases are never refused.
//
// Snapshot lists every entry with its owner, range, kind and age for
// `tandem locks`. Records, FileRecords and Restore expose the granted state
// as plain records with a compact binary form (Record.MarshalBinary,
// AppendRecords, DecodeRecords). With Config.Track the Manager remembers
// which files changed (Changes), so that a journal (package lockstore)
// writes each changed file's state; front ends tell the journal of each
// grant before they answer it (Journal.Granted) and of each release
// (Journal.Lazy). The Manager itself never calls a store.
//
// # Restart and grace
//
// After a crash, Recover restores the persisted records as prior state
// (Owner.Prior) and starts a grace period in which clients take back what
// they held (Reclaim, ReclaimOwner) and prior state binds everyone else;
// what is not reclaimed goes when grace ends (EndGrace, or Expire at its
// deadline). grace.go tells the whole story, with what a crash may leave.
package lock
