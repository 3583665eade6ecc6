package smb

import (
	"context"
	"strings"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
)

// How the file system's change events become CHANGE_NOTIFY entries: each
// event is one or two changes of directory entries (an entry, its
// directory, an action and the filter bits it answers to), and each
// watch of the share whose directory holds the entry, or with WATCH_TREE
// is above it, and whose filter has one of the bits, gets the entry named
// by its path from the watched directory. The changes one event makes
// for one watch are delivered together, so that a rename's old and new
// names reach the same request.

// entryChange is a change of the entry name of directory dir.
type entryChange struct {
	dir    uint64
	name   string
	action uint32
	bits   uint32
}

// fileChanged receives the file system's events (fs.Watch).
func (s *Server) fileChanged(ev *fs.Event) {
	hub := &s.ops.notify
	if hub.count.Load() == 0 {
		return
	}
	if ev.Op == fs.OpRemove && ev.IsDir {
		// A watched directory removed by another protocol: its waiting
		// requests end as they do when SMB deletes it.
		s.notifyDeletePending(lock.FileKey{Share: ev.Share, ID: ev.File})
	}
	var buf [3]entryChange
	cs := s.entryChanges(ev, buf[:0])
	if len(cs) == 0 {
		return
	}
	hub.mu.Lock()
	var ws []*watch
	for wt := range hub.byShare[ev.Share] {
		ws = append(ws, wt)
	}
	hub.mu.Unlock()
	if len(ws) == 0 {
		return
	}
	// Where each changed directory is, found once per event and only if
	// a watch of a tree needs it.
	paths := pathFinder{s: s, share: ev.Share}
	type delivery struct {
		wt      *watch
		changes []notifyChange
	}
	var out []delivery
	for _, wt := range ws {
		var got []notifyChange
		for i := range cs {
			c := &cs[i]
			if c.bits&wt.filter == 0 {
				continue
			}
			name, ok := c.name, c.dir == wt.dir.ID
			if !ok && wt.tree {
				var rel string
				if rel, ok = paths.below(wt.dir.ID, c.dir); ok {
					name = rel + `\` + c.name
				}
			}
			if ok {
				got = append(got, notifyChange{action: c.action, name: name})
			}
		}
		if len(got) > 0 {
			out = append(out, delivery{wt, got})
		}
	}
	for _, d := range out {
		s.deliverNotify(d.wt, d.changes)
	}
}

// deliverNotify gives changes to the first waiting request of wt, or
// keeps them for the next one.
func (s *Server) deliverNotify(wt *watch, changes []notifyChange) {
	hub := &s.ops.notify
	hub.mu.Lock()
	if hub.byOpen[wt.o] != wt {
		hub.mu.Unlock()
		return // the open was closed meanwhile
	}
	if len(wt.waiting) > 0 {
		p := wt.waiting[0]
		outLen := wt.outLen[p]
		wt.take(p)
		hub.mu.Unlock()
		n := 0
		for i := range changes {
			n += changes[i].size()
		}
		// Completing sends; the operation that made the change must not
		// wait for the watcher's connection.
		go p.Complete(notifyResponse(changes, n > int(outLen)))
		return
	}
	if !wt.overflow {
		for i := range changes {
			wt.size += changes[i].size()
		}
		wt.queue = append(wt.queue, changes...)
		if wt.size > int(wt.max) {
			wt.queue, wt.size, wt.overflow = nil, 0, true
		}
	}
	hub.mu.Unlock()
}

// entryChanges appends the entry changes an event makes.
func (s *Server) entryChanges(ev *fs.Event, cs []entryChange) []entryChange {
	nameBit := uint32(notifyFileName)
	if ev.IsDir {
		nameBit = notifyDirName
	}
	switch ev.Op {
	case fs.OpCreate:
		cs = append(cs, entryChange{ev.Dir, ev.Name, actionAdded, nameBit})
	case fs.OpRemove:
		cs = append(cs, entryChange{ev.Dir, ev.Name, actionRemoved, nameBit})
	case fs.OpRename:
		if ev.Dir == ev.ToDir {
			cs = append(cs, entryChange{ev.Dir, ev.Name, actionOldName, nameBit},
				entryChange{ev.ToDir, ev.ToName, actionNewName, nameBit})
		} else {
			cs = append(cs, entryChange{ev.Dir, ev.Name, actionRemoved, nameBit},
				entryChange{ev.ToDir, ev.ToName, actionAdded, nameBit})
		}
		if !ev.IsDir {
			// Windows also reports a renamed file as modified in its
			// attributes and creation time under its new name.
			cs = append(cs, entryChange{ev.ToDir, ev.ToName, actionModified, notifyAttributes | notifyCreation})
		}
	case fs.OpModify:
		var bits uint32
		if ev.Changed&(fs.ChangedDOSAttrs|fs.ChangedMode) != 0 {
			bits |= notifyAttributes
		}
		if ev.Changed&(fs.ChangedMode|fs.ChangedOwner) != 0 {
			bits |= notifySecurity
		}
		if ev.Changed&fs.ChangedSize != 0 {
			bits |= notifySize
		}
		if ev.Changed&fs.ChangedMtime != 0 {
			bits |= notifyLastWrite
		}
		if ev.Changed&fs.ChangedAtime != 0 {
			bits |= notifyLastAccess
		}
		if ev.Changed&fs.ChangedBtime != 0 {
			bits |= notifyCreation
		}
		dir, name, ok := s.openedAs(ev.Handle())
		if bits != 0 && ok {
			cs = append(cs, entryChange{dir, name, actionModified, bits})
		}
	}
	return cs
}

// openedAs is where SMB knows the file h: the directory and name it was
// opened by, if it is open.
func (s *Server) openedAs(h fs.Handle) (uint64, string, bool) {
	s.ops.mu.Lock()
	defer s.ops.mu.Unlock()
	f := s.ops.files[lock.KeyOf(h)]
	if f == nil || f.opens == 0 || f.name == "" {
		return 0, "", false
	}
	return f.dir.ID, f.name, true
}

// pathFinder finds the paths of changed directories below watched ones,
// remembering what it read for the rest of one event.
type pathFinder struct {
	s     *Server
	share uint32
	dir   uint64
	ids   []uint64 // dir and its ancestors, nearest first; nil until read
	names []string // names of ids[i] in ids[i+1], "" until read
	err   bool
}

// below reports the path of directory dir relative to directory top, if
// dir is below top.
func (p *pathFinder) below(top, dir uint64) (string, bool) {
	if p.ids == nil || p.dir != dir {
		if p.err && p.dir == dir {
			return "", false
		}
		ctx := context.Background()
		ids, err := p.s.fs.Ancestors(ctx, p.share, dir)
		p.dir, p.ids, p.err = dir, ids, err != nil
		p.names = make([]string, len(ids))
		if err != nil {
			return "", false
		}
	}
	k := -1
	for i, id := range p.ids {
		if id == top {
			k = i
			break
		}
	}
	if k <= 0 {
		return "", false
	}
	parts := make([]string, 0, k)
	for i := k - 1; i >= 0; i-- {
		if p.names[i] == "" {
			name, err := p.s.fs.EntryName(context.Background(), p.share, p.ids[i+1], p.ids[i])
			if err != nil {
				return "", false
			}
			p.names[i] = name
		}
		parts = append(parts, p.names[i])
	}
	return strings.Join(parts, `\`), true
}
