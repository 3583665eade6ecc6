package fs

import (
	"context"
	"errors"

	"github.com/tandemfs/tandem/internal/content"
)

// maxZeroWrite bounds the zeros ZeroRange writes inside a file where the
// content store cannot punch holes (S3): a larger range is refused rather
// than tie the server up writing it.
const maxZeroWrite = 64 << 20

// Range is a run of Len bytes of a file at Off.
type Range = content.Range

// ZeroRange makes the n bytes at off read as zeros, giving their storage
// back where the content store can (a hole), without changing the size:
// the part of the range past the end of the file is left alone. A store
// that cannot punch gets zeros written, up to maxZeroWrite (ErrNotSupp
// beyond), or is cut at off when the range reaches the end of the file. It
// changes mtime and ctime as a write does, with a write's checks, and is
// as durable as an UNSTABLE write until Commit.
func (f *FS) ZeroRange(ctx context.Context, c *Caller, h Handle, off, n uint64) (Wcc, error) {
	s, cr, err := f.begin(h, c)
	if err != nil {
		return Wcc{}, err
	}
	if s.cfg.ReadOnly {
		return Wcc{}, ErrROFS
	}
	call := newCall(h, s, cr)
	defer call.free()
	err = f.loadInode(ctx, call)
	if err == nil {
		err = call.checkWrite()
	}
	if err != nil {
		return call.wcc, f.result("zero range", err)
	}
	if off > MaxFileSize || n > MaxFileSize-off {
		return call.wcc, ErrInval
	}
	end := min(off+n, call.ino.Size)
	if off >= end {
		return call.wcc, nil
	}
	_, punches := f.content.(content.Puncher)
	switch {
	case punches:
		err = content.PunchHole(f.content, h.ID, int64(off), int64(end-off))
	case end == call.ino.Size:
		// What lies past the stored length reads as zeros: cut there.
		err = f.content.Truncate(h.ID, int64(off))
	case end-off > maxZeroWrite:
		return call.wcc, ErrNotSupp
	default:
		err = content.PunchHole(f.content, h.ID, int64(off), int64(end-off))
	}
	if err != nil {
		return call.wcc, f.result("zero range", err)
	}
	call.now, call.end = f.now(), 0
	err = f.meta.UpdateLazy(ctx, call.extend)
	f.lazy.Add(1)
	if errors.Is(err, ErrStale) {
		return Wcc{}, ErrStale
	}
	if err != nil {
		return call.wcc, f.result("zero range", err)
	}
	f.emitWrite(h, &call.ino, &call.wcc)
	return call.wcc, nil
}

// DataRanges returns the parts of the n bytes at off of a regular file
// that may hold data, in order, cut at the end of the file; the rest are
// holes and read as zeros. It needs read permission. A content store that
// keeps no holes reports everything below the end of the file.
func (f *FS) DataRanges(ctx context.Context, c *Caller, h Handle, off, n uint64) ([]Range, error) {
	s, cr, err := f.begin(h, c)
	if err != nil {
		return nil, err
	}
	call := newCall(h, s, cr)
	defer call.free()
	err = f.loadInode(ctx, call)
	if err == nil {
		err = call.checkRead()
	}
	if err != nil {
		return nil, f.result("data ranges", err)
	}
	if off > MaxFileSize || n > MaxFileSize-off {
		return nil, ErrInval
	}
	end := min(off+n, call.ino.Size)
	if off >= end {
		return nil, nil
	}
	rs, err := content.DataRanges(f.content, h.ID, int64(off), int64(end-off))
	if err != nil {
		return nil, f.result("data ranges", err)
	}
	return rs, nil
}
