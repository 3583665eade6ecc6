package kv

import (
	"encoding/binary"
	"errors"
	"math"

	"github.com/tandemfs/tandem/internal/meta"
)

// Inode record format, version 1. The id is the key and is not repeated.
//
//	version   1 byte (1)
//	flags     1 byte: flagVerf when an exclusive-create verifier follows
//	Gen Type Mode Nlink UID GID Size Major Minor Parent DOSAttrs  uvarints
//	Atime Mtime Ctime Btime   8 bytes each, little-endian two's complement
//	CreateVerf                8 bytes, only with flagVerf
//	Target                    the rest of the record
//
// Small numbers dominate (modes, link counts, ids of young stores), so
// varints keep a record around 50 bytes; times are nanoseconds and would not
// shrink. A new field means a new version; decoders keep reading the old.
const inodeVersion1 = 1

const flagVerf = 1 << 0

// ErrCorrupt is returned for a record that does not decode.
var ErrCorrupt = errors.New("meta: corrupt record")

// AppendInode appends the encoding of ino to dst.
func AppendInode(dst []byte, ino *meta.Inode) []byte {
	var flags byte
	if ino.CreateVerf != ([8]byte{}) {
		flags |= flagVerf
	}
	dst = append(dst, inodeVersion1, flags)
	dst = binary.AppendUvarint(dst, ino.Gen)
	dst = binary.AppendUvarint(dst, uint64(ino.Type))
	dst = binary.AppendUvarint(dst, uint64(ino.Mode))
	dst = binary.AppendUvarint(dst, uint64(ino.Nlink))
	dst = binary.AppendUvarint(dst, uint64(ino.UID))
	dst = binary.AppendUvarint(dst, uint64(ino.GID))
	dst = binary.AppendUvarint(dst, ino.Size)
	dst = binary.AppendUvarint(dst, uint64(ino.Major))
	dst = binary.AppendUvarint(dst, uint64(ino.Minor))
	dst = binary.AppendUvarint(dst, ino.Parent)
	dst = binary.AppendUvarint(dst, uint64(ino.DOSAttrs))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(ino.Atime))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(ino.Mtime))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(ino.Ctime))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(ino.Btime))
	if flags&flagVerf != 0 {
		dst = append(dst, ino.CreateVerf[:]...)
	}
	return append(dst, ino.Target...)
}

// DecodeInode decodes a record written by AppendInode into ino, whose ID the
// caller sets.
func DecodeInode(b []byte, ino *meta.Inode) error {
	d := decoder{b: b}
	if d.byte() != inodeVersion1 {
		return ErrCorrupt
	}
	flags := d.byte()
	ino.Gen = d.uvarint()
	ino.Type = meta.FileType(d.small(math.MaxUint8))
	ino.Mode = uint32(d.small(math.MaxUint32))
	ino.Nlink = uint32(d.small(math.MaxUint32))
	ino.UID = uint32(d.small(math.MaxUint32))
	ino.GID = uint32(d.small(math.MaxUint32))
	ino.Size = d.uvarint()
	ino.Major = uint32(d.small(math.MaxUint32))
	ino.Minor = uint32(d.small(math.MaxUint32))
	ino.Parent = d.uvarint()
	ino.DOSAttrs = uint32(d.small(math.MaxUint32))
	ino.Atime = int64(d.fixed64())
	ino.Mtime = int64(d.fixed64())
	ino.Ctime = int64(d.fixed64())
	ino.Btime = int64(d.fixed64())
	ino.CreateVerf = [8]byte{}
	if flags&flagVerf != 0 {
		if len(d.b) < 8 {
			d.bad = true
		} else {
			copy(ino.CreateVerf[:], d.b)
			d.b = d.b[8:]
		}
	}
	if flags&^flagVerf != 0 || d.bad {
		return ErrCorrupt
	}
	ino.Target = ""
	if len(d.b) > 0 {
		ino.Target = string(d.b)
	}
	return nil
}

// decoder reads a record front to back; any short or oversized field sets
// bad and yields zeros from then on.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) small(max uint64) uint64 {
	v := d.uvarint()
	if v > max {
		d.bad = true
		return 0
	}
	return v
}

func (d *decoder) fixed64() uint64 {
	if len(d.b) < 8 {
		d.bad = true
		d.b = nil
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}
