// Package kv writes the metadata records of package meta over an ordered
// key-value store, so every backend that can get, set, delete and iterate
// keys in order shares one encoding of inodes, directory entries and buckets.
//
// A backend supplies a Reader (and, inside Update, a Writer) whose reads see
// the transaction's own earlier writes; Tx turns them into a meta.Tx.
//
// # Key layout
//
// Every key starts with one byte naming its record kind; numbers are
// big-endian so that byte order is numeric order.
//
//	'i' id                      -> inode (see inode.go)
//	'd' dir 'c' cookie          -> child id, name     (listing in cookie order)
//	'd' dir 'k'                 -> next cookie        (absent: 3)
//	'd' dir 'n' name            -> child id, cookie   (lookup by name)
//	'x' id name                 -> value              (an inode's named blobs, see xattr.go)
//	'b' len16(bucket) bucket key -> value             (records of other subsystems)
//	's' "id"                    -> id high-water mark (absent: meta.FirstAllocID)
//
// The cookie counter of a directory only grows, so a new entry always gets a
// cookie above every entry the directory ever had and a client resuming a
// listing from an old cookie never skips or repeats a surviving entry. The
// counter is dropped with the directory's inode.
//
// File ids come from IDs, which reserves them in blocks by raising the
// high-water mark durably, outside the transactions that use them, so no id
// is ever handed out twice, whatever fails or crashes.
package kv

import "errors"

// Reader reads a key-value store in key order. Inside a read-write
// transaction it sees the transaction's own writes.
type Reader interface {
	// Get appends the value of key to dst; it returns meta.ErrNotFound when
	// the key is absent.
	Get(key, dst []byte) ([]byte, error)
	// Range calls fn for each key in [start, end) in ascending order until
	// fn returns false. k and v are valid only during the call, and fn must
	// not write to the store.
	Range(start, end []byte, fn func(k, v []byte) bool) error
}

// Writer changes a key-value store inside a transaction. Both copy their
// arguments.
type Writer interface {
	Set(key, value []byte) error
	Delete(key []byte) error
}

// Errors of misuse.
var (
	ErrReadOnly = errors.New("meta: write in a read-only transaction")
	ErrTxDone   = errors.New("meta: transaction used after its function returned")
)
