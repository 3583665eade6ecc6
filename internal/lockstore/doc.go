// Package lockstore persists the unified lock manager's table in the
// metadata store, so that locks, share reservations and caching grants
// survive a crash of the server and their clients can reclaim them in a
// grace period (package lock, grace.go).
//
// # What is written, and when
//
// The lock manager remembers which files' state changed (lock.Changes); the
// Journal writes, for each such file, its whole state as one value in the
// bucket "lock" under the file's key, or deletes the key when the file has
// no state left. One committer goroutine does every write, so writes of a
// file's state come in the order the states were taken, and each value is
// a state the file really had.
//
// A request that grants something calls Sync before it answers: Sync
// returns once a synced write includes the state after the request's
// change. Requests that arrive while a write is on disk share the next one
// (group commit), so concurrent clients cost one flush per batch, not per
// lock. A release calls Lazy: its write goes out without waiting for the
// disk, and becomes durable with the next synced write.
//
// # What a crash leaves
//
// Every grant that was answered is in the store. A release that was
// answered may not be, when no synced write followed it: the released
// entry then comes back after the restart as prior state that nobody
// reclaims (its owner let it go; a reclaim must match what was held), and
// goes when the grace period ends. Until then it holds back only what the
// grace period holds back anyway, or what would have met the entry a
// moment before the crash. A grant whose write reached the store but whose
// answer did not reach the client comes back as prior state too, and goes
// the same way unless the client, which asks again after the restart,
// reclaims it.
//
// Other subsystems add their records to the same writes (SyncWith, LazyWith):
// the SMB server's durable opens are written in the transaction that also
// holds the lock state granted with them.
package lockstore
