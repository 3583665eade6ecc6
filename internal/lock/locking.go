package lock

import (
	"fmt"
	"sync/atomic"
)

// Locking is how a share's locks and share modes bind the other protocol.
//
// Unified, the default, is Windows's rules for everyone: SMB byte-range
// locks are mandatory for NFS I/O too, SMB share modes bind NFS requests
// as they would another open (and a directory with SMB opens below it is
// not renamed), and NLM locks bind SMB I/O, while staying advisory to NFS
// I/O as POSIX says.
//
// Unix makes locks and share modes advisory across the protocols, as
// Samba does with its defaults (POSIX locking on, kernel share modes off)
// and NFS and local access do beside it: each protocol's locks and share
// modes bind its own clients' I/O as before (SMB locks are mandatory among
// SMB opens, share modes among opens), and locks still conflict with
// locks whatever protocol asks, so that programs that lock exclude each
// other; but no SMB share mode or lock refuses an NFS request, and no NLM
// lock refuses SMB I/O. Caching grants are kept coherent in both: NFS
// requests break leases and oplocks, and none is granted over an NFS
// request in progress, since that is about data, not policy.
type Locking uint8

// Lockings.
const (
	Unified Locking = iota
	Unix
)

func (l Locking) String() string {
	switch l {
	case Unified:
		return "unified"
	case Unix:
		return "unix"
	}
	return fmt.Sprintf("locking(%d)", uint8(l))
}

// ParseLocking reads a Locking by its name ("unified", "unix").
func ParseLocking(s string) (Locking, error) {
	switch s {
	case "unified":
		return Unified, nil
	case "unix":
		return Unix, nil
	}
	return 0, fmt.Errorf("locking must be unified or unix, not %q", s)
}

// lockings is the Locking of each share that is not Unified, replaced
// whole on change and read without the mutex.
type lockings struct {
	m atomic.Pointer[map[uint32]Locking]
}

// SetLocking sets how the locks and share modes of a share's files bind
// the other protocol. Set it before the share is served: what is held
// already is judged by the new rule from then on.
func (m *Manager) SetLocking(share uint32, l Locking) {
	m.mu.Lock()
	defer m.mu.Unlock()
	next := map[uint32]Locking{}
	if old := m.lockings.m.Load(); old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	if l == Unified {
		delete(next, share)
	} else {
		next[share] = l
	}
	m.lockings.m.Store(&next)
}

// Locking reports how a share's locks and share modes bind the other
// protocol.
func (m *Manager) Locking(share uint32) Locking {
	if p := m.lockings.m.Load(); p != nil {
		return (*p)[share]
	}
	return Unified
}

// unified reports whether a share binds each protocol by the other's
// locks and share modes.
func (m *Manager) unified(share uint32) bool { return m.Locking(share) == Unified }
