package lock

import (
	"encoding/binary"
	"errors"
	"time"
)

// The binary form of a Record, for the metadata store:
//
//	version   1 byte (recordVersion)
//	kind      1 byte
//	proto     1 byte
//	mode      1 byte (range locks; else 0)
//	access    1 byte (share reservations; else 0)
//	share     1 byte (share reservations; else 0)
//	file      uvarint share id, uvarint file id
//	range     uvarint offset, uvarint length
//	since     varint nanoseconds since the Unix epoch (0: none)
//	svid      uvarint
//	open      uvarint
//	host      uvarint length, bytes
//	oh        uvarint length, bytes
//
// and for a caching grant (kind 3), then:
//
//	caching   1 byte (the R, H and W bits)
//	flags     1 byte (1: a lease, 2: it counts epochs)
//	epoch     uvarint
//	opens     uvarint count, then each open's number as a uvarint
//
// Varints are canonical (shortest form), so a record has exactly one
// encoding and decode-then-encode gives back the same bytes.
const recordVersion = 1

// ErrRecord is returned for bytes that are not a valid record encoding.
var ErrRecord = errors.New("lock: malformed record")

// minRecordSize is the length of the shortest valid record.
const minRecordSize = 6 + 9 // header, then nine one-byte varints

// AppendBinary appends r's binary form to b.
func (r Record) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, recordVersion, byte(r.Kind), byte(r.Owner.Proto), byte(r.Mode), byte(r.Access), byte(r.ShareAccess))
	b = binary.AppendUvarint(b, uint64(r.File.Share))
	b = binary.AppendUvarint(b, r.File.ID)
	b = binary.AppendUvarint(b, r.Range.Offset)
	b = binary.AppendUvarint(b, r.Range.Length)
	b = binary.AppendVarint(b, nanosOf(r.Since))
	b = binary.AppendUvarint(b, uint64(r.Owner.Svid))
	b = binary.AppendUvarint(b, r.Owner.Open)
	b = binary.AppendUvarint(b, uint64(len(r.Owner.Host)))
	b = append(b, r.Owner.Host...)
	b = binary.AppendUvarint(b, uint64(len(r.Owner.OH)))
	b = append(b, r.Owner.OH...)
	if r.Kind == KindCaching {
		var flags byte
		if r.Lease {
			flags |= 1
		}
		if r.Epochs {
			flags |= 2
		}
		b = append(b, byte(r.Caching), flags)
		b = binary.AppendUvarint(b, uint64(r.Epoch))
		b = binary.AppendUvarint(b, uint64(len(r.Opens)))
		for _, o := range r.Opens {
			b = binary.AppendUvarint(b, o)
		}
	}
	return b, nil
}

// maxOpens bounds the opens of a caching grant's record.
const maxOpens = 1 << 16

// MarshalBinary is r's binary form.
func (r Record) MarshalBinary() ([]byte, error) {
	return r.AppendBinary(make([]byte, 0, 64+len(r.Owner.Host)+len(r.Owner.OH)))
}

// UnmarshalBinary decodes a record made by MarshalBinary. It checks the
// form (version, kind, protocol, mode and access bits, string lengths,
// canonical varints, no trailing bytes), not whether the lock would be
// granted; Restore does that.
func (r *Record) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	rec, ok := d.record()
	if !ok || len(d.b) != 0 {
		return ErrRecord
	}
	*r = rec
	return nil
}

type decoder struct{ b []byte }

