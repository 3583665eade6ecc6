package kv

import (
	"encoding/binary"
	"errors"
)

// An inode's named blobs are keys of their own, 'x' id name, beside the
// inode record rather than in it: the inode format stays as it is, a file
// without blobs costs nothing, and one blob changes without rewriting the
// others. The id sorts an inode's blobs together, so listing or dropping
// them is one range.

// MaxXattrName is the longest blob name the store accepts.
const MaxXattrName = 255

var errXattrName = errors.New("meta: empty or oversized blob name")

func xattrKey(dst []byte, id uint64, name string) []byte {
	dst = append(dst[:0], kindXattr)
	dst = binary.BigEndian.AppendUint64(dst, id)
	return append(dst, name...)
}

func checkXattrName(name string) error {
	if name == "" || len(name) > MaxXattrName {
		return errXattrName
	}
	return nil
}

// Xattr implements meta.Tx. The returned slice belongs to the caller.
func (t *Tx) Xattr(id uint64, name string) ([]byte, error) {
	if err := t.readable(); err != nil {
		return nil, err
	}
	if err := checkXattrName(name); err != nil {
		return nil, err
	}
	t.key = xattrKey(t.key, id, name)
	v, err := t.r.Get(t.key, nil)
	if err != nil {
		return nil, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// PutXattr implements meta.Tx.
func (t *Tx) PutXattr(id uint64, name string, value []byte) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := checkXattrName(name); err != nil {
		return err
	}
	t.key = xattrKey(t.key, id, name)
	return t.w.Set(t.key, value)
}

// DeleteXattr implements meta.Tx.
func (t *Tx) DeleteXattr(id uint64, name string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := checkXattrName(name); err != nil {
		return err
	}
	t.key = xattrKey(t.key, id, name)
	return t.w.Delete(t.key)
}

// Xattrs implements meta.Tx. In a read-write transaction the blobs are
// copied out first, so fn may change them.
func (t *Tx) Xattrs(id uint64, fn func(name string, value []byte) bool) error {
	if err := t.readable(); err != nil {
		return err
	}
	start := xattrKey(nil, id, "")
	end := prefixEnd(nil, start)
	if t.w == nil {
		return t.r.Range(start, end, func(k, v []byte) bool {
			return fn(string(k[9:]), v)
		})
	}
	type blob struct {
		name  string
		value []byte
	}
	var all []blob
	err := t.r.Range(start, end, func(k, v []byte) bool {
		all = append(all, blob{string(k[9:]), append([]byte{}, v...)})
		return true
	})
	if err != nil {
		return err
	}
	for _, b := range all {
		if !fn(b.name, b.value) {
			break
		}
	}
	return nil
}

// deleteXattrs drops every blob of inode id.
func (t *Tx) deleteXattrs(id uint64) error {
	start := xattrKey(nil, id, "")
	var keys [][]byte
	err := t.r.Range(start, prefixEnd(nil, start), func(k, v []byte) bool {
		keys = append(keys, append([]byte(nil), k...))
		return true
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := t.w.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
