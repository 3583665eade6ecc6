package lock

// reservation is a share reservation in a file's table.
type reservation struct {
	owner  *owner
	access Access
	share  ShareAccess
	since  int64
}

func (f *file) reservationOf(r *reservation) Reservation {
	return Reservation{File: f.key, Owner: r.owner.Owner, Access: r.access, ShareAccess: r.share, Since: timeOf(r.since)}
}

// sharingConflict is MS-FSA's sharing check (2.1.5.1.2.2) between two
// opens: only opens with data access take part, and then each one's access
// must be allowed by the other's share access. Access and ShareAccess use
// the same bit for read, write and delete, so "a needs a bit that t does not
// share" is a&^t.
func sharingConflict(a Access, s ShareAccess, b Access, t ShareAccess) bool {
	if a == 0 || b == 0 {
		return false
	}
	return a&^Access(t) != 0 || b&^Access(s) != 0
}

// AddShare checks an open's access and share access against the share
// reservations of the file's other owners and, if none conflicts, records
// it (SMB2 CREATE; NLM SHARE). A conflict is Denied with the first
// conflicting reservation (STATUS_SHARING_VIOLATION, NLM4_DENIED), or, for
// an SMB open, with one of no owner when an NFS request in progress does
// what the open denies (intent.go). An owner
// has at most one reservation per file; adding another replaces it.
//
// An open whose access has none of the data bits (it only reads attributes,
// say) conflicts with no one; it is still recorded, for the snapshot.
func (m *Manager) AddShare(k FileKey, o Owner, a Access, s ShareAccess) (Reservation, Status) {
	if !o.valid() || a&^accessMask != 0 || s&^accessMask != 0 {
		return Reservation{}, Invalid
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addShare(k, o, a, s, m.clock())
}

func (m *Manager) addShare(k FileKey, o Owner, a Access, s ShareAccess, since int64) (Reservation, Status) {
	f, ow := m.files[k], m.owners[o]
	mine := -1
	if f != nil {
		for i := range f.shares {
			r := &f.shares[i]
			if r.owner == ow {
				mine = i
				continue
			}
			if sharingConflict(a, s, r.access, r.share) {
				return f.reservationOf(r), Denied
			}
		}
	}
	if o.Proto == SMB && a != 0 && m.unified(k.Share) {
		// Publish the table before looking at NFS requests in progress
		// (intent.go); an open they refuse waits in PrepareOpen, so one
		// found here arrived in between.
		made := f == nil
		if made {
			f = m.fileOf(k)
		}
		if m.ioHolds(k, f, false, func(x intent) bool { return x.bindsOpen(a, s) }) {
			if made {
				m.gcFile(f)
			}
			return Reservation{File: k}, Denied
		}
	}
	if mine >= 0 {
		r := &f.shares[mine]
		r.access, r.share, r.since = a, s, since
		m.touch(f)
		return f.reservationOf(r), Granted
	}
	if ow == nil {
		ow = m.ownerOf(o)
	}
	if f == nil {
		f = m.fileOf(k)
	}
	if !m.admit(ow, f, 1) {
		m.gcOwner(ow)
		m.gcFile(f)
		return Reservation{}, LimitExceeded
	}
	f.shares = append(f.shares, reservation{owner: ow, access: a, share: s, since: since})
	m.ref(ow, f, 1)
	return f.reservationOf(&f.shares[len(f.shares)-1]), Granted
}

// RemoveShare drops the owner's share reservation on the file (the open is
// closed) and reports whether there was one.
func (m *Manager) RemoveShare(k FileKey, o Owner) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ow := m.files[k], m.owners[o]
	if f == nil || ow == nil {
		return false
	}
	for i := range f.shares {
		if f.shares[i].owner == ow {
			copy(f.shares[i:], f.shares[i+1:])
			f.shares[len(f.shares)-1] = reservation{}
			f.shares = f.shares[:len(f.shares)-1]
			m.ref(ow, f, -1)
			m.gcFile(f)
			return true
		}
	}
	return false
}

// ShareDenies reports whether an SMB open's share reservation with data
// access denies access a to others, and returns the first that does. NFS,
// which has no opens, asks it before READ (AccessRead), WRITE and SETATTR
// of the size (AccessWrite) and REMOVE or RENAME (AccessDelete): an SMB
// open that denies read or write stops NFS I/O while it is open. NLM share
// reservations do not count: NFS I/O cannot tell the client that made one
// from another, and must not refuse that client its own I/O. On a share
// whose Locking is Unix, none does.
func (m *Manager) ShareDenies(k FileKey, a Access) (Reservation, bool) {
	if a == 0 || !m.unified(k.Share) {
		return Reservation{}, false
	}
	return m.firstReservation(k, func(r *reservation) bool {
		return r.access != 0 && r.owner.Proto == SMB && a&^Access(r.share) != 0
	})
}

// ShareConflicts reports whether an open with access a and share access
// s would conflict with a reservation on the file, and returns the first
// that would, without recording anything. SMB asks it for the opens a
// request makes for a moment inside the server, such as the open of a
// rename's target directory.
func (m *Manager) ShareConflicts(k FileKey, a Access, s ShareAccess) (Reservation, bool) {
	return m.firstReservation(k, func(r *reservation) bool {
		return sharingConflict(a, s, r.access, r.share)
	})
}

// firstReservation returns the first of the file's reservations that
// match selects, without taking the mutex for a file with no state.
func (m *Manager) firstReservation(k FileKey, match func(*reservation) bool) (Reservation, bool) {
	if m.Idle(k) {
		return Reservation{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.files[k]
	if f == nil {
		return Reservation{}, false
	}
	for i := range f.shares {
		if r := &f.shares[i]; match(r) {
			return f.reservationOf(r), true
		}
	}
	return Reservation{}, false
}

// OpenFiles appends to buf the files of a share that an SMB open holds a
// share reservation on, of any access (a directory rename over NFS asks
// which of them lie below the directory: MS-FSA refuses renaming a
// directory with open files below it). It returns buf at once, without
// the mutex, when no file has state.
func (m *Manager) OpenFiles(share uint32, buf []FileKey) []FileKey {
	if m.Empty() {
		return buf
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, f := range m.files {
		if k.Share != share {
			continue
		}
		for i := range f.shares {
			if f.shares[i].owner.Proto == SMB {
				buf = append(buf, k)
				break
			}
		}
	}
	return buf
}

// Opened reports whether an SMB open holds a share reservation on the
// file, of any access, and returns one: a live open before one held
// before a restart and not yet reclaimed (Owner.Prior).
func (m *Manager) Opened(k FileKey) (Reservation, bool) {
	if m.Idle(k) {
		return Reservation{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.files[k]
	if f == nil {
		return Reservation{}, false
	}
	found := -1
	for i := range f.shares {
		r := &f.shares[i]
		if r.owner.Proto != SMB {
			continue
		}
		if !r.owner.Prior {
			return f.reservationOf(r), true
		}
		if found < 0 {
			found = i
		}
	}
	if found < 0 {
		return Reservation{}, false
	}
	return f.reservationOf(&f.shares[found]), true
}
