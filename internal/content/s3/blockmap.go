package s3

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/tandemfs/tandem/internal/meta"
)

// The block map lives in the metadata store, in two buckets:
//
//	bucketBlocks  id(8) block(8)   -> version(16) length(4)   the object holding that block
//	bucketGC      object key       -> (empty)                  objects no longer referenced
//
// Numbers are big-endian, so one file's blocks are one key range in block
// order. An object is written once under a key naming its file, its block
// and a random version, and never changed: new contents of a block are a
// new object, and the map entry switches to it in the same transaction
// that records the old object in bucketGC. The collector deletes what
// bucketGC names, then the records.
const (
	bucketBlocks = "s3.blocks"
	bucketGC     = "s3.gc"
)

// ref is a map entry: which version of a block is current, and how many
// bytes of it count (a truncate shortens length without a new object;
// bytes past it read as zero).
type ref struct {
	ver    [16]byte
	length uint32
}

func newVersion() [16]byte {
	var v [16]byte
	rand.Read(v[:])
	return v
}

func blockKey(id uint64, block int64) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 16), id)
	return binary.BigEndian.AppendUint64(k, uint64(block))
}

func encodeRef(r ref) []byte {
	return binary.BigEndian.AppendUint32(append(make([]byte, 0, 20), r.ver[:]...), r.length)
}

func decodeRef(v []byte) (ref, error) {
	var r ref
	if len(v) != 20 {
		return r, fmt.Errorf("s3: corrupt block map entry (%d bytes)", len(v))
	}
	copy(r.ver[:], v)
	r.length = binary.BigEndian.Uint32(v[16:])
	return r, nil
}

// objectKey names the object of version ver of block of file id: the file
// first, so one file's objects list together.
func (s *Store) objectKey(id uint64, block int64, ver [16]byte) string {
	return fmt.Sprintf("%s%016x/%016x.%s", s.o.Prefix, id, block, hex.EncodeToString(ver[:]))
}

// parseObjectKey is objectKey backwards; ok is false for a key the store
// did not make.
func (s *Store) parseObjectKey(key string) (id uint64, block int64, ver [16]byte, ok bool) {
	rest, found := strings.CutPrefix(key, s.o.Prefix)
	if !found || len(rest) != 16+1+16+1+32 || rest[16] != '/' || rest[33] != '.' {
		return 0, 0, ver, false
	}
	id, err1 := strconv.ParseUint(rest[:16], 16, 64)
	b, err2 := strconv.ParseUint(rest[17:33], 16, 64)
	_, err3 := hex.Decode(ver[:], []byte(rest[34:]))
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, ver, false
	}
	return id, int64(b), ver, true
}

// refs reads the map entries of file id for blocks [first, last].
func refs(tx meta.Tx, id uint64, first, last int64) (map[int64]ref, error) {
	out := map[int64]ref{}
	var derr error
	err := tx.Scan(bucketBlocks, binary.BigEndian.AppendUint64(nil, id), func(k, v []byte) bool {
		b := int64(binary.BigEndian.Uint64(k[8:]))
		if b < first {
			return true
		}
		if b > last {
			return false
		}
		out[b], derr = decodeRef(v)
		return derr == nil
	})
	if err == nil {
		err = derr
	}
	return out, err
}

// lookup reads the map entries of file id for blocks [first, last] in a
// View of their own: point reads for the few blocks of one request, a scan
// of the file's map for more (the scan starts at the file's first block:
// the interface scans by prefix only).
func (s *Store) lookup(id uint64, first, last int64) (map[int64]ref, error) {
	out := map[int64]ref{}
	err := s.meta.View(s.ctx, func(tx meta.Tx) error {
		if last-first >= 64 {
			var err error
			out, err = refs(tx, id, first, last)
			return err
		}
		for b := first; b <= last; b++ {
			v, err := tx.Get(bucketBlocks, blockKey(id, b))
			if err == meta.ErrNotFound {
				continue
			}
			if err != nil {
				return err
			}
			if out[b], err = decodeRef(v); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// dropFrom removes the map entries of file id from block first on,
// recording their objects for the collector, and cuts block cut (when
// cut >= 0) to cutLen bytes.
func (s *Store) dropFrom(tx meta.Tx, id uint64, first int64, cut int64, cutLen uint32) (int, error) {
	type entry struct {
		b int64
		r ref
	}
	var drop []entry
	var derr error
	err := tx.Scan(bucketBlocks, binary.BigEndian.AppendUint64(nil, id), func(k, v []byte) bool {
		b := int64(binary.BigEndian.Uint64(k[8:]))
		if b < first && b != cut {
			return true
		}
		r, err := decodeRef(v)
		if err != nil {
			derr = err
			return false
		}
		drop = append(drop, entry{b, r})
		return true
	})
	if err == nil {
		err = derr
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range drop {
		if e.b == cut {
			if e.r.length > cutLen {
				e.r.length = cutLen
				if err := tx.Put(bucketBlocks, blockKey(id, e.b), encodeRef(e.r)); err != nil {
					return 0, err
				}
			}
			continue
		}
		if err := tx.Delete(bucketBlocks, blockKey(id, e.b)); err != nil {
			return 0, err
		}
		if err := tx.Put(bucketGC, []byte(s.objectKey(id, e.b, e.r.ver)), nil); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}
