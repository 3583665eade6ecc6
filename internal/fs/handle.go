package fs

import "encoding/binary"

// Handle names a file: the share, the file id and its generation. Its wire
// form (Bytes) is opaque to clients and stable across restarts.
//
// The generation binds a file to its share: its high 32 bits are the share
// id and its low 32 bits are random, chosen when the file is made. A handle
// naming a file under another share's id is therefore stale, so a client
// cannot reach outside its export by editing the share field, and guessing
// a valid handle needs the file's random half as well as its id.
type Handle struct {
	Share uint32
	ID    uint64
	Gen   uint64
}

// HandleSize is the length of a handle's wire form.
const HandleSize = 24

// handleVersion is the first byte of every wire handle. A later layout
// gets a new version so that old handles are still recognized.
const handleVersion = 1

// The wire form, big-endian:
//
//	0     version
//	1..3  zero
//	4..7  share
//	8..15 file id
//	16..23 generation

// Bytes is the wire form of h.
func (h Handle) Bytes() []byte {
	return h.Append(make([]byte, 0, HandleSize))
}

// Append appends the wire form of h to b, for encoders that avoid an
// allocation per handle.
func (h Handle) Append(b []byte) []byte {
	b = append(b, handleVersion, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, h.Share)
	b = binary.BigEndian.AppendUint64(b, h.ID)
	return binary.BigEndian.AppendUint64(b, h.Gen)
}

// ParseHandle decodes a wire handle (ErrBadHandle if it is not one of ours).
// It does not check that the file exists; operations do, and answer ErrStale.
func ParseHandle(b []byte) (Handle, error) {
	if len(b) != HandleSize || b[0] != handleVersion || b[1]|b[2]|b[3] != 0 {
		return Handle{}, ErrBadHandle
	}
	h := Handle{
		Share: binary.BigEndian.Uint32(b[4:]),
		ID:    binary.BigEndian.Uint64(b[8:]),
		Gen:   binary.BigEndian.Uint64(b[16:]),
	}
	if h.Share == 0 {
		return Handle{}, ErrBadHandle
	}
	return h, nil
}

// shareOfGen is the share a generation belongs to.
func shareOfGen(gen uint64) uint32 { return uint32(gen >> 32) }
