package smb

import (
	"context"
	"encoding/binary"
	"errors"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
)

// Deleting, renaming and guarding named streams (streams.go).

// streamDisposition sets or clears the delete pending of a stream open's
// stream (FileDispositionInformation); onClose marks this open only.
func streamDisposition(r *Request, o *open, del, onClose bool) Status {
	if !o.may(accessDelete) {
		return StatusAccessDenied
	}
	if del {
		a, err := o.srv.fs.GetAttr(r.Context(), o.h)
		if err != nil {
			return StatusOf(err)
		}
		if a.Type != fs.TypeDir && a.Mode&0o200 == 0 {
			return StatusCannotDelete
		}
	}
	if onClose {
		o.mu.Lock()
		o.deleteOnClose = del
		o.mu.Unlock()
		return StatusSuccess
	}
	o.setDeletePending(del)
	return StatusSuccess
}

// removeStream deletes the stream of the file h, as the last open of a
// stream whose delete is pending closes.
func (s *Server) removeStream(ctx context.Context, c *fs.Caller, h fs.Handle, stream string) error {
	err := s.fs.RemoveXattr(ctx, c, h, streamAttr(stream))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrStale) {
		return nil // gone with its file, or already
	}
	return err
}

// renameStream renames the stream of a stream open (FileRenameInformation
// whose name starts with a colon: ":new", ":new:$DATA", or "::$DATA" for
// the file's data). The open must be the stream's only one; the target
// is replaced only if asked, and only while nobody has it open.
func renameStream(r *Request, o *open, in []byte, ex bool) Status {
	replace := in[0] != 0
	if ex {
		replace = binary.LittleEndian.Uint32(in)&1 != 0
	}
	n := binary.LittleEndian.Uint32(in[16:])
	if uint64(n) > uint64(len(in)-20) {
		return StatusInvalidParameter
	}
	raw := in[20 : 20+n]
	if len(raw) < 2 || raw[0] != ':' || raw[1] != 0 {
		// A stream keeps its file: a path is no target. Windows answers
		// a path that names a stream with a sharing violation.
		for i := 0; i+1 < len(raw); i += 2 {
			if raw[i] == ':' && raw[i+1] == 0 {
				return StatusSharingViolation
			}
		}
		return StatusInvalidParameter
	}
	_, target, st := splitStream(append([]byte{'x', 0}, raw...))
	if st != StatusSuccess {
		return st
	}
	s := r.Conn.srv
	ctx := r.Context()
	if target == "" {
		return streamToData(ctx, r, o, replace)
	}
	found, _, exists, err := s.findStream(ctx, r, o.h, target)
	if err != nil {
		return StatusOf(err)
	}
	if exists && found == o.stream {
		return StatusSuccess
	}
	if exists && !replace {
		return StatusObjectNameCollision
	}
	v, st := o.streamData(ctx, r)
	if st != StatusSuccess {
		return st
	}
	if st := o.rekey(target, func() Status {
		if err := s.fs.SetXattr(ctx, &o.caller, o.h, streamAttr(target), v); err != nil {
			return StatusOf(err)
		}
		if err := s.removeStream(ctx, &o.caller, o.h, o.stream); err != nil {
			return StatusOf(err)
		}
		if exists && found != target {
			s.removeStream(ctx, &o.caller, o.h, found) // replaced under another spelling
		}
		return StatusSuccess
	}); st != StatusSuccess {
		return st
	}
	return StatusSuccess
}

// streamToData renames a stream onto its file's data, which must be
// empty unless replace: the stream's bytes become the file's, and the
// open an open of the data.
func streamToData(ctx context.Context, r *Request, o *open, replace bool) Status {
	s := r.Conn.srv
	a, err := s.fs.GetAttr(ctx, o.h)
	if err != nil {
		return StatusOf(err)
	}
	if a.Type != fs.TypeRegular {
		return StatusInvalidParameter
	}
	if a.Size > 0 && !replace {
		return StatusObjectNameCollision
	}
	v, st := o.streamData(ctx, r)
	if st != StatusSuccess {
		return st
	}
	return o.rekey("", func() Status {
		if _, err := s.fs.SetAttr(ctx, &o.caller, o.h, fs.SetAttr{Mask: fs.SetSize, Size: 0}, nil); err != nil {
			return StatusOf(err)
		}
		if len(v) > 0 {
			if _, _, _, err := s.fs.Write(ctx, &o.caller, o.h, 0, v, fs.Unstable); err != nil {
				return StatusOf(err)
			}
		}
		return StatusOf(s.removeStream(ctx, &o.caller, o.h, o.stream))
	})
}

