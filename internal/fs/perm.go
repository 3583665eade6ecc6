package fs

import "github.com/tandemfs/tandem/internal/meta"

// Mode bits beyond the permission triplets.
const (
	modeSetuid = 0o4000
	modeSetgid = 0o2000
	modeSticky = 0o1000
	modeMask   = 0o7777
)

// What a permission check asks for, as in a class's rwx triplet.
const (
	mayRead  = 4
	mayWrite = 2
	mayExec  = 1
)

// cred is a caller after the share's identity mapping: the identity every
// permission check uses.
type cred struct {
	uid, gid uint32
	groups   []uint32
	judged   bool // Caller.Judged: the permission checks pass
}

// begin starts an operation on h: the share (ErrStale if h names none),
// then the caller's admission (ErrAccess) and mapped identity. A nil caller
// is anonymous.
func (f *FS) begin(h Handle, c *Caller) (*share, cred, error) {
	s, err := f.shareOf(h)
	if err != nil {
		return nil, cred{}, err
	}
	if !s.admits(c) {
		return nil, cred{}, ErrAccess
	}
	return s, s.mapCaller(c), nil
}

// mapCaller applies the share's squash rules. Under root_squash a
// supplementary group 0 becomes the anonymous group too, so root's group
// gives no access either; the caller's slice is copied only then.
func (s *share) mapCaller(c *Caller) cred {
	if c == nil {
		return cred{uid: s.cfg.AnonUID, gid: s.cfg.AnonGID}
	}
	if c.Anonymous || s.cfg.Squash == AllSquash {
		return cred{uid: s.cfg.AnonUID, gid: s.cfg.AnonGID, judged: c.Judged}
	}
	cr := cred{uid: c.UID, gid: c.GID, groups: c.Groups, judged: c.Judged}
	if s.cfg.Squash == RootSquash {
		if cr.uid == 0 {
			cr.uid = s.cfg.AnonUID
		}
		if cr.gid == 0 {
			cr.gid = s.cfg.AnonGID
		}
		for i, g := range cr.groups {
			if g == 0 {
				gs := make([]uint32, len(cr.groups))
				copy(gs, cr.groups)
				for j := i; j < len(gs); j++ {
					if gs[j] == 0 {
						gs[j] = s.cfg.AnonGID
					}
				}
				cr.groups = gs
				break
			}
		}
	}
	return cr
}

func (cr *cred) root() bool { return cr.uid == 0 }

// inGroup reports whether gid is the caller's primary or a supplementary
// group.
func (cr *cred) inGroup(gid uint32) bool {
	if cr.gid == gid {
		return true
	}
	for _, g := range cr.groups {
		if g == gid {
			return true
		}
	}
	return false
}

// owns reports whether the caller owns ino or is root: who may chmod,
// set explicit times, and remove from sticky directories. A judged caller
// counts as the owner: the protocol granted it what ownership would.
func (cr *cred) owns(ino *meta.Inode) bool { return cr.root() || cr.uid == ino.UID || cr.judged }

// may reports whether the mode bits of ino grant want (mayRead, mayWrite,
// mayExec combined) to the caller. One class applies: owner, else group,
// else other. Root is granted read and write, and execute unless the file
// is not a directory and has no x bit at all. A judged caller is granted
// everything.
func (cr *cred) may(ino *meta.Inode, want uint32) bool {
	if cr.judged {
		return true
	}
	if cr.root() {
		return want&mayExec == 0 || ino.Type == meta.TypeDir || ino.Mode&0o111 != 0
	}
	var bits uint32
	switch {
	case cr.uid == ino.UID:
		bits = ino.Mode >> 6
	case cr.inGroup(ino.GID):
		bits = ino.Mode >> 3
	default:
		bits = ino.Mode
	}
	return bits&want == want
}

// mayIO is the check of READ, WRITE and SETATTR(size) on a regular file:
// the mode bits, or being the owner (see the package documentation), and
// for reads execute permission too, since a client running a program
// reads a file it may only execute.
func (cr *cred) mayIO(ino *meta.Inode, want uint32) bool {
	if cr.uid == ino.UID || cr.may(ino, want) {
		return true
	}
	return want == mayRead && cr.may(ino, mayExec)
}

// mayUnlink applies the sticky rule of dir to removing or replacing ino:
// only ino's owner, dir's owner or root may.
func (cr *cred) mayUnlink(dir, ino *meta.Inode) bool {
	return dir.Mode&modeSticky == 0 || cr.owns(ino) || cr.uid == dir.UID
}

// access computes the ACCESS bits of ino as knfsd does: directories grant
// READ (r), LOOKUP (x), MODIFY, EXTEND and DELETE (w and x); other files
// READ (r), MODIFY and EXTEND (w) and EXECUTE (x). A read-only share grants
// no change.
func (cr *cred) access(ino *meta.Inode, want uint32, readOnly bool) uint32 {
	var got uint32
	if ino.Type == meta.TypeDir {
		if cr.may(ino, mayRead) {
			got |= AccessRead
		}
		if cr.may(ino, mayExec) {
			got |= AccessLookup
		}
		if !readOnly && cr.may(ino, mayWrite|mayExec) {
			got |= AccessModify | AccessExtend | AccessDelete
		}
	} else {
		if cr.may(ino, mayRead) {
			got |= AccessRead
		}
		if !readOnly && cr.may(ino, mayWrite) {
			got |= AccessModify | AccessExtend
		}
		if cr.may(ino, mayExec) {
			got |= AccessExecute
		}
	}
	return got & want
}

// killPriv clears setuid, and setgid where it means set-group-id on
// execution (group x set; without it the bit marks mandatory locking),
// as a write or truncation by anyone but root does.
func killPriv(ino *meta.Inode) {
	ino.Mode &^= modeSetuid
	if ino.Mode&0o010 != 0 {
		ino.Mode &^= modeSetgid
	}
}
