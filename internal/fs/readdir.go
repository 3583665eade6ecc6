package fs

import (
	"context"
	"sync"

	"github.com/tandemfs/tandem/internal/meta"
)

// Cookies of the entries every directory lists first; the metadata store
// never gives them to real entries.
const (
	cookieDot    = 1
	cookieDotDot = 2
)

// Entries are read in batches inside one read transaction each, then handed
// to the caller outside it, so that a slow consumer never holds the store.
// Batches start small (most listings are one short reply) and grow for long
// listings.
const (
	firstBatch = 64
	maxBatch   = 4096
)

var batchPool = sync.Pool{New: func() any { b := make([]DirEntry, 0, firstBatch); return &b }}

// ReadDir lists dir from cookie (0 = start) calling fn per entry until it
// returns false. With plus, entries carry handle and attributes. verf is
// the cookie verifier the client holds (0 with cookie 0); the returned
// verifier is the directory's current one. A cookie that is not valid for
// the directory is ErrBadCookie.
//
// A listing from cookie 0 starts with "." (cookie 1) and ".." (cookie 2).
// Cookies are stable positions, so any cookie is valid: the listing goes on
// after it even if that entry was removed. The verifier is fixed for the
// life of the directory (never 0); a nonzero verifier that is not the
// directory's is ErrBadCookie. Listing needs read permission (ErrAccess).
// The entry passed to fn is valid only during the call. The directory's
// attributes are returned also on error once it was read.
func (f *FS) ReadDir(ctx context.Context, c *Caller, dir Handle, cookie, verf uint64, plus bool, fn func(*DirEntry) bool) (Attr, uint64, error) {
	s, cr, err := f.begin(dir, c)
	if err != nil {
		return Attr{}, 0, err
	}
	bp := batchPool.Get().(*[]DirEntry)
	defer func() {
		clear((*bp)[:cap(*bp)])
		*bp = (*bp)[:0]
		batchPool.Put(bp)
	}()
	var dattr Attr
	var dverf uint64
	first, after, size := true, cookie, firstBatch
	for {
		batch := (*bp)[:0]
		more := false
		epoch := f.cache.epoch.Load()
		err := f.meta.View(ctx, func(tx meta.Tx) error {
			more = false
			batch = batch[:0]
			d, err := inodeOf(tx, dir)
			if err != nil {
				return err
			}
			dattr, dverf = attrOf(&d), dirVerifier(&d)
			if first {
				switch {
				case d.Type != meta.TypeDir:
					return ErrNotDir
				case !cr.may(&d, mayRead):
					return ErrAccess
				case cookie != 0 && verf != 0 && verf != dverf:
					return ErrBadCookie
				}
				if after < cookieDot {
					batch = append(batch, dotEntry(s, ".", &d, cookieDot, plus))
				}
				if after < cookieDotDot {
					p := d
					if d.ID != s.root.ID {
						if p, err = inodeByID(tx, d.Parent); err != nil {
							return err
						}
					}
					batch = append(batch, dotEntry(s, "..", &p, cookieDotDot, plus))
				}
			}
			var ierr error
			err = tx.ReadDir(d.ID, max(after, cookieDotDot), func(e meta.Dirent) bool {
				if len(batch) >= size {
					more = true
					return false
				}
				de := DirEntry{Name: e.Name, FileID: e.ID, Cookie: e.Cookie}
				if plus {
					// A cached inode may be newer than this snapshot,
					// which for attributes in a listing is no harm; one
					// read here is cached, as is the entry, for the
					// LOOKUPs and GETATTRs that usually follow.
					ino, ok := f.cache.inode(e.ID)
					if !ok {
						var err error
						if ino, err = inodeByID(tx, e.ID); err != nil {
							ierr = err
							return false
						}
						f.cache.fillInode(epoch, &ino)
					}
					f.cache.fillEntry(epoch, d.ID, e.Name, e.ID)
					de.Handle = Handle{Share: s.id, ID: ino.ID, Gen: ino.Gen}
					de.Attr = attrOf(&ino)
				}
				batch = append(batch, de)
				return true
			})
			if err != nil {
				return err
			}
			return ierr
		})
		*bp = batch
		if err != nil {
			return dattr, dverf, f.result("readdir", err)
		}
		first = false
		for i := range batch {
			if !fn(&batch[i]) {
				return dattr, dverf, nil
			}
		}
		if !more {
			return dattr, dverf, nil
		}
		after = batch[len(batch)-1].Cookie
		size = min(2*size, maxBatch)
	}
}

// dotEntry is the "." or ".." entry naming ino.
func dotEntry(s *share, name string, ino *meta.Inode, cookie uint64, plus bool) DirEntry {
	de := DirEntry{Name: name, FileID: ino.ID, Cookie: cookie}
	if plus {
		de.Handle = Handle{Share: s.id, ID: ino.ID, Gen: ino.Gen}
		de.Attr = attrOf(ino)
	}
	return de
}

// dirVerifier is a directory's cookie verifier. Cookies never change
// meaning, so it only has to be nonzero and fixed: the generation, which
// always has the share id in its high half.
func dirVerifier(d *meta.Inode) uint64 { return d.Gen }
