package fs

// This file holds the API of FS as stubs so that protocol packages can be
// written against it; each stub is replaced by its implementation.

import (
	"context"

	"github.com/tandemfs/tandem/internal/content"
	"github.com/tandemfs/tandem/internal/meta"
)

// Handle names a file: the share, the file id and its generation. Its wire
// form (Bytes) is opaque to clients and stable across restarts.
type Handle struct {
	Share uint32
	ID    uint64
	Gen   uint64
}

// HandleSize is the length of a handle's wire form.
const HandleSize = 24

// Bytes is the wire form of h.
func (h Handle) Bytes() []byte { panic("todo") }

// ParseHandle decodes a wire handle (ErrBadHandle if it is not one of ours).
// It does not check that the file exists; operations do, and answer ErrStale.
func ParseHandle(b []byte) (Handle, error) { panic("todo") }

// Options configure an FS.
type Options struct {
	// Now is the clock; nil means time.Now. Tests pass a fake.
	Now func() int64
}

// FS is the protocol-neutral file system over a metadata and a content store.
type FS struct{}

// New opens the file system on its stores, creating the root inode on first use.
func New(m meta.Store, c content.Store, opt Options) (*FS, error) { panic("todo") }

// AddShare exports cfg, creating the share's root directory (mode 0777
// root-owned on first creation, so that any user can create files) if the
// share is new. Shares persist in the metadata store; calling AddShare
// again with the same name updates the options.
func (f *FS) AddShare(ctx context.Context, cfg ShareConfig) (Handle, error) { panic("todo") }

// Share returns the root handle and options of the named share.
func (f *FS) Share(name string) (Handle, ShareConfig, bool) { panic("todo") }

// Shares lists every share.
func (f *FS) Shares() []ShareConfig { panic("todo") }

// CheckClient reports whether c may use the share of h at all (ErrAccess if
// its address is outside the share's networks).
func (f *FS) CheckClient(h Handle, c *Caller) error { panic("todo") }

// WriteVerifier is the NFSv3 write verifier: it changes every time the
// server starts, so that clients resend uncommitted writes.
func (f *FS) WriteVerifier() [8]byte { panic("todo") }

// GetAttr returns h's attributes.
func (f *FS) GetAttr(ctx context.Context, h Handle) (Attr, error) { panic("todo") }

// SetAttr changes attributes. If guardCtime is not nil, the change happens
// only if the file's ctime equals it (ErrNotSync otherwise).
func (f *FS) SetAttr(ctx context.Context, c *Caller, h Handle, sa SetAttr, guardCtime *int64) (Wcc, error) {
	panic("todo")
}

// Lookup finds name in dir ("." and ".." included).
func (f *FS) Lookup(ctx context.Context, c *Caller, dir Handle, name string) (Handle, Attr, Attr, error) {
	panic("todo")
}

// Access reports which of the asked access bits c has on h.
func (f *FS) Access(ctx context.Context, c *Caller, h Handle, want uint32) (uint32, Attr, error) {
	panic("todo")
}

// ReadLink returns a symlink's target.
func (f *FS) ReadLink(ctx context.Context, c *Caller, h Handle) (string, Attr, error) { panic("todo") }

// Read reads up to len(buf) bytes at off. eof is true if the read reached
// the end of the file.
func (f *FS) Read(ctx context.Context, c *Caller, h Handle, off uint64, buf []byte) (n int, eof bool, attr Attr, err error) {
	panic("todo")
}

// Write writes data at off with at least the asked stability and returns
// the stability achieved.
func (f *FS) Write(ctx context.Context, c *Caller, h Handle, off uint64, data []byte, stable Stability) (int, Stability, Wcc, error) {
	panic("todo")
}

// Commit makes every write to h durable.
func (f *FS) Commit(ctx context.Context, c *Caller, h Handle, off, count uint64) (Wcc, error) {
	panic("todo")
}

// Create makes a regular file.
func (f *FS) Create(ctx context.Context, c *Caller, dir Handle, name string, how CreateHow) (Handle, Attr, Wcc, error) {
	panic("todo")
}

// Mkdir makes a directory.
func (f *FS) Mkdir(ctx context.Context, c *Caller, dir Handle, name string, sa SetAttr) (Handle, Attr, Wcc, error) {
	panic("todo")
}

// Symlink makes a symbolic link.
func (f *FS) Symlink(ctx context.Context, c *Caller, dir Handle, name, target string, sa SetAttr) (Handle, Attr, Wcc, error) {
	panic("todo")
}

// Mknod makes a device, socket or FIFO.
func (f *FS) Mknod(ctx context.Context, c *Caller, dir Handle, name string, typ FileType, sa SetAttr, major, minor uint32) (Handle, Attr, Wcc, error) {
	panic("todo")
}

// Remove removes a non-directory.
func (f *FS) Remove(ctx context.Context, c *Caller, dir Handle, name string) (Wcc, error) {
	panic("todo")
}

// Rmdir removes an empty directory.
func (f *FS) Rmdir(ctx context.Context, c *Caller, dir Handle, name string) (Wcc, error) {
	panic("todo")
}

// Rename renames atomically, replacing a compatible existing target.
func (f *FS) Rename(ctx context.Context, c *Caller, fromDir Handle, fromName string, toDir Handle, toName string) (Wcc, Wcc, error) {
	panic("todo")
}

// Link makes a hard link to h named name in dir.
func (f *FS) Link(ctx context.Context, c *Caller, h Handle, dir Handle, name string) (Attr, Wcc, error) {
	panic("todo")
}

// ReadDir lists dir from cookie (0 = start) calling fn per entry until it
// returns false. With plus, entries carry handle and attributes. verf is
// the cookie verifier the client holds (0 with cookie 0); the returned
// verifier is the directory's current one. A cookie that is not valid for
// the directory is ErrBadCookie.
func (f *FS) ReadDir(ctx context.Context, c *Caller, dir Handle, cookie, verf uint64, plus bool, fn func(*DirEntry) bool) (Attr, uint64, error) {
	panic("todo")
}

// StatFS reports capacity and file counts.
func (f *FS) StatFS(ctx context.Context, h Handle) (FSStat, Attr, error) { panic("todo") }
