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
// the claim stands, later grants to that client on that file wait only
// until their file's state is in the redo log (redo.go: a write(2) without
// fsync, which a kill of the process cannot lose), and a background sync
// makes them durable in the store within Options.SyncEvery (a second),
// which then empties the log. The claim goes once the client has held
// nothing on the file for Options.Linger. An unlock calls Released, which
// waits for the redo log the same way; a release nobody waits to hear of
// (a close, a client's reboot) calls Lazy.
//
// # What a crash leaves
//
// A kill of the server process loses nothing that was answered: the store
// and the redo log together hold the state of every file as of the last
// answered change. At the next start Replay writes into the store what
// only the redo log holds (every write is tagged, and the store remembers
// the tag of its last synced write, so nothing older overwrites anything
// newer), and tells by the machine's boot id (boot.go) that the machine did
// not restart meanwhile: then the state is exact. A crash of the machine
// loses at most a second of the exact state, but every grant answered is
// covered by a durable claim; lock.Manager.Recover turns the records into
// prior state and the claims into what stands for grants the records
// missed, and package lock (grace.go) explains why neither a missed grant
// nor a missed release lets anyone take what a client held.
//
// Other subsystems' records go the same ways: Put and Delete (the SMB
// server's durable opens) into the redo log with the lock state granted
// beside them, SyncWith into a synced write.
package lockstore
