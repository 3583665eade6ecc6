package smb

import (
	"bytes"
	"encoding/binary"
	"strings"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
)

// A rename is refused, before anything moves, when others hold opens it
// would disturb (MS-FSA 2.1.5.14.11):
//
//   - A directory with an open file anywhere below it stays put
//     (STATUS_ACCESS_DENIED): those opens know their files by path.
//   - The rename opens the target's directory for a moment, to add a
//     name to it, with FILE_ADD_FILE access and read and write sharing, as
//     Windows does. An open of that directory which does not share write,
//     or which has DELETE access (not shared by the rename's open), makes
//     that open fail with STATUS_SHARING_VIOLATION, and the rename with it.
const (
	renameDirAccess = lock.AccessWrite
	renameDirShare  = lock.ShareRead | lock.ShareWrite
)

// renameBlocked reports why others' opens refuse to let o's file move
// into the directory dir, or StatusSuccess.
func (s *Server) renameBlocked(o *open, path string, dir fs.Handle) Status {
	if o.isDir && s.openBelow(o.h.Share, path) {
		return StatusAccessDenied
	}
	if _, conflict := s.locks().ShareConflicts(lock.KeyOf(dir), renameDirAccess, renameDirShare); conflict {
		return StatusSharingViolation
	}
	return StatusSuccess
}

// openBelow reports whether a file under the directory at path (from the
// root of share) has an open.
func (s *Server) openBelow(share uint32, path string) bool {
	if path == "" {
		return false // the root's open files do not stop anything
	}
	s.ops.mu.Lock()
	defer s.ops.mu.Unlock()
	for _, f := range s.ops.files {
		p := f.path
		if f.opens > 0 && f.h.Share == share && len(p) > len(path) && p[len(path)] == '\\' &&
			strings.EqualFold(p[:len(path)], path) {
			return true
		}
	}
	return false
}

// Before a file is renamed, the handle caching of its other holders
// breaks (MS-FSA 2.1.4.12: a batch oplock or the H of another lease key),
// since a handle a client keeps open after its application closed it
// holds the old name. While such a break waits for its acknowledgment the
// rename waits too, asynchronously as a CREATE waits for breaks (lease.go),
// then starts again from the beginning.

// isRename reports whether the message m is a SET_INFO that renames.
func isRename(m []byte) bool {
	if len(m) < HeaderSize+4 || Command(binary.LittleEndian.Uint16(m[12:])) != CmdSetInfo {
		return false
	}
	b := m[HeaderSize:]
	return b[2] == infoFile && (b[3] == classFileRename || b[3] == classFileRenameEx)
}

// renameWaits starts the breaks a rename through o of SET_INFO class
// with input in causes; if one must be acknowledged first, it makes the
// request wait and reports true: the request is then answered later.
func (s *Server) renameWaits(r *Request, o *open, class byte, in []byte) bool {
	if class != classFileRename && class != classFileRenameEx || o.stream != "" ||
		len(in) < setInfoSize(class) || !o.may(accessDelete) {
		return false // refused without a break
	}
	bw := s.renameBreaks(o)
	if bw == nil {
		return false
	}
	in = bytes.Clone(in) // the frame's buffer is not kept
	p := r.GoAsync()
	go func() {
		for bw != nil {
			if !s.waitBreak(p.Context(), bw) {
				p.Complete(func(w *Response) { w.Error(StatusCancelled) })
				return
			}
			if r.Tree.ops.get(o.id) != o {
				p.Complete(func(w *Response) { w.Error(StatusFileClosed) })
				return
			}
			bw = s.renameBreaks(o)
		}
		st := setFile(r, o, class, in)
		p.Complete(func(w *Response) {
			if st != StatusSuccess {
				w.Error(st)
				return
			}
			binary.LittleEndian.PutUint16(w.Grow(2), 2)
		})
	}()
	return true
}

// renameBreaks breaks the handle caching of the holders of o's file other
// than o's own and returns the break to wait for, or nil when none must
// be acknowledged.
func (s *Server) renameBreaks(o *open) *breakWait {
	key := lock.KeyOf(o.h)
	wakes := &s.ops.caching
	wk := wakes.get(key) // before asking: a break that ends in between wakes it
	d := s.locks().Contend(key, o.cache.holder, lock.ContendRemove, s.opt.Now().Add(s.breakTimeout()))
	s.route(d.Notices)
	if !d.Wait {
		wakes.put(key, wk)
		return nil
	}
	return &breakWait{key: key, wake: wk, deadline: d.Deadline}
}
