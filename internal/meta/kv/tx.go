package kv

import (
	"encoding/binary"
	"math"

	"github.com/tandemfs/tandem/internal/meta"
)

// chunk is how many records a read-write transaction copies out of an
// iteration before handing them to the caller, whose callback may then write
// to the same transaction without disturbing the iterator.
const chunk = 256

// Tx is a meta.Tx over a Reader and, for read-write transactions, a Writer.
// Backends keep one per transaction (or pool them with Reset).
type Tx struct {
	r   Reader
	w   Writer
	ids *IDs

	// Scratch buffers reused across calls; the Writer copies what it keeps.
	key, key2, val []byte
}

var _ meta.Tx = (*Tx)(nil)

// NewTx returns a transaction reading r and, unless w is nil, writing w
// and allocating ids from ids.
func NewTx(r Reader, w Writer, ids *IDs) *Tx { return &Tx{r: r, w: w, ids: ids} }

// Reset points t at another transaction. Reset(nil, nil, nil) ends t:
// every later call returns ErrTxDone.
func (t *Tx) Reset(r Reader, w Writer, ids *IDs) { t.r, t.w, t.ids = r, w, ids }

func (t *Tx) readable() error {
	if t.r == nil {
		return ErrTxDone
	}
	return nil
}

func (t *Tx) writable() error {
	if t.r == nil {
		return ErrTxDone
	}
	if t.w == nil {
		return ErrReadOnly
	}
	return nil
}

// AllocID implements meta.Tx. Ids come from the store's allocator, not
// from the transaction: a transaction that fails does not give them back.
func (t *Tx) AllocID() (uint64, error) {
	if err := t.writable(); err != nil {
		return 0, err
	}
	return t.ids.Alloc()
}

// Inode implements meta.Tx.
func (t *Tx) Inode(id uint64) (meta.Inode, error) {
	var ino meta.Inode
	if err := t.readable(); err != nil {
		return ino, err
	}
	t.key = inodeKey(t.key, id)
	v, err := t.r.Get(t.key, t.val[:0])
	if err != nil {
		return ino, err
	}
	t.val = v
	if err := DecodeInode(v, &ino); err != nil {
		return meta.Inode{}, err
	}
	ino.ID = id
	return ino, nil
}

// PutInode implements meta.Tx.
func (t *Tx) PutInode(ino *meta.Inode) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.key = inodeKey(t.key, ino.ID)
	t.val = AppendInode(t.val[:0], ino)
	return t.w.Set(t.key, t.val)
}

// DeleteInode implements meta.Tx. It returns meta.ErrNotFound for a missing
// inode and drops a directory's cookie counter with it.
func (t *Tx) DeleteInode(id uint64) error {
	ino, err := t.Inode(id)
	if err != nil {
		return err
	}
	if err := t.writable(); err != nil {
		return err
	}
	t.key = inodeKey(t.key, id)
	if err := t.w.Delete(t.key); err != nil {
		return err
	}
	if err := t.deleteXattrs(id); err != nil {
		return err
	}
	if ino.Type == meta.TypeDir {
		t.key = dirKey(t.key, id, dirCounter)
		return t.w.Delete(t.key)
	}
	return nil
}

// Lookup implements meta.Tx.
func (t *Tx) Lookup(dir uint64, name string) (meta.Dirent, error) {
	if err := t.readable(); err != nil {
		return meta.Dirent{}, err
	}
	t.key = nameKey(t.key, dir, name)
	v, err := t.r.Get(t.key, t.val[:0])
	if err != nil {
		return meta.Dirent{}, err
	}
	t.val = v
	if len(v) != 16 {
		return meta.Dirent{}, ErrCorrupt
	}
	return meta.Dirent{
		Name:   name,
		ID:     binary.BigEndian.Uint64(v),
		Cookie: binary.BigEndian.Uint64(v[8:]),
	}, nil
}

// AddEntry implements meta.Tx.
func (t *Tx) AddEntry(dir uint64, name string, id uint64) (uint64, error) {
	if err := t.writable(); err != nil {
		return 0, err
	}
	t.key = nameKey(t.key, dir, name)
	switch _, err := t.r.Get(t.key, t.val[:0]); err {
	case nil:
		return 0, meta.ErrExists
	case meta.ErrNotFound:
	default:
		return 0, err
	}

	cookie := uint64(firstCookie)
	t.key2 = dirKey(t.key2, dir, dirCounter)
	v, err := t.r.Get(t.key2, t.val[:0])
	switch {
	case err == nil && len(v) == 8:
		cookie = binary.BigEndian.Uint64(v)
	case err == nil:
		return 0, ErrCorrupt
	case err != meta.ErrNotFound:
		return 0, err
	}
	if cookie == math.MaxUint64 {
		return 0, ErrCorrupt
	}
	t.val = binary.BigEndian.AppendUint64(v[:0], cookie+1)
	if err := t.w.Set(t.key2, t.val); err != nil {
		return 0, err
	}

	t.val = binary.BigEndian.AppendUint64(t.val[:0], id)
	t.val = binary.BigEndian.AppendUint64(t.val, cookie)
	if err := t.w.Set(t.key, t.val); err != nil {
		return 0, err
	}

	t.key = cookieKey(t.key, dir, cookie)
	t.val = binary.BigEndian.AppendUint64(t.val[:0], id)
	t.val = append(t.val, name...)
	if err := t.w.Set(t.key, t.val); err != nil {
		return 0, err
	}
	return cookie, nil
}

