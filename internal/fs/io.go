package fs

import (
	"context"
	"errors"

	"github.com/tandemfs/tandem/internal/meta"
)

// atimeMaxAge is how stale atime may get before a read refreshes it even
// though it is newer than mtime and ctime (relatime's rule).
const atimeMaxAge = 24 * 3600 * 1e9

// regularFile is the type check of READ and WRITE.
func regularFile(ino *meta.Inode) error {
	switch ino.Type {
	case meta.TypeRegular:
		return nil
	case meta.TypeDir:
		return ErrIsDir
	default:
		return ErrInval
	}
}

// Read reads up to len(buf) bytes at off. eof is true if the read reached
// the end of the file. The attributes are returned also when permission
// or the file's type refuse the read.
func (f *FS) Read(ctx context.Context, c *Caller, h Handle, off uint64, buf []byte) (n int, eof bool, attr Attr, err error) {
	s, cr, err := f.begin(h, c)
	if err != nil {
		return 0, false, Attr{}, err
	}
	call := newCall(h, s, cr)
	defer call.free()
	err = f.loadInode(ctx, call)
	if err == nil {
		err = call.checkRead()
	}
	attr = attrOf(&call.ino)
	if err != nil {
		return 0, false, attr, f.result("read", err)
	}
	size := call.ino.Size
	if off >= size {
		return 0, true, attr, nil
	}
	n = int(min(uint64(len(buf)), size-off))
	if n > 0 {
		if _, err := f.content.ReadAt(h.ID, buf[:n], int64(off)); err != nil {
			return 0, false, attr, f.result("read", err)
		}
	}
	eof = off+uint64(n) >= size

	ino := &call.ino
	call.now = f.now()
	if !s.cfg.ReadOnly && (ino.Atime <= ino.Mtime || ino.Atime <= ino.Ctime || call.now-ino.Atime >= atimeMaxAge) {
		err := f.meta.UpdateLazy(ctx, call.touchAtime)
		switch {
		case err == nil:
			attr = attrOf(ino)
		case !errors.Is(err, ErrStale):
			// The data was read; a failed atime update is only logged, and
			// a file removed meanwhile is no failure of this read.
			f.result("read atime", err)
		}
	}
	return n, eof, attr, nil
}

// Write writes data at off with at least the asked stability and returns
// the stability achieved: Unstable leaves data and metadata to a later
// Commit; DataSync and FileSync both make data and metadata durable before
// answering and report FileSync.
//
// The checks, in order: the share is writable (ErrROFS); the file is
// regular (ErrIsDir, ErrInval); write permission (ErrAccess, the owner
// always has it, see the package documentation); the data ends within
// MaxFileSize (ErrFBig).
func (f *FS) Write(ctx context.Context, c *Caller, h Handle, off uint64, data []byte, stable Stability) (int, Stability, Wcc, error) {
	s, cr, err := f.begin(h, c)
	if err != nil {
		return 0, 0, Wcc{}, err
	}
	if s.cfg.ReadOnly {
		return 0, 0, Wcc{}, ErrROFS
	}
	call := newCall(h, s, cr)
	defer call.free()
	err = f.loadInode(ctx, call)
	if err == nil {
		err = call.checkWrite()
	}
	if err != nil {
		return 0, 0, call.wcc, f.result("write", err)
	}
	if off > MaxFileSize || uint64(len(data)) > MaxFileSize-off {
		return 0, 0, call.wcc, ErrFBig
	}
	if len(data) == 0 {
		// Like write(2) of nothing: no change, not even of mtime.
		return 0, stable, call.wcc, nil
	}
	if _, err := f.content.WriteAt(h.ID, data, int64(off)); err != nil {
		return 0, 0, call.wcc, f.result("write", err)
	}
	call.now, call.end = f.now(), off+uint64(len(data))
	if stable == Unstable {
		err = f.meta.UpdateLazy(ctx, call.extend)
		f.lazy.Add(1)
	} else {
		// The data's flush and the inode's commit run at once: the
		// reply waits for both, and a crash between them is one of
		// the states the package documentation allows.
		synced := f.syncContent(h.ID)
		err, stable = f.updateDurable(ctx, call.extend), FileSync
		if serr := <-synced; serr != nil && err == nil {
			return 0, 0, call.wcc, f.result("write", serr)
		}
	}
	if errors.Is(err, ErrStale) {
		// Removed while the data was being written: the removal may have
		// dropped the content before this write recreated it.
		f.dropContent(h.ID)
		return 0, 0, Wcc{}, ErrStale
	}
	if err != nil {
		return 0, 0, call.wcc, f.result("write", err)
	}
	f.emitWrite(h, &call.ino, &call.wcc)
	return len(data), stable, call.wcc, nil
}

// Commit makes every write to h durable: its content, then the metadata
// store (which holds the sizes and times of unstable writes). The range is
// advisory; the whole file is synced.
func (f *FS) Commit(ctx context.Context, c *Caller, h Handle, off, count uint64) (Wcc, error) {
	s, cr, err := f.begin(h, c)
	if err != nil {
		return Wcc{}, err
	}
	call := newCall(h, s, cr)
	defer call.free()
	if err := f.loadInode(ctx, call); err != nil {
		return Wcc{}, f.result("commit", err)
	}
	wcc := wccOf(&call.ino)
	if call.ino.Type == meta.TypeDir {
		return wcc, ErrIsDir
	}
	var synced chan error
	if call.ino.Type == meta.TypeRegular {
		synced = f.syncContent(h.ID)
	}
	err = f.syncLazy()
	if synced != nil {
		err = errors.Join(err, <-synced)
	}
	if err != nil {
		return wcc, f.result("commit", err)
	}
	return wcc, nil
}

// change runs a namespace or attribute change: durable before it returns,
// or, on an Async share, durable with the next sync of the metadata log
// (a COMMIT, a FILE_SYNC write or another share's change).
func (f *FS) change(ctx context.Context, s *share, fn func(meta.Tx) error) error {
	if !s.cfg.Async {
		return f.updateDurable(ctx, fn)
	}
	err := f.meta.UpdateLazy(ctx, fn)
	f.lazy.Add(1)
	return err
}

// updateDurable is a durable Update, which also makes every lazy change
// applied before it durable (the log is written in order): a later COMMIT
// need not flush the log for them.
func (f *FS) updateDurable(ctx context.Context, fn func(meta.Tx) error) error {
	n := f.lazy.Load()
	err := f.meta.Update(ctx, fn)
	if err == nil {
		for {
			old := f.lazySynced.Load()
			if old >= n || f.lazySynced.CompareAndSwap(old, n) {
				break
			}
		}
	}
	return err
}

// syncContent starts making id's content durable and returns where the
// result will be sent.
func (f *FS) syncContent(id uint64) chan error {
	ch := make(chan error, 1)
	go func() { ch <- f.content.Sync(id) }()
	return ch
}

// syncLazy makes the metadata of every UNSTABLE write answered so far
// durable, and does nothing when a finished Sync already covered them: a
// COMMIT after FILE_SYNC writes, or an SMB FLUSH of a file only read,
// waits for no log flush.
func (f *FS) syncLazy() error {
	n := f.lazy.Load()
	if f.lazySynced.Load() >= n {
		return nil
	}
	if err := f.meta.Sync(); err != nil {
		return err
	}
	for {
		old := f.lazySynced.Load()
		if old >= n || f.lazySynced.CompareAndSwap(old, n) {
			return nil
		}
	}
}
