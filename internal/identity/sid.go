package identity

import (
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
)

// SID is a Windows security identifier: a revision, a 48-bit identifier
// authority and up to 15 sub-authorities, written S-1-5-21-x-y-z-1000. It is
// a comparable value so that SIDs can be map keys and are copied without
// allocation.
type SID struct {
	Authority uint64 // 48 bits
	N         uint8  // sub-authorities in use
	Sub       [15]uint32
}

// maxSubAuthorities is the most a SID may carry.
const maxSubAuthorities = 15

// Well-known SIDs the server hands out or recognises.
var (
	SIDEveryone           = sid(1, 0)       // S-1-1-0: "other" in a POSIX mode
	SIDCreatorOwner       = sid(3, 0)       // S-1-3-0
	SIDCreatorGroup       = sid(3, 1)       // S-1-3-1
	SIDOwnerRights        = sid(3, 4)       // S-1-3-4: replaces the owner's implicit rights
	SIDAnonymous          = sid(5, 7)       // S-1-5-7: a null session
	SIDAuthenticatedUsers = sid(5, 11)      // S-1-5-11
	SIDSystem             = sid(5, 18)      // S-1-5-18: maps to root
	SIDAdministrators     = sid(5, 32, 544) // S-1-5-32-544: maps to gid 0
	SIDUsers              = sid(5, 32, 545) // S-1-5-32-545
	SIDGuests             = sid(5, 32, 546) // S-1-5-32-546
	sidUnixUsers          = sid(22, 1)      // S-1-22-1-uid: uids outside the RID range
	sidUnixGroups         = sid(22, 2)      // S-1-22-2-gid
	sidNTDomain           = sid(5, 21)      // S-1-5-21: prefix of a machine SID
)

func sid(auth uint64, sub ...uint32) SID {
	s := SID{Authority: auth, N: uint8(len(sub))}
	copy(s.Sub[:], sub)
	return s
}

// Subs returns the sub-authorities in use.
func (s SID) Subs() []uint32 { return s.Sub[:s.N] }

// RID is the last sub-authority (0 if there is none).
func (s SID) RID() uint32 {
	if s.N == 0 {
		return 0
	}
	return s.Sub[s.N-1]
}

// Child returns s with rid appended; s must have fewer than 15
// sub-authorities.
func (s SID) Child(rid uint32) SID {
	s.Sub[s.N] = rid
	s.N++
	return s
}

// Parent returns s without its last sub-authority.
func (s SID) Parent() SID {
	if s.N > 0 {
		s.N--
		s.Sub[s.N] = 0
	}
	return s
}

// String is the S-1-... form. Authorities that fit 32 bits are written in
// decimal, larger ones in hex, as Windows does.
func (s SID) String() string {
	b := make([]byte, 0, 16+11*int(s.N))
	b = append(b, "S-1-"...)
	if s.Authority >= 1<<32 {
		b = append(b, "0x"...)
		b = strconv.AppendUint(b, s.Authority, 16)
	} else {
		b = strconv.AppendUint(b, s.Authority, 10)
	}
	for _, v := range s.Subs() {
		b = append(b, '-')
		b = strconv.AppendUint(b, uint64(v), 10)
	}
	return string(b)
}

// Size is the length of the binary form.
func (s SID) Size() int { return 8 + 4*int(s.N) }