func (d *decoder) record() (Record, bool) {
	if len(d.b) < 6 || d.b[0] != recordVersion {
		return Record{}, false
	}
	r := Record{
		Kind:        Kind(d.b[1]),
		Owner:       Owner{Proto: Proto(d.b[2])},
		Mode:        Mode(d.b[3]),
		Access:      Access(d.b[4]),
		ShareAccess: ShareAccess(d.b[5]),
	}
	d.b = d.b[6:]
	switch {
	case !r.Owner.Proto.valid():
		return Record{}, false
	case r.Kind == KindRange:
		if !r.Mode.valid() || r.Access != 0 || r.ShareAccess != 0 {
			return Record{}, false
		}
	case r.Kind == KindShare:
		if r.Mode != 0 || r.Access&^accessMask != 0 || r.ShareAccess&^accessMask != 0 {
			return Record{}, false
		}
	case r.Kind == KindCaching:
		if r.Mode != 0 || r.Access != 0 || r.ShareAccess != 0 {
			return Record{}, false
		}
	default:
		return Record{}, false
	}
	share, ok1 := d.uvarint()
	id, ok2 := d.uvarint()
	off, ok3 := d.uvarint()
	length, ok4 := d.uvarint()
	since, ok5 := d.varint()
	svid, ok6 := d.uvarint()
	open, ok7 := d.uvarint()
	host, ok8 := d.str(MaxHostLen)
	oh, ok9 := d.str(MaxOHLen)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8 && ok9) || share > 1<<32-1 || svid > 1<<32-1 {
		return Record{}, false
	}
	if r.Kind != KindRange && (off != 0 || length != 0) {
		return Record{}, false
	}
	if r.Kind == KindCaching && !d.caching(&r) {
		return Record{}, false
	}
	r.File = FileKey{Share: uint32(share), ID: id}
	r.Range = Range{Offset: off, Length: length}
	if since != 0 {
		r.Since = time.Unix(0, since)
	}
	r.Owner.Svid, r.Owner.Open, r.Owner.Host, r.Owner.OH = uint32(svid), open, host, oh
	return r, true
}

// caching decodes the fields only a caching grant's record has.
func (d *decoder) caching(r *Record) bool {
	if len(d.b) < 2 || d.b[0]&^byte(cacheAll) != 0 || d.b[1]&^3 != 0 {
		return false
	}
	r.Caching, r.Lease, r.Epochs = Caching(d.b[0]), d.b[1]&1 != 0, d.b[1]&2 != 0
	d.b = d.b[2:]
	epoch, ok1 := d.uvarint()
	n, ok2 := d.uvarint()
	if !ok1 || !ok2 || epoch > 1<<16-1 || n > maxOpens || n > uint64(len(d.b)) {
		return false
	}
	r.Epoch = uint16(epoch)
	r.Opens = make([]uint64, n)
	for i := range r.Opens {
		v, ok := d.uvarint()
		if !ok {
			return false
		}
		r.Opens[i] = v
	}
	return true
}

func (d *decoder) uvarint() (uint64, bool) {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != uvarintLen(v) {
		return 0, false
	}
	d.b = d.b[n:]
	return v, true
}

func (d *decoder) varint() (int64, bool) {
	u, ok := d.uvarint()
	// Varints are zigzag-encoded uvarints.
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x, ok
}

func (d *decoder) str(max int) (string, bool) {
	n, ok := d.uvarint()
	if !ok || n > uint64(max) || n > uint64(len(d.b)) {
		return "", false
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s, true
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// AppendRecords appends the binary form of a list of records (a file's
// state, say): a uvarint count, then each record preceded by its uvarint
// length.
func AppendRecords(b []byte, recs []Record) []byte {
	b = binary.AppendUvarint(b, uint64(len(recs)))
	var tmp []byte
	for _, r := range recs {
		tmp, _ = r.AppendBinary(tmp[:0])
		b = binary.AppendUvarint(b, uint64(len(tmp)))
		b = append(b, tmp...)
	}
	return b
}

// DecodeRecords decodes what AppendRecords made.
func DecodeRecords(b []byte) ([]Record, error) {
	d := decoder{b: b}
	n, ok := d.uvarint()
	if !ok || n > uint64(len(d.b)/(minRecordSize+1)) {
		return nil, ErrRecord
	}
	recs := make([]Record, 0, n)
	for range n {
		l, ok := d.uvarint()
		if !ok || l > uint64(len(d.b)) {
			return nil, ErrRecord
		}
		one := decoder{b: d.b[:l]}
		r, ok := one.record()
		if !ok || len(one.b) != 0 {
			return nil, ErrRecord
		}
		recs = append(recs, r)
		d.b = d.b[l:]
	}
	if len(d.b) != 0 {
		return nil, ErrRecord
	}
	return recs, nil
}