// RemoveEntry implements meta.Tx.
func (t *Tx) RemoveEntry(dir uint64, name string) error {
	if err := t.writable(); err != nil {
		return err
	}
	e, err := t.Lookup(dir, name)
	if err != nil {
		return err
	}
	t.key = nameKey(t.key, dir, name)
	if err := t.w.Delete(t.key); err != nil {
		return err
	}
	t.key = cookieKey(t.key, dir, e.Cookie)
	return t.w.Delete(t.key)
}

// ReadDir implements meta.Tx.
func (t *Tx) ReadDir(dir uint64, after uint64, fn func(meta.Dirent) bool) error {
	if err := t.readable(); err != nil {
		return err
	}
	if after == math.MaxUint64 {
		return nil
	}
	var buf []meta.Dirent
	next := after + 1
	for {
		// Fresh buffers each round: fn may call back into t.
		start := cookieKey(nil, dir, next)
		end := dirKey(nil, dir, dirCookie+1)
		var derr error
		more := true
		buf = buf[:0]
		err := t.r.Range(start, end, func(k, v []byte) bool {
			if len(k) != 18 || len(v) < 8 {
				derr = ErrCorrupt
				return false
			}
			e := meta.Dirent{
				Cookie: binary.BigEndian.Uint64(k[10:]),
				ID:     binary.BigEndian.Uint64(v),
				Name:   string(v[8:]),
			}
			if t.w == nil {
				// Nothing can write under a read-only iteration: stream.
				more = fn(e)
				return more
			}
			buf = append(buf, e)
			return len(buf) < chunk
		})
		if err == nil {
			err = derr
		}
		if err != nil || !more {
			return err
		}
		if t.w == nil {
			return nil
		}
		for _, e := range buf {
			if !fn(e) {
				return nil
			}
		}
		if len(buf) < chunk {
			return nil
		}
		last := buf[len(buf)-1].Cookie
		if last == math.MaxUint64 {
			return nil
		}
		next = last + 1
	}
}

// DirEmpty implements meta.Tx.
func (t *Tx) DirEmpty(dir uint64) (bool, error) {
	if err := t.readable(); err != nil {
		return false, err
	}
	start := dirKey(nil, dir, dirCookie)
	end := dirKey(nil, dir, dirCookie+1)
	empty := true
	err := t.r.Range(start, end, func(k, v []byte) bool {
		empty = false
		return false
	})
	return empty, err
}

// Get implements meta.Tx. The returned slice belongs to the caller.
func (t *Tx) Get(bucket string, key []byte) ([]byte, error) {
	if err := t.readable(); err != nil {
		return nil, err
	}
	k, err := bucketKey(t.key, bucket, key)
	t.key = k
	if err != nil {
		return nil, err
	}
	v, err := t.r.Get(k, nil)
	if err != nil {
		return nil, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// Put implements meta.Tx.
func (t *Tx) Put(bucket string, key, value []byte) error {
	if err := t.writable(); err != nil {
		return err
	}
	k, err := bucketKey(t.key, bucket, key)
	t.key = k
	if err != nil {
		return err
	}
	return t.w.Set(k, value)
}

// Delete implements meta.Tx. Deleting a missing key is not an error.
func (t *Tx) Delete(bucket string, key []byte) error {
	if err := t.writable(); err != nil {
		return err
	}
	k, err := bucketKey(t.key, bucket, key)
	t.key = k
	if err != nil {
		return err
	}
	return t.w.Delete(k)
}

// Scan implements meta.Tx.
func (t *Tx) Scan(bucket string, prefix []byte, fn func(key, value []byte) bool) error {
	if err := t.readable(); err != nil {
		return err
	}
	start, err := bucketKey(nil, bucket, prefix)
	if err != nil {
		return err
	}
	end := prefixEnd(nil, start)
	skip := 3 + len(bucket)

	if t.w == nil {
		return t.r.Range(start, end, func(k, v []byte) bool {
			return fn(k[skip:], v)
		})
	}

	// Read-write: copy a chunk out, then call fn outside the iteration.
	type span struct{ k, v int }
	var arena []byte
	var spans []span
	for {
		arena, spans = arena[:0], spans[:0]
		var last []byte
		err := t.r.Range(start, end, func(k, v []byte) bool {
			arena = append(arena, k...)
			arena = append(arena, v...)
			spans = append(spans, span{len(k), len(v)})
			return len(spans) < chunk
		})
		if err != nil {
			return err
		}
		off := 0
		for _, s := range spans {
			k := arena[off : off+s.k : off+s.k]
			v := arena[off+s.k : off+s.k+s.v : off+s.k+s.v]
			off += s.k + s.v
			last = k
			if !fn(k[skip:], v) {
				return nil
			}
		}
		if len(spans) < chunk {
			return nil
		}
		// Resume just past the last key: its successor is the key + 0x00.
		start = append(append(start[:0], last...), 0)
	}
}
