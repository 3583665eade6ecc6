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

// entryChange is a change of the entry name of directory dir. A change
// of a file's attributes or data that SMB has no open of comes with its
// directory only (fs.Event); its name is looked up once a watch covers
// the directory.
type entryChange struct {
	dir    uint64
	name   string
	action uint32
	bits   uint32
	lookup bool // name is to be looked up: the entry of dir naming the event's file
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
			ok := c.dir == wt.dir.ID
			var rel string
			if !ok && wt.tree {
				rel, ok = paths.below(wt.dir.ID, c.dir)
			}
			if ok && c.lookup {
				ok = s.lookupName(ev, c)
			}
			if !ok {
				continue
			}
			name := c.name
			if rel != "" {
				name = rel + `\` + c.name
			}
			got = append(got, notifyChange{action: c.action, name: name})
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
		cs = append(cs, entryChange{dir: ev.Dir, name: ev.Name, action: actionAdded, bits: nameBit})
	case fs.OpRemove:
		cs = append(cs, entryChange{dir: ev.Dir, name: ev.Name, action: actionRemoved, bits: nameBit})
	case fs.OpRename:
		if ev.Dir == ev.ToDir {
			cs = append(cs, entryChange{dir: ev.Dir, name: ev.Name, action: actionOldName, bits: nameBit},
				entryChange{dir: ev.ToDir, name: ev.ToName, action: actionNewName, bits: nameBit})
		} else {
			cs = append(cs, entryChange{dir: ev.Dir, name: ev.Name, action: actionRemoved, bits: nameBit},
				entryChange{dir: ev.ToDir, name: ev.ToName, action: actionAdded, bits: nameBit})
		}
		if !ev.IsDir {
			// Windows also reports a renamed file as modified in its
			// attributes and creation time under its new name.
			cs = append(cs, entryChange{dir: ev.ToDir, name: ev.ToName, action: actionModified, bits: notifyAttributes | notifyCreation})
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
		if bits == 0 {
			break
		}
		if dir, name, ok := s.openedAs(ev.Handle()); ok {
			cs = append(cs, entryChange{dir: dir, name: name, action: actionModified, bits: bits})
		} else if ev.Dir != 0 {
			// Changed through a handle SMB has no open of (NFS): named by
			// the entry of the directory the file system places it in.
			cs = append(cs, entryChange{dir: ev.Dir, action: actionModified, bits: bits, lookup: true})
		}
	}
	return cs
}

// lookupName finds the name of the entry of c.dir that names the event's
// file, once per change; false when there is none (it went meanwhile).
func (s *Server) lookupName(ev *fs.Event, c *entryChange) bool {
	if c.name == "" {
		name, err := s.fs.EntryName(context.Background(), ev.Share, c.dir, ev.File)
		if err != nil {
			c.bits = 0 // matches no watch from now on
			return false
		}
		c.name, c.lookup = name, false
	}
	return true
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
