package smb

import (
	"context"
	"encoding/binary"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/identity"
)

// A new file or directory inherits from the stored descriptor of the
// directory it is made in (MS-DTYP 2.5.3.4), as on Windows:
//
//   - a file takes the entries marked OBJECT_INHERIT, a directory those
//     marked CONTAINER_INHERIT (which it passes on again unless marked
//     NO_PROPAGATE_INHERIT) and, as inherit-only entries for its own
//     files, those marked OBJECT_INHERIT alone;
//   - the inherited entries are marked INHERITED when the directory's
//     DACL is marked AUTO_INHERITED (and the new DACL is marked so too),
//     as Windows marks them and Samba's RAW-ACLS and smb2.acls tests
//     expect, else not; in those that apply to
//     the new file itself, CREATOR OWNER and CREATOR GROUP become its
//     owner and group and generic rights become the file rights they
//     stand for; a directory that also passes such an entry on gets it
//     twice, as Windows makes it: the entry for itself, changed and
//     inheriting nothing, then the original, inherit-only, to pass on;
//   - the owner and group are the creator's.
//
// A directory without a stored descriptor, or whose descriptor has
// nothing to inherit, leaves the new file with the descriptor of its
// mode. A descriptor given at CREATE replaces the inherited parts it
// names.

// ACE flags of inheritance (MS-DTYP 2.4.4.1).
const (
	aceObjectInherit    = 0x01
	aceContainerInherit = 0x02
	aceNoPropagate      = 0x04
	aceInherited        = 0x10
)

// inheritSD gives the new file h (attributes a, a directory if dir) the
// descriptor it inherits from its directory parent, whose stored
// descriptor is psd (nil for none), and returns its attributes after.
func (s *Server) inheritSD(ctx context.Context, r *Request, psd []byte, h fs.Handle, a fs.Attr) fs.Attr {
	if psd == nil {
		return a
	}
	m, err := s.sidMapper(ctx)
	if err != nil {
		return a
	}
	child, ok := inheritedSD(psd, a.Type == fs.TypeDir, m.UserSID(a.UID), m.GroupSID(a.GID))
	if !ok {
		return a
	}
	if na, st := s.applySD(ctx, r, r.Caller(), h, a, child, secOwner|secGroup|secDACL); st == StatusSuccess {
		return na
	}
	return a
}

// inheritedSD is the descriptor a new file (a directory if dir) owned by
// owner and group inherits from its directory's descriptor psd; ok is
// false when there is nothing to inherit.
func inheritedSD(psd []byte, dir bool, owner, group identity.SID) ([]byte, bool) {
	p, ok := splitSD(psd)
	if !ok || p.dacl == nil {
		return nil, false
	}
	acl := p.dacl
	count := int(binary.LittleEndian.Uint16(acl[4:]))
	acl = acl[8:]
	var aces []byte
	n := 0
	inherited := uint8(0)
	if p.control&seDACLAutoInh != 0 {
		inherited = aceInherited
	}
	add := func(typ, flags uint8, mask uint32, sid []byte) {
		aces = append(aces, typ, flags|inherited)
		aces = binary.LittleEndian.AppendUint16(aces, uint16(8+len(sid)))
		aces = binary.LittleEndian.AppendUint32(aces, mask)
		aces = append(aces, sid...)
		n++
	}
	for range count {
		if len(acl) < 8 {
			break
		}
		size := int(binary.LittleEndian.Uint16(acl[2:]))
		if size < 8 || size > len(acl) {
			break
		}
		typ, flags, mask, sid := acl[0], acl[1], binary.LittleEndian.Uint32(acl[4:]), acl[8:size]
		acl = acl[size:]
		var out uint8 // the flags the new file's entry keeps (INHERITED aside)
		switch {
		case !dir && flags&aceObjectInherit != 0:
			out = 0
		case dir && flags&aceContainerInherit != 0 && flags&aceNoPropagate != 0:
			out = 0
		case dir && flags&aceContainerInherit != 0:
			out = flags & (aceObjectInherit | aceContainerInherit)
		case dir && flags&aceObjectInherit != 0 && flags&aceNoPropagate == 0:
			out = aceObjectInherit | aceInheritOnly
		default:
			continue
		}
		var sub []byte // what the entry's SID becomes in the file itself
		if s, _, err := identity.DecodeSID(sid); err == nil {
			switch s {
			case identity.SIDCreatorOwner:
				sub = owner.Append(nil)
			case identity.SIDCreatorGroup:
				sub = group.Append(nil)
			}
		}
		changes := sub != nil || mapGeneric(mask) != mask
		if sub == nil {
			sub = sid
		}
		switch {
		case out&aceInheritOnly != 0:
			add(typ, out, mask, sid) // passed on untouched, for the files
		case !changes:
			add(typ, out, mask, sid)
		case out&(aceObjectInherit|aceContainerInherit) == 0:
			add(typ, out, mapGeneric(mask), sub)
		default:
			// The directory applies it changed and passes the original on.
			add(typ, 0, mapGeneric(mask), sub)
			add(typ, out|aceInheritOnly, mask, sid)
		}
	}
	if n == 0 {
		return nil, false
	}
	child := sdParts{
		control: seSelfRelative | seDACLPresent | p.control&seDACLAutoInh,
		owner:   owner.Append(nil),
		group:   group.Append(nil),
		dacl:    make([]byte, 8, 8+len(aces)),
	}
	child.dacl[0] = p.dacl[0]
	binary.LittleEndian.PutUint16(child.dacl[2:], uint16(8+len(aces)))
	binary.LittleEndian.PutUint16(child.dacl[4:], uint16(n))
	child.dacl = append(child.dacl, aces...)
	return child.bytes(secOwner | secGroup | secDACL), true
}
