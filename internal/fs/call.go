package fs

import (
	"sync"

	"github.com/tandemfs/tandem/internal/meta"
)

// ioCall is the state of a GETATTR, LOOKUP, ACCESS, READ or WRITE while the store
// runs its transaction functions. Those functions are method values bound
// once, when the pool makes the call, so that the most frequent requests
// allocate neither closures nor the variables closures would capture.
type ioCall struct {
	h   Handle
	s   *share
	cr  cred
	now int64

	end  uint64 // Write: where the data ends
	name string // Lookup: the name
	ino  meta.Inode
	dir  Attr // Lookup: the directory's attributes
	wcc  Wcc

	dirIno meta.Inode // Lookup: the directory, once searched

	load, lookup, touchAtime, extend func(meta.Tx) error
}

var ioCalls = sync.Pool{New: func() any {
	c := new(ioCall)
	c.load = c.loadFn
	c.lookup = c.lookupFn
	c.touchAtime = c.touchAtimeFn
	c.extend = c.extendFn
	return c
}}

func newCall(h Handle, s *share, cr cred) *ioCall {
	c := ioCalls.Get().(*ioCall)
	c.h, c.s, c.cr = h, s, cr
	return c
}

// free returns c to the pool, dropping what it refers to.
func (c *ioCall) free() {
	c.s, c.cr, c.name, c.ino, c.dir, c.dirIno, c.wcc = nil, cred{}, "", meta.Inode{}, Attr{}, meta.Inode{}, Wcc{}
	ioCalls.Put(c)
}

func (c *ioCall) loadFn(tx meta.Tx) error {
	var err error
	c.ino, err = inodeOf(tx, c.h)
	return err
}

func (c *ioCall) lookupFn(tx meta.Tx) error {
	d, wcc, err := searchDir(tx, &c.cr, c.h)
	c.dir = wcc.Post
	if err != nil {
		return err
	}
	c.dirIno = d
	switch {
	case c.name == "." || (c.name == ".." && d.ID == c.s.root.ID):
		c.ino = d
	case c.name == "..":
		c.ino, err = inodeByID(tx, d.Parent)
	default:
		c.ino, err = lookupEntry(tx, &d, c.name)
	}
	return err
}

// checkRead is READ's check of the loaded inode.
func (c *ioCall) checkRead() error {
	if err := regularFile(&c.ino); err != nil {
		return err
	}
	if !c.cr.mayIO(&c.ino, mayRead) {
		return ErrAccess
	}
	return nil
}

func (c *ioCall) touchAtimeFn(tx meta.Tx) error {
	if err := c.loadFn(tx); err != nil {
		return err
	}
	c.ino.Atime = c.now
	return tx.PutInode(&c.ino)
}

// checkWrite is WRITE's check of the loaded inode; it sets the wcc data.
func (c *ioCall) checkWrite() error {
	c.wcc = wccOf(&c.ino)
	if err := regularFile(&c.ino); err != nil {
		return err
	}
	if !c.cr.mayIO(&c.ino, mayWrite) {
		return ErrAccess
	}
	return nil
}

// extendFn records a write in the inode: the size grows to cover it (read,
// changed and written in one transaction, so concurrent writers never
// lose each other's extension), mtime and ctime move, and a write by
// anyone but root clears setuid and setgid.
func (c *ioCall) extendFn(tx meta.Tx) error {
	if err := c.loadFn(tx); err != nil {
		return err
	}
	c.wcc = wccOf(&c.ino)
	c.ino.Size = max(c.ino.Size, c.end)
	c.ino.Mtime, c.ino.Ctime = c.now, c.now
	if !c.cr.root() {
		killPriv(&c.ino)
	}
	if err := tx.PutInode(&c.ino); err != nil {
		return err
	}
	c.wcc.Post = attrOf(&c.ino)
	return nil
}