// Append appends the binary form (MS-DTYP 2.4.2.2): revision 1, the count,
// the authority big-endian in six bytes, the sub-authorities little-endian.
func (s SID) Append(b []byte) []byte {
	b = append(b, 1, s.N,
		byte(s.Authority>>40), byte(s.Authority>>32), byte(s.Authority>>24),
		byte(s.Authority>>16), byte(s.Authority>>8), byte(s.Authority))
	for _, v := range s.Subs() {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

// ErrBadSID reports a SID that does not parse.
var ErrBadSID = errors.New("identity: malformed SID")

// DecodeSID reads the binary form at the start of b and returns the SID
// and its length.
func DecodeSID(b []byte) (SID, int, error) {
	if len(b) < 8 || b[0] != 1 || b[1] > maxSubAuthorities {
		return SID{}, 0, ErrBadSID
	}
	s := SID{N: b[1]}
	for _, c := range b[2:8] {
		s.Authority = s.Authority<<8 | uint64(c)
	}
	n := s.Size()
	if len(b) < n {
		return SID{}, 0, ErrBadSID
	}
	for i := range int(s.N) {
		s.Sub[i] = binary.LittleEndian.Uint32(b[8+4*i:])
	}
	return s, n, nil
}

// ParseSID reads the S-1-... form.
func ParseSID(str string) (SID, error) {
	rest, ok := strings.CutPrefix(str, "S-1-")
	if !ok {
		rest, ok = strings.CutPrefix(str, "s-1-")
	}
	if !ok || rest == "" {
		return SID{}, ErrBadSID
	}
	parts := strings.Split(rest, "-")
	if len(parts)-1 > maxSubAuthorities {
		return SID{}, ErrBadSID
	}
	var s SID
	var err error
	if h, isHex := strings.CutPrefix(parts[0], "0x"); isHex {
		s.Authority, err = strconv.ParseUint(h, 16, 48)
	} else {
		s.Authority, err = strconv.ParseUint(parts[0], 10, 48)
	}
	if err != nil {
		return SID{}, ErrBadSID
	}
	for _, p := range parts[1:] {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return SID{}, ErrBadSID
		}
		s.Sub[s.N] = uint32(v)
		s.N++
	}
	return s, nil
}

// The relative ids of the machine domain: users at 1000 + 2*uid, groups at
// 1001 + 2*gid, so that the two never collide and both are decodable.
const (
	ridBase = 1000
	maxRID  = 1<<32 - 1
)

// Mapper turns uids and gids into SIDs and back, within one machine
// domain. The zero value is not usable; get one from Store.Mapper or
// NewMapper.
//
// The mapping:
//
//	uid u  <->  S-1-5-21-a-b-c-(1000+2u)     (S-1-22-1-u when the RID would overflow)
//	gid g  <->  S-1-5-21-a-b-c-(1001+2g)     (S-1-22-2-g when it would overflow)
//
// and, recognised when a client names them (never produced for an id):
//
//	S-1-22-1-u -> uid u, S-1-22-2-g -> gid g   (Samba's Unix-user SIDs)
//	S-1-5-18 (SYSTEM) -> uid 0
//	S-1-5-32-544 (Administrators) -> gid 0
//
// Everyone (S-1-1-0) stands for the "other" class of a POSIX mode and maps
// to no id.
type Mapper struct {
	domain SID // S-1-5-21-a-b-c
}

// NewMapper returns the mapper of the machine domain SID domain.
func NewMapper(domain SID) Mapper { return Mapper{domain: domain} }

// Domain is the machine SID.
func (m Mapper) Domain() SID { return m.domain }

// UserSID is uid's SID.
func (m Mapper) UserSID(uid uint32) SID {
	if uint64(uid) > (maxRID-ridBase)/2 {
		return sidUnixUsers.Child(uid)
	}
	return m.domain.Child(ridBase + 2*uid)
}

// GroupSID is gid's SID.
func (m Mapper) GroupSID(gid uint32) SID {
	if uint64(gid) > (maxRID-ridBase-1)/2 {
		return sidUnixGroups.Child(gid)
	}
	return m.domain.Child(ridBase + 1 + 2*gid)
}

// IDKind says what a SID maps to.
type IDKind uint8

// Kinds of ids.
const (
	NoID IDKind = iota
	UserID
	GroupID
)

// ID maps a SID back to a uid or gid.
func (m Mapper) ID(s SID) (IDKind, uint32) {
	switch {
	case s == SIDSystem:
		return UserID, 0
	case s == SIDAdministrators:
		return GroupID, 0
	case s.N == 2 && s.Parent() == sidUnixUsers:
		return UserID, s.RID()
	case s.N == 2 && s.Parent() == sidUnixGroups:
		return GroupID, s.RID()
	case s.N == m.domain.N+1 && s.Parent() == m.domain && s.RID() >= ridBase:
		r := s.RID() - ridBase
		if r%2 == 0 {
			return UserID, r / 2
		}
		return GroupID, r / 2
	}
	return NoID, 0
}
