package smb

import (
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
