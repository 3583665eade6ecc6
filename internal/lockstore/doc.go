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
// Claims keep lock rates high. A request that grants something calls
// Granted before it answers. The first grant to a client (an NLM host, an
// SMB client) on a file waits for a synced write of the file's state and
// of the client's claim on the file (bucket "lockclaim"); requests that
// arrive while a write is on disk share the next one (group commit). While
// the claim stands, later grants to that client on that file are written
// without waiting, and a background sync makes them durable within
// Options.SyncEvery (a second). The claim goes once the client has held
// nothing on the file for Options.Linger. A release calls Lazy: it is
// written without waiting, and durable with the next synced write.
//
// # What a crash leaves
//
// Every grant that was answered is covered by a durable claim, and its
// exact state is in the store unless the machine crashed within SyncEvery
// of it (a kill of the process loses nothing the journal wrote: the
// operating system has it). A release that was answered may be missing,
// when no synced write followed. After the restart, lock.Manager.Recover
// turns the records into prior state and the claims into what stands for
// grants the records missed; package lock (grace.go) explains why neither
// a missed grant nor a missed release lets anyone take what a client held.

// Other subsystems add their records to the same writes (SyncWith, LazyWith):
// the SMB server's durable opens are written in the transaction that also
// holds the lock state granted with them.
package lockstore
