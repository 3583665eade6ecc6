package mount

import (
	"cmp"
	"slices"
	"sync"
)

// maxMounts bounds the mount list, which any allowed client can grow by
// mounting from many addresses. Past it mounts still succeed but are not
// listed; the list is advisory.
const maxMounts = 4096

// Mount is one entry of the mount list.
type Mount struct {
	Host string // the client's address
	Path string // the export path, "/" + share name
}

type mountList struct {
	mu sync.Mutex
	m  map[Mount]struct{}
}

func (l *mountList) add(host, path string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[Mount]struct{})
	}
	if len(l.m) < maxMounts {
		l.m[Mount{host, path}] = struct{}{}
	}
}

func (l *mountList) remove(host, path string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.m, Mount{host, path})
}

func (l *mountList) removeHost(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for m := range l.m {
		if m.Host == host {
			delete(l.m, m)
		}
	}
}

// list returns the mounts sorted by host, then path.
func (l *mountList) list() []Mount {
	l.mu.Lock()
	ms := make([]Mount, 0, len(l.m))
	for m := range l.m {
		ms = append(ms, m)
	}
	l.mu.Unlock()
	slices.SortFunc(ms, func(a, b Mount) int {
		return cmp.Or(cmp.Compare(a.Host, b.Host), cmp.Compare(a.Path, b.Path))
	})
	return ms
}

// Mounts returns the mount list (what DUMP reports), sorted by host and
// path, for administration.
func (h *Handler) Mounts() []Mount { return h.mounts.list() }
