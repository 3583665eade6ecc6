package smb

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"net/netip"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
)

// DurableStore keeps durable opens across restarts of the server.
type DurableStore interface {
	// Save makes rec durable, together with every change the lock manager
	// made before the call, before it returns. Called before the CREATE
	// response that grants durability, and when an open's record changes
	// in a way a reconnect needs (lease state/epoch after an acknowledged
	// break may be saved lazily).
	Save(ctx context.Context, rec *DurableOpen) error
	// Delete forgets a durable open (closed, expired, purged); it may
	// become durable later (lazily).
	Delete(ctx context.Context, persistentID uint64) error
}

// DurableOpen is a durable open as a record: everything needed to rebuild
// it, disconnected, after the server restarts (RestoreDurable), and to
// check the reconnect that takes it back.
type DurableOpen struct {
	Persistent, Volatile uint64 // its FileId
	// Client names the client in the lock manager (lock.SMBOwner's Host,
	// the hex ClientGuid): the open's locks and share reservation are
	// held by lock.SMBOwner(Client, Persistent), a lease by
	// lock.LeaseOwner(Client, LeaseKey).
	Client     string
	CreateGuid [16]byte // of a DH2Q request; zero for DHnQ
	V2         bool     // granted to DH2Q
	Timeout    time.Duration

	// Who opened it: the session's user name and the file system's caller.
	User      string
	UID, GID  uint32
	Groups    []uint32
	Anonymous bool
	Addr      netip.Addr // without a zone

	Share      string    // the share's name
	File       fs.Handle // the file
	Dir        fs.Handle // its directory, the name in it and its path from the share's root
	Name, Path string

	Access, ShareAccess uint32 // granted access mask, share access
	Mode                uint32 // create options kept as FileModeInformation
	DeleteOnClose       bool

	// The caching grant: a lease (key, parent key, version) or an oplock,
	// and its state when saved, an oplock's level as what it caches (RWH
	// batch, RW exclusive, R level II). The lock manager keeps the
	// current state; a reconnect after a restart asks for this one where
	// the lock manager has none.
	Lease     bool
	LeaseKey  [16]byte
	LeaseV2   bool
	ParentSet bool
	ParentKey [16]byte
	Caching   lock.Caching
	Epoch     uint16 // lease v2
}

// The binary form of a DurableOpen:
//
//	version      1 byte (durableVersion)
//	flags        1 byte (durFlag*)
//	caching      1 byte (0-7)
//	persistent   uvarint, not 0
//	volatile     uvarint
//	timeout      uvarint nanoseconds, not 0
//	uid, gid     uvarint each (32 bits)
//	groups       uvarint count, then a uvarint each (32 bits)
//	addr         1 byte length (0, 4 or 16), the address
//	access, share access, mode   uvarint each (32 bits)
//	file, dir    share uvarint (32 bits), id uvarint, generation uvarint each
//	create guid  16 bytes, zero unless V2
//	lease        if Lease: key 16 bytes; if ParentSet: parent key 16 bytes;
//	             if LeaseV2: epoch uvarint (16 bits)
//	client, user, share, name, path   uvarint length, bytes each
//
// Varints are canonical (shortest form) and flags that do not apply are
// refused, so a record has exactly one encoding: decoding and encoding
// again gives back the same bytes.
const durableVersion = 1

const (
	durFlagV2 = 1 << iota
	durFlagLease
	durFlagLeaseV2
	durFlagParentSet
	durFlagDeleteOnClose
	durFlagAnonymous

	durFlagsKnown = durFlagV2 | durFlagLease | durFlagLeaseV2 | durFlagParentSet | durFlagDeleteOnClose | durFlagAnonymous
)

// Bounds on a record's variable parts, far above what any open has.
const (
	maxRecordGroups = 1 << 16
	maxRecordName   = 1 << 10 // user and share names
	maxRecordPath   = 1 << 16 // a file's name and path
)

// ErrDurableRecord is returned for a record that cannot be encoded, and
// for bytes that are not a valid encoding.
var ErrDurableRecord = errors.New("smb: malformed durable open record")

// check refuses a record the binary form cannot hold exactly.
func (d *DurableOpen) check() error {
	switch {
	case d.Persistent == 0, d.Timeout <= 0, d.Caching&^7 != 0:
	case !d.V2 && d.CreateGuid != [16]byte{}:
	case !d.Lease && (d.LeaseV2 || d.ParentSet || d.LeaseKey != [16]byte{}):
	case !d.LeaseV2 && (d.ParentSet || d.Epoch != 0):
	case !d.ParentSet && d.ParentKey != [16]byte{}:
	case len(d.Groups) > maxRecordGroups, len(d.Client) > lock.MaxHostLen:
	case len(d.User) > maxRecordName, len(d.Share) > maxRecordName:
	case len(d.Name) > maxRecordPath, len(d.Path) > maxRecordPath:
	default:
		return nil
	}
	return ErrDurableRecord
}

func (d *DurableOpen) flags() byte {
	var f byte
	for _, b := range []struct {
		on   bool
		flag byte
	}{{d.V2, durFlagV2}, {d.Lease, durFlagLease}, {d.LeaseV2, durFlagLeaseV2}, {d.ParentSet, durFlagParentSet},
		{d.DeleteOnClose, durFlagDeleteOnClose}, {d.Anonymous, durFlagAnonymous}} {
		if b.on {
			f |= b.flag
		}
	}
	return f
}