// rekey moves o from its stream to stream ("" for the file's data): its
// share reservation goes under the new key (STATUS_SHARING_VIOLATION if
// it conflicts there), move runs, and o's open state follows. o must be
// its stream's only open.
func (o *open) rekey(stream string, move func() Status) Status {
	s := o.srv
	ops := &s.ops
	old, nk := o.key(), streamKey(o.h, stream)
	ops.mu.Lock()
	f, nf := o.file, ops.files[nk]
	switch {
	case f.opens > 1:
		ops.mu.Unlock()
		return StatusSharingViolation
	case nf != nil && nf.deletePending:
		ops.mu.Unlock()
		return StatusDeletePending
	case stream != "" && nf != nil && nf.opens > 0:
		ops.mu.Unlock()
		return StatusSharingViolation
	}
	if _, st := s.locks().AddShare(nk, o.owner, lockAccess(o.access), lock.ShareAccess(o.shareAccess&7)); st != lock.Granted {
		ops.mu.Unlock()
		return StatusSharingViolation
	}
	ops.mu.Unlock()
	if st := move(); st != StatusSuccess {
		s.locks().RemoveShare(nk, o.owner)
		return st
	}
	s.locks().RemoveShare(old, o.owner)
	ops.mu.Lock()
	f.opens--
	if f.opens == 0 {
		delete(ops.files, f.key)
	}
	if nf = ops.files[nk]; nf == nil {
		nf = &fileState{key: nk, h: o.h, dir: f.dir, name: f.name, path: f.path}
		ops.files[nk] = nf
	}
	nf.opens++
	o.file = nf
	ops.streamNoDelete -= o.deniesFileDelete()
	o.mu.Lock()
	o.stream = stream
	o.mu.Unlock()
	ops.streamNoDelete += o.deniesFileDelete()
	ops.mu.Unlock()
	return StatusSuccess
}

// streamsDenyDelete reports whether a named stream of the file h is open
// without FILE_SHARE_DELETE, which keeps the file from being opened for
// deletion. Such opens are counted, so the common case costs nothing.
func (s *Server) streamsDenyDelete(h fs.Handle) bool {
	ops := &s.ops
	ops.mu.Lock()
	defer ops.mu.Unlock()
	if ops.streamNoDelete == 0 {
		return false
	}
	for _, o := range ops.opens {
		if o.h.ID == h.ID && o.deniesFileDelete() == 1 {
			return true
		}
	}
	return false
}

// fileShareDelete is FILE_SHARE_DELETE in a CREATE's ShareAccess.
const fileShareDelete = 4

// deniesFileDelete is 1 for an open of a named stream without
// FILE_SHARE_DELETE, else 0: what it adds to serverOps.streamNoDelete.
// rekey, which changes an open's stream, keeps the count.
func (o *open) deniesFileDelete() int {
	if o.stream != "" && o.shareAccess&fileShareDelete == 0 {
		return 1
	}
	return 0
}

// copyStreamRange is copyRange where the source, the target or both are
// named streams: len(buf) bytes at from in src to to in dst.
func copyStreamRange(ctx context.Context, src, dst *open, from, to uint64, buf []byte) Status {
	s := src.srv
	if src.stream == "" {
		got, _, _, err := s.fs.Read(ctx, &src.caller, src.h, from, buf)
		if err != nil {
			return StatusOf(err)
		}
		if got < len(buf) {
			return StatusEndOfFile
		}
	} else {
		v, err := s.fs.GetXattr(ctx, &src.caller, src.h, streamAttr(src.stream))
		if err != nil {
			return StatusOf(err)
		}
		if from > uint64(len(v)) || uint64(len(buf)) > uint64(len(v))-from {
			return StatusEndOfFile
		}
		copy(buf, v[from:])
	}
	if dst.stream == "" {
		stable := fs.Unstable
		if dst.writeThrough() {
			stable = fs.FileSync
		}
		_, _, _, err := s.fs.Write(ctx, &dst.caller, dst.h, to, buf, stable)
		return StatusOf(err)
	}
	v, err := s.fs.GetXattr(ctx, &dst.caller, dst.h, streamAttr(dst.stream))
	if err != nil {
		return StatusOf(err)
	}
	if to > fs.MaxXattrSize || uint64(len(buf)) > fs.MaxXattrSize-to {
		return StatusDiskFull
	}
	if end := int(to) + len(buf); end > len(v) {
		v = append(v, make([]byte, end-len(v))...)
	}
	copy(v[to:], buf)
	return StatusOf(s.fs.SetXattr(ctx, &dst.caller, dst.h, streamAttr(dst.stream), v))
}

// A file deleted while named streams of it are open (with
// FILE_SHARE_DELETE) goes when the last of them closes, as on Windows:
// until then its state stays with the delete pending, and opens of the
// file or of its streams are told so.

// streamOpensLeft reports whether a named stream of the file h is open.
// Requires ops.mu.
func (ops *serverOps) streamOpensLeft(h fs.Handle) bool {
	for _, o := range ops.opens {
		if o.stream != "" && o.h.ID == h.ID {
			return true
		}
	}
	return false
}

// fileWaitsStreams reports whether the file h is deleted once its
// streams' opens close. Requires ops.mu.
func (ops *serverOps) fileWaitsStreams(h fs.Handle) bool {
	f := ops.files[lock.KeyOf(h)]
	return f != nil && f.waitsStreams
}

// finishFileDelete deletes the file h if its delete waited for the opens
// of its streams and none is left.
func (s *Server) finishFileDelete(ctx context.Context, h fs.Handle) {
	ops := &s.ops
	ops.mu.Lock()
	f := ops.files[lock.KeyOf(h)]
	if f == nil || !f.waitsStreams || f.opens > 0 || ops.streamOpensLeft(h) {
		ops.mu.Unlock()
		return
	}
	f.waitsStreams = false
	dir, name, deleter := f.dir, f.name, f.deleter
	ops.mu.Unlock()
	if _, err := s.fs.RemoveHandle(context.WithoutCancel(ctx), &deleter, dir, name, f.h); err != nil {
		s.log.Debug("smb: delete after the streams closed failed", "file", f.key, "name", name, "err", err)
	}
	ops.mu.Lock()
	if ops.files[f.key] == f && f.opens == 0 {
		delete(ops.files, f.key)
	}
	ops.mu.Unlock()
}
