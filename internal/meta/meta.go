// Package meta is the metadata store interface: inodes, directory entries and
// the records of the other subsystems (lock state, NSM hosts, users, shares),
// all changed in atomic transactions.
//
// Backends live in subpackages (memory for tests, pebble for the embedded
// persistent default) and all pass the conformance suite in storetest. The
// store knows nothing of permissions or protocols; internal/fs gives the
// records their meaning.
package meta

import (
	"context"
	"errors"
)

// Errors every backend returns for the conditions they name.
var (
	ErrNotFound = errors.New("meta: not found")
	ErrExists   = errors.New("meta: already exists")
	ErrClosed   = errors.New("meta: store closed")
)

// FirstAllocID is the lowest id AllocID returns; ids below it are never
// allocated, so callers may give them to well-known inodes such as a root.
const FirstAllocID = 16

// FileType is the kind of an inode.
type FileType uint8

// File types; the values match NFSv3's ftype3 for convenience only.
const (
	TypeRegular FileType = 1
	TypeDir     FileType = 2
	TypeBlock   FileType = 3
	TypeChar    FileType = 4
	TypeSymlink FileType = 5
	TypeSocket  FileType = 6
	TypeFIFO    FileType = 7
)

// Inode is one file's metadata. Times are nanoseconds since the Unix epoch.
type Inode struct {
	ID     uint64
	Gen    uint64 // generation: a reused ID never matches an old handle
	Type   FileType
	Mode   uint32 // permission bits with setuid, setgid and sticky (07777)
	Nlink  uint32
	UID    uint32
	GID    uint32
	Size   uint64
	Major  uint32 // device numbers of block and character files
	Minor  uint32
	Parent uint64 // the directory holding it; for a non-directory, that of its link made or renamed last (0: unknown)

	Atime, Mtime, Ctime, Btime int64

	DOSAttrs   uint32  // Windows attribute bits not expressed by Mode
	CreateVerf [8]byte // NFSv3 exclusive-create verifier, zero when none
	Target     string  // symlink target
}

// Dirent is one directory entry. Cookie is the entry's stable position:
// entries are listed in cookie order, a new entry gets a cookie higher than
// any before it in that directory, and removing entries never changes the
// cookies of the others. Cookies 0..2 are never used (0 is "from the
// start"; 1 and 2 are left for "." and "..").
type Dirent struct {
	Name   string
	ID     uint64
	Cookie uint64
}

// Store is a transactional metadata store.
type Store interface {
	// View runs fn with a read-only view of committed state. Views may run
	// concurrently with each other and with an Update.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction. Updates are serialized;
	// fn sees its own writes. If fn returns an error nothing is written;
	// otherwise the changes are committed atomically and are durable when
	// Update returns.
	Update(ctx context.Context, fn func(Tx) error) error
	// UpdateLazy is Update without the durability wait: the changes are
	// atomic and visible at once, and become durable at the next Update or
	// Sync. Used for the metadata of UNSTABLE writes.
	UpdateLazy(ctx context.Context, fn func(Tx) error) error
	// Sync makes every committed change durable.
	Sync() error
	Close() error
}

// Tx reads and writes inside View or Update. Writes in a View return an
// error. A Tx must not be used after its function returns.
type Tx interface {
	// AllocID returns a file id never returned before by this store (not
	// even by a transaction that failed), at least FirstAllocID.
	AllocID() (uint64, error)
	Inode(id uint64) (Inode, error)
	PutInode(ino *Inode) error
	DeleteInode(id uint64) error

	// Lookup finds name in directory dir (ErrNotFound).
	Lookup(dir uint64, name string) (Dirent, error)
	// AddEntry adds name -> id to dir (ErrExists) and returns its cookie.
	AddEntry(dir uint64, name string, id uint64) (cookie uint64, err error)
	// RemoveEntry removes name from dir (ErrNotFound).
	RemoveEntry(dir uint64, name string) error
	// ReadDir calls fn for dir's entries with cookie > after, in cookie
	// order, until fn returns false.
	ReadDir(dir uint64, after uint64, fn func(Dirent) bool) error
	// DirEmpty reports whether dir has no entries.
	DirEmpty(dir uint64) (bool, error)

	// Named blobs kept with an inode (extended attributes, security
	// descriptors): what they mean is for the caller. DeleteInode drops
	// an inode's blobs with it.
	//
	// Xattr returns the blob name of inode id (ErrNotFound).
	Xattr(id uint64, name string) ([]byte, error)
	// PutXattr sets the blob name of inode id, replacing any before.
	PutXattr(id uint64, name string, value []byte) error
	// DeleteXattr removes the blob name of inode id; removing a missing
	// one is not an error.
	DeleteXattr(id uint64, name string) error
	// Xattrs calls fn for each blob of inode id in name order until fn
	// returns false. value is valid only during the call.
	Xattrs(id uint64, fn func(name string, value []byte) bool) error

	// Records of other subsystems, in named buckets of ordered keys.
	Get(bucket string, key []byte) ([]byte, error) // ErrNotFound
	Put(bucket string, key, value []byte) error
	Delete(bucket string, key []byte) error
	// Scan calls fn for each key with the prefix, in key order, until fn
	// returns false. Slices passed to fn are valid only during the call.
	Scan(bucket string, prefix []byte, fn func(key, value []byte) bool) error
}
