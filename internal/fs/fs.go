package fs

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandemfs/tandem/internal/content"
	"github.com/tandemfs/tandem/internal/meta"
)

// MaxFiles is the number of files StatFS reports as the capacity. The
// stores have no fixed inode table; this is what clients divide by.
const MaxFiles = 1 << 32

// Options configure an FS.
type Options struct {
	// Now is the clock; nil means time.Now. Tests pass a fake.
	Now func() int64
	// Logger receives store failures (reported to callers as ErrIO);
	// nil means slog.Default().
	Logger *slog.Logger
}

// FS is the protocol-neutral file system over a metadata and a content store.
type FS struct {
	meta    meta.Store
	content content.Store
	now     func() int64
	log     *slog.Logger
	verf    [8]byte
	names   nameCache // where files were last found (where.go)
	cache   metaCache // committed inodes and entries (inodecache.go)

	shares  atomic.Pointer[shareTable] // replaced whole on change
	shareMu sync.Mutex                 // serializes AddShare

	// lazy counts UNSTABLE writes' metadata updates (bumped after each
	// commits); lazySynced is the count the last finished metadata Sync
	// covered (see syncLazy).
	lazy, lazySynced atomic.Uint64
	watch            watchers // who is told of changes (watch.go)
	holds            holds    // files kept while open (orphan.go)
}

// Buckets and keys of the records the file system keeps beside inodes.
const (
	bucketFS    = "fs"
	bucketShare = "share"
)

var (
	keyFormat    = []byte("format")
	keyFiles     = []byte("files")
	keyNextShare = []byte("nextshare")
)

// formatVersion is the layout of the records above; New refuses a store
// written in a layout it does not know.
const formatVersion = 1

// New opens the file system on its stores, recording the layout on first
// use and loading the shares. Each share's root directory is created by
// AddShare.
func New(m meta.Store, c content.Store, opt Options) (*FS, error) {
	f := &FS{content: c, now: opt.Now, log: opt.Logger}
	f.meta = cachingStore{Store: m, cache: &f.cache}
	if f.now == nil {
		f.now = func() int64 { return time.Now().UnixNano() }
	}
	if f.log == nil {
		f.log = slog.Default()
	}
	if _, err := rand.Read(f.verf[:]); err != nil {
		return nil, err
	}
	err := m.Update(context.Background(), func(tx meta.Tx) error {
		v, err := tx.Get(bucketFS, keyFormat)
		switch {
		case errors.Is(err, meta.ErrNotFound):
			return tx.Put(bucketFS, keyFormat, binary.BigEndian.AppendUint32(nil, formatVersion))
		case err != nil:
			return err
		case len(v) != 4 || binary.BigEndian.Uint32(v) != formatVersion:
			return errors.New("fs: metadata store has an unknown layout")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := f.loadShares(); err != nil {
		return nil, err
	}
	if err := f.dropOrphans(context.Background()); err != nil {
		return nil, err
	}
	return f, nil
}

// WriteVerifier is the NFSv3 write verifier: it changes every time the
// server starts, so that clients resend uncommitted writes.
func (f *FS) WriteVerifier() [8]byte { return f.verf }

// GetAttr returns h's attributes.
func (f *FS) GetAttr(ctx context.Context, h Handle) (Attr, error) {
	s, err := f.shareOf(h)
	if err != nil {
		return Attr{}, err
	}
	call := newCall(h, s, cred{})
	defer call.free()
	if err := f.loadInode(ctx, call); err != nil {
		return Attr{}, f.result("getattr", err)
	}
	return attrOf(&call.ino), nil
}

// StatFS reports capacity and file counts.
func (f *FS) StatFS(ctx context.Context, h Handle) (FSStat, Attr, error) {
	if _, err := f.shareOf(h); err != nil {
		return FSStat{}, Attr{}, err
	}
	var a Attr
	var files uint64
	err := f.meta.View(ctx, func(tx meta.Tx) error {
		ino, err := inodeOf(tx, h)
		if err != nil {
			return err
		}
		a = attrOf(&ino)
		files, err = fileCount(tx)
		return err
	})
	if err != nil {
		return FSStat{}, a, f.result("statfs", err)
	}
	total, free, err := f.content.StatFS()
	if err != nil {
		return FSStat{}, a, f.result("statfs", err)
	}
	st := FSStat{TotalBytes: total, FreeBytes: free, AvailBytes: free, TotalFiles: MaxFiles}
	if files < MaxFiles {
		st.FreeFiles = MaxFiles - files
		st.AvailFiles = st.FreeFiles
	}
	return st, a, nil
}

// result turns the error of an operation into the package's vocabulary: an
// Error passes, anything else is a store failure, logged and reported as
// ErrIO.
func (f *FS) result(op string, err error) error {
	if err == nil {
		return nil
	}
	var e Error
	if errors.As(err, &e) {
		return e
	}
	f.log.Error("fs: store failure", "op", op, "err", err)
	return ErrIO
}

// inodeOf reads the inode h names, ErrStale if it is gone or was replaced.
func inodeOf(tx meta.Tx, h Handle) (meta.Inode, error) {
	ino, err := tx.Inode(h.ID)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		return meta.Inode{}, ErrStale
	case err != nil:
		return meta.Inode{}, err
	case ino.Gen != h.Gen:
		return meta.Inode{}, ErrStale // nothing of another file's attributes leaks
	}
	return ino, nil
}

// inodeByID reads an inode the namespace refers to (an entry's target, a
// directory's parent); its absence is an inconsistency, not a stale handle.
func inodeByID(tx meta.Tx, id uint64) (meta.Inode, error) {
	ino, err := tx.Inode(id)
	if errors.Is(err, meta.ErrNotFound) {
		return ino, ErrServerFault
	}
	return ino, err
}

// newGen is the generation of a new file of share: the share in the high
// half, a random nonzero low half.
func newGen(share uint32) uint64 {
	return uint64(share)<<32 | uint64(mrand.Uint32()|1)
}

// fileCount is the number of inodes in the store.
func fileCount(tx meta.Tx) (uint64, error) {
	v, err := tx.Get(bucketFS, keyFiles)
	if errors.Is(err, meta.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, errors.New("fs: bad file counter")
	}
	return binary.BigEndian.Uint64(v), nil
}

// addFiles changes the inode counter in the transaction that makes or
// deletes inodes, so it is never off after a crash.
func addFiles(tx meta.Tx, delta int64) error {
	n, err := fileCount(tx)
	if err != nil {
		return err
	}
	if delta < 0 {
		n -= min(n, uint64(-delta))
	} else {
		n += uint64(delta)
	}
	return tx.Put(bucketFS, keyFiles, binary.BigEndian.AppendUint64(nil, n))
}
