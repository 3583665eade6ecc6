package kv

import (
	"encoding/binary"
	"errors"
)

// Record kinds: the first byte of every key.
const (
	kindInode  = 'i'
	kindDir    = 'd'
	kindBucket = 'b'
	kindXattr  = 'x'
	kindSystem = 's'
)

// Sub-kinds of directory keys, after 'd' dir. Their order puts the cookie
// index first so a listing is one contiguous range.
const (
	dirCookie  = 'c'
	dirCounter = 'k'
	dirName    = 'n'
)

// firstCookie is the first cookie given out in a directory; 0..2 mean
// "from the start", "." and "..".
const firstCookie = 3

var keyNextID = []byte{kindSystem, 'i', 'd'}

var errBucketName = errors.New("meta: bucket name longer than 65535 bytes")

func inodeKey(dst []byte, id uint64) []byte {
	dst = append(dst[:0], kindInode)
	return binary.BigEndian.AppendUint64(dst, id)
}

// dirKey is 'd' dir sub: the start of one of a directory's key ranges.
func dirKey(dst []byte, dir uint64, sub byte) []byte {
	dst = append(dst[:0], kindDir)
	dst = binary.BigEndian.AppendUint64(dst, dir)
	return append(dst, sub)
}

func nameKey(dst []byte, dir uint64, name string) []byte {
	return append(dirKey(dst, dir, dirName), name...)
}

func cookieKey(dst []byte, dir, cookie uint64) []byte {
	return binary.BigEndian.AppendUint64(dirKey(dst, dir, dirCookie), cookie)
}

// bucketKey is 'b' len16(bucket) bucket key. The length prefix keeps one
// bucket's keys from running into another's however the names compare.
func bucketKey(dst []byte, bucket string, key []byte) ([]byte, error) {
	if len(bucket) > 0xffff {
		return dst, errBucketName
	}
	dst = append(dst[:0], kindBucket)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(bucket)))
	dst = append(dst, bucket...)
	return append(dst, key...), nil
}

// prefixEnd returns the smallest key above every key with the given prefix,
// written into dst, or nil when there is none (a prefix of only 0xff bytes).
func prefixEnd(dst, prefix []byte) []byte {
	dst = append(dst[:0], prefix...)
	for i := len(dst) - 1; i >= 0; i-- {
		if dst[i] != 0xff {
			dst[i]++
			return dst[:i+1]
		}
	}
	return nil
}