// AppendBinary appends the record's binary form to b.
func (d *DurableOpen) AppendBinary(b []byte) ([]byte, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	b = append(b, durableVersion, d.flags(), byte(d.Caching))
	for _, v := range []uint64{d.Persistent, d.Volatile, uint64(d.Timeout), uint64(d.UID), uint64(d.GID), uint64(len(d.Groups))} {
		b = binary.AppendUvarint(b, v)
	}
	for _, g := range d.Groups {
		b = binary.AppendUvarint(b, uint64(g))
	}
	switch a := d.Addr.WithZone(""); {
	case a.Is4():
		v := a.As4()
		b = append(append(b, 4), v[:]...)
	case a.Is6():
		v := a.As16()
		b = append(append(b, 16), v[:]...)
	default:
		b = append(b, 0)
	}
	for _, v := range []uint64{uint64(d.Access), uint64(d.ShareAccess), uint64(d.Mode),
		uint64(d.File.Share), d.File.ID, d.File.Gen, uint64(d.Dir.Share), d.Dir.ID, d.Dir.Gen} {
		b = binary.AppendUvarint(b, v)
	}
	b = append(b, d.CreateGuid[:]...)
	if d.Lease {
		b = append(b, d.LeaseKey[:]...)
		if d.ParentSet {
			b = append(b, d.ParentKey[:]...)
		}
		if d.LeaseV2 {
			b = binary.AppendUvarint(b, uint64(d.Epoch))
		}
	}
	for _, s := range []string{d.Client, d.User, d.Share, d.Name, d.Path} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b, nil
}

// MarshalBinary is the record's binary form.
func (d *DurableOpen) MarshalBinary() ([]byte, error) {
	return d.AppendBinary(make([]byte, 0, 128+len(d.Path)+len(d.Name)))
}

// UnmarshalBinary decodes a record made by MarshalBinary. Anything else,
// trailing bytes included, is ErrDurableRecord.
func (d *DurableOpen) UnmarshalBinary(b []byte) error {
	r := recordReader{b: b}
	var rec DurableOpen
	if !r.durable(&rec) || len(r.b) != 0 || rec.check() != nil {
		return ErrDurableRecord
	}
	*d = rec
	return nil
}

// recordReader decodes a record; once a read fails, every later one does.
type recordReader struct {
	b   []byte
	bad bool
}

func (r *recordReader) bytes(n int) []byte {
	if r.bad || n < 0 || len(r.b) < n {
		r.bad = true
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

// uvarint reads a canonical varint no larger than max.
func (r *recordReader) uvarint(max uint64) uint64 {
	if r.bad {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || n != len(binary.AppendUvarint(nil, v)) || v > max {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *recordReader) u32() uint32 { return uint32(r.uvarint(math.MaxUint32)) }

func (r *recordReader) str(max int) string {
	return string(r.bytes(int(r.uvarint(uint64(max)))))
}

func (r *recordReader) handle() fs.Handle {
	return fs.Handle{Share: r.u32(), ID: r.uvarint(math.MaxUint64), Gen: r.uvarint(math.MaxUint64)}
}

func (r *recordReader) durable(d *DurableOpen) bool {
	head := r.bytes(3)
	if r.bad || head[0] != durableVersion || head[1]&^durFlagsKnown != 0 || head[2]&^7 != 0 {
		return false
	}
	f := head[1]
	d.V2, d.Lease, d.LeaseV2 = f&durFlagV2 != 0, f&durFlagLease != 0, f&durFlagLeaseV2 != 0
	d.ParentSet, d.DeleteOnClose, d.Anonymous = f&durFlagParentSet != 0, f&durFlagDeleteOnClose != 0, f&durFlagAnonymous != 0
	d.Caching = lock.Caching(head[2])
	d.Persistent = r.uvarint(math.MaxUint64)
	d.Volatile = r.uvarint(math.MaxUint64)
	d.Timeout = time.Duration(r.uvarint(math.MaxInt64))
	d.UID, d.GID = r.u32(), r.u32()
	if n := r.uvarint(maxRecordGroups); n > 0 && !r.bad {
		d.Groups = make([]uint32, 0, min(n, uint64(len(r.b))))
		for range n {
			d.Groups = append(d.Groups, r.u32())
			if r.bad {
				return false
			}
		}
	}
	switch n := r.bytes(1); {
	case r.bad:
		return false
	case n[0] == 4:
		if v := r.bytes(4); !r.bad {
			d.Addr = netip.AddrFrom4([4]byte(v))
		}
	case n[0] == 16:
		if v := r.bytes(16); !r.bad {
			d.Addr = netip.AddrFrom16([16]byte(v))
		}
	case n[0] != 0:
		return false
	}
	d.Access, d.ShareAccess, d.Mode = r.u32(), r.u32(), r.u32()
	d.File, d.Dir = r.handle(), r.handle()
	copy(d.CreateGuid[:], r.bytes(16))
	if d.Lease {
		copy(d.LeaseKey[:], r.bytes(16))
		if d.ParentSet {
			copy(d.ParentKey[:], r.bytes(16))
		}
		if d.LeaseV2 {
			d.Epoch = uint16(r.uvarint(math.MaxUint16))
		}
	}
	d.Client = r.str(lock.MaxHostLen)
	d.User, d.Share = r.str(maxRecordName), r.str(maxRecordName)
	d.Name, d.Path = r.str(maxRecordPath), r.str(maxRecordPath)
	return !r.bad
}
