package fs

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/tandemfs/tandem/internal/meta"
)

// Change events. A front end that reports changes to its clients (SMB's
// CHANGE_NOTIFY) learns of them here, whichever protocol made them: every
// operation that changes the namespace or a file's attributes or data
// reports one Event to the watchers registered with Watch, after its
// transaction committed and in the caller's goroutine, so that a watcher
// sees the changes of one caller in the order they were made. Nothing is
// done for an operation when nobody watches.

// Op is what happened.
type Op uint8

// Operations.
const (
	OpCreate Op = iota + 1 // an entry appeared: Create, Mkdir, Symlink, Mknod, Link
	OpRemove               // an entry went: Remove, Rmdir, RemoveHandle
	OpRename               // an entry moved from Dir/Name to ToDir/ToName
	OpModify               // a file's attributes or data changed (Changed says which)
)

// Changed says which attributes an OpModify changed.
type Changed uint16

// Changed bits.
const (
	ChangedMode Changed = 1 << iota
	ChangedOwner
	ChangedSize
	ChangedMtime
	ChangedAtime
	ChangedBtime
	ChangedDOSAttrs
)

// Event is one change. Dir and Name say where the entry is. A change made
// through a handle (SetAttr, Write: OpModify) has no Name, and Dir is the
// directory the file was last created, linked or renamed into, zero when
// that is unknown (its link there went while others stay) and for a
// share's root: the file may have several names, and a front end that
// watches looks up the one its clients know (EntryName), or finds it from
// its own opens, only when a watch covers Dir.
type Event struct {
	Op      Op
	Share   uint32
	Dir     uint64 // the directory holding the entry
	Name    string // none for OpModify
	File    uint64 // the file the entry names
	Gen     uint64
	IsDir   bool
	Changed Changed // OpModify
	ToDir   uint64  // OpRename: the entry's new directory and name
	ToName  string
}

// Handle is the handle of the file the event is about.
func (e *Event) Handle() Handle { return Handle{Share: e.Share, ID: e.File, Gen: e.Gen} }

// watchers is the list of registered watchers, replaced whole on change.
type watchers struct {
	mu   sync.Mutex
	list atomic.Pointer[[]*watcher]
}

type watcher struct{ fn func(*Event) }

// Watch registers fn to be called with every change until the returned
// stop function is called. fn runs in the goroutine of the operation that
// made the change, after it committed; it must not block, and must not
// call back into the operations that report changes.
func (f *FS) Watch(fn func(*Event)) (stop func()) {
	w := &watcher{fn: fn}
	ws := &f.watch
	ws.mu.Lock()
	var list []*watcher
	if old := ws.list.Load(); old != nil {
		list = append(list, *old...)
	}
	list = append(list, w)
	ws.list.Store(&list)
	ws.mu.Unlock()
	return func() {
		ws.mu.Lock()
		defer ws.mu.Unlock()
		old := ws.list.Load()
		if old == nil {
			return
		}
		var list []*watcher
		for _, x := range *old {
			if x != w {
				list = append(list, x)
			}
		}
		if len(list) == 0 {
			ws.list.Store(nil)
			return
		}
		ws.list.Store(&list)
	}
}

// watched reports whether anybody watches, so that operations build
// events only then.
func (f *FS) watched() bool { return f.watch.list.Load() != nil }

// emit hands e to the watchers.
func (f *FS) emit(e *Event) {
	list := f.watch.list.Load()
	if list == nil {
		return
	}
	for _, w := range *list {
		w.fn(e)
	}
}

// emitEntry reports a change of the entry name of directory dir, which
// names ino.
func (f *FS) emitEntry(op Op, dir Handle, name string, ino *meta.Inode) {
	if !f.watched() {
		return
	}
	if op == OpCreate {
		f.names.put(ino.ID, dir.ID, name)
	}
	f.emit(&Event{Op: op, Share: dir.Share, Dir: dir.ID, Name: name, File: ino.ID, Gen: ino.Gen, IsDir: ino.Type == meta.TypeDir})
}

// parentOf is the directory an OpModify of ino names: none for a share's
// root, which no directory holds.
func parentOf(ino *meta.Inode) uint64 {
	if ino.Parent == ino.ID {
		return 0
	}
	return ino.Parent
}

// emitModify reports the changes between two states of one inode.
func (f *FS) emitModify(h Handle, pre, post *meta.Inode) {
	if !f.watched() {
		return
	}
	var c Changed
	if pre.Mode != post.Mode {
		c |= ChangedMode
	}
	if pre.UID != post.UID || pre.GID != post.GID {
		c |= ChangedOwner
	}
	if pre.Size != post.Size {
		c |= ChangedSize
	}
	if pre.Mtime != post.Mtime {
		c |= ChangedMtime
	}
	if pre.Atime != post.Atime {
		c |= ChangedAtime
	}
	if pre.Btime != post.Btime {
		c |= ChangedBtime
	}
	if pre.DOSAttrs != post.DOSAttrs {
		c |= ChangedDOSAttrs
	}
	if c == 0 {
		return
	}
	f.emit(&Event{Op: OpModify, Share: h.Share, Dir: parentOf(post), File: h.ID, Gen: h.Gen, IsDir: post.Type == meta.TypeDir, Changed: c})
}

// emitWrite reports a write that changed the data of ino (h) and perhaps
// its size.
func (f *FS) emitWrite(h Handle, ino *meta.Inode, wcc *Wcc) {
	if !f.watched() {
		return
	}
	c := ChangedMtime
	if wcc.Pre.Size != wcc.Post.Size {
		c |= ChangedSize
	}
	f.emit(&Event{Op: OpModify, Share: h.Share, Dir: parentOf(ino), File: h.ID, Gen: h.Gen, Changed: c})
}

// emitRename reports a rename of the file ino.
func (f *FS) emitRename(from Handle, fromName string, to Handle, toName string, ino *meta.Inode) {
	if !f.watched() || ino.ID == 0 {
		return
	}
	f.names.put(ino.ID, to.ID, toName)
	f.emit(&Event{Op: OpRename, Share: from.Share, Dir: from.ID, Name: fromName, File: ino.ID, Gen: ino.Gen,
		IsDir: ino.Type == meta.TypeDir, ToDir: to.ID, ToName: toName})
}

// Ancestors reports the directories above directory dir of h's share,
// nearest first: dir itself, its parent, and so on up to the share's
// root. A watcher uses it to decide whether a change happened below a
// directory it watches.
func (f *FS) Ancestors(ctx context.Context, share uint32, dir uint64) ([]uint64, error) {
	s, err := f.shareOf(Handle{Share: share, Gen: uint64(share) << 32})
	if err != nil {
		return nil, err
	}
	var ids []uint64
	err = f.meta.View(ctx, func(tx meta.Tx) error {
		ids = ids[:0]
		id := dir
		for range maxDepth {
			ids = append(ids, id)
			if id == s.root.ID {
				return nil
			}
			ino, err := tx.Inode(id)
			if errors.Is(err, meta.ErrNotFound) {
				return ErrStale
			}
			if err != nil {
				return err
			}
			if ino.Type != meta.TypeDir || ino.Parent == id {
				return nil
			}
			id = ino.Parent
		}
		return ErrServerFault
	})
	if err != nil {
		return nil, f.result("ancestors", err)
	}
	return ids, nil
}
