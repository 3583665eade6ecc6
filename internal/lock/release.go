package lock

import "slices"

// ReleaseOwner drops everything an owner holds and waits for: its locks,
// its queued requests (reported Cancelled) and its share reservations. SMB
// calls it when an open is closed. It returns the Cancelled notices, then
// the waiters of other owners that the release grants.
func (m *Manager) ReleaseOwner(o Owner) []Notice {
	m.mu.Lock()
	defer m.mu.Unlock()
	ow := m.owners[o]
	if ow == nil {
		return nil
	}
	files := make([]*file, 0, len(ow.files))
	for _, r := range ow.files {
		files = append(files, r.f)
	}
	return m.release(files, func(x *owner) bool { return x == ow })
}

// ReleaseHost drops everything of every owner of a host of one protocol:
// NLM calls it for FREE_ALL and when NSM reports the host rebooted, SMB when
// a client is gone for good. Waiters behind the host's locks are granted.
// It returns the Cancelled notices of the host's own waiters, then the
// grants.
func (m *Manager) ReleaseHost(p Proto, name string) []Notice {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.hosts[client{proto: p, name: name}]
	if h == nil {
		return nil
	}
	var files []*file
	for o := h.owners; o != nil; o = o.next {
		for _, r := range o.files {
			if !slices.Contains(files, r.f) {
				files = append(files, r.f)
			}
		}
	}
	return m.release(files, func(x *owner) bool { return x.host == h })
}

// ReleaseFile drops every lock, waiter and share reservation of a file
// (it was removed). It returns the Cancelled notices of the waiters.
func (m *Manager) ReleaseFile(k FileKey) []Notice {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.files[k]
	if f == nil {
		return nil
	}
	return m.release([]*file{f}, func(*owner) bool { return true })
}

// release drops what the owners that gone selects hold in files, then
// settles those files. Files are handled in key order so that the notices
// come out the same for the same state.
func (m *Manager) release(files []*file, gone func(*owner) bool) []Notice {
	slices.SortFunc(files, func(a, b *file) int {
		if a.key.less(b.key) {
			return -1
		}
		if b.key.less(a.key) {
			return 1
		}
		return 0
	})
	var out []Notice
	for _, f := range files {
		out = m.drop(f, gone, out)
	}
	return m.settleAll(files, m.clock(), out)
}

// drop removes from f the locks, waiters and reservations of the owners
// gone selects, reporting each waiter Cancelled.
func (m *Manager) drop(f *file, gone func(*owner) bool, out []Notice) []Notice {
	// Caching first: an open's owner is known while it still has entries.
	out = m.dropCaching(f, gone, out)
	idx := m.idx[:0]
	for i := range f.locks {
		if gone(f.locks[i].owner) {
			idx = append(idx, i)
		}
	}
	for _, i := range idx {
		m.ref(f.locks[i].owner, f, -1)
	}
	f.removeAt(idx)
	m.idx = idx[:0]

	for i := 0; i < len(f.waiters); {
		w := f.waiters[i]
		if !gone(w.owner) {
			i++
			continue
		}
		out = append(out, Notice{Waiter: w.id, Status: Cancelled, Lock: w.lock()})
		m.unqueue(w)
	}

	j := 0
	for _, r := range f.shares {
		if gone(r.owner) {
			m.ref(r.owner, f, -1)
			continue
		}
		f.shares[j] = r
		j++
	}
	clear(f.shares[j:])
	f.shares = f.shares[:j]
	return out
}
