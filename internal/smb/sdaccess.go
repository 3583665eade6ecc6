package smb

import (
	"context"
	"encoding/binary"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/identity"
)

// A file with a stored descriptor (sdstore.go) is checked against its
// DACL as Windows checks it (MS-DTYP 2.5.3.2): the entries are read in
// order, skipping inherit-only ones and those naming a SID the caller
// does not hold; an allow entry grants what no earlier deny entry denied,
// a deny entry denies what no earlier allow entry granted. A NULL DACL
// grants everything, an empty one nothing. The owner may always read and
// change the descriptor (READ_CONTROL, WRITE_DAC), root may do anything,
// and anyone who reaches the file may read its attributes, as with a
// mode. The caller holds the SIDs of its uid, its groups, Everyone and,
// unless anonymous, Authenticated Users.
//
// DELETE is granted by the file's DACL, or by FILE_DELETE_CHILD on the
// directory the file is in: its DACL if it has a stored descriptor, else
// write and search permission on it, as unlink(2) has it.

// callerSIDs are the SIDs a caller holds.
func callerSIDs(c *fs.Caller, m identity.Mapper) []identity.SID {
	if c.Anonymous {
		return []identity.SID{identity.SIDEveryone, identity.SIDAnonymous}
	}
	sids := make([]identity.SID, 0, 4+len(c.Groups))
	sids = append(sids, m.UserSID(c.UID), m.GroupSID(c.GID))
	for _, g := range c.Groups {
		sids = append(sids, m.GroupSID(g))
	}
	return append(sids, identity.SIDEveryone, identity.SIDAuthenticatedUsers)
}

// daclAccess is what the DACL of the self-relative descriptor sd grants
// the holder of sids.
func daclAccess(sd []byte, sids []identity.SID) uint32 {
	p, ok := splitSD(sd)
	if !ok {
		return 0
	}
	if p.control&seDACLPresent == 0 || p.dacl == nil {
		return fileAllAccess // no DACL or a NULL one: no protection
	}
	acl := p.dacl
	count := int(binary.LittleEndian.Uint16(acl[4:]))
	acl = acl[8:]
	var granted, denied uint32
	for range count {
		if len(acl) < 8 {
			break
		}
		n := int(binary.LittleEndian.Uint16(acl[2:]))
		if n < 8 || n > len(acl) {
			break
		}
		typ, flags, mask := acl[0], acl[1], binary.LittleEndian.Uint32(acl[4:])
		entry := acl[8:n]
		acl = acl[n:]
		if flags&aceInheritOnly != 0 || (typ != aceAllowed && typ != aceDenied) {
			continue
		}
		sid, _, err := identity.DecodeSID(entry)
		if err != nil || !holds(sids, sid) {
			continue
		}
		mask = mapGeneric(mask)
		if typ == aceAllowed {
			granted |= mask &^ denied
		} else {
			denied |= mask &^ granted
		}
	}
	return granted
}

func holds(sids []identity.SID, s identity.SID) bool {
	for _, h := range sids {
		if h == s {
			return true
		}
	}
	return false
}

// sdAccess is the maximal access of the caller to a file (attributes a)
// with the stored descriptor sd.
func (s *Server) sdAccess(ctx context.Context, r *Request, sd []byte, a *fs.Attr) uint32 {
	c := r.Caller()
	if !c.Anonymous && c.UID == 0 {
		return fileAllAccess
	}
	m, err := s.sidMapper(ctx)
	if err != nil {
		return fileReadAttributes
	}
	got := daclAccess(sd, callerSIDs(c, m)) | fileReadAttributes
	if p, ok := splitSD(sd); ok && !c.Anonymous {
		if owner, _, err := identity.DecodeSID(p.owner); err == nil && owner == m.UserSID(c.UID) {
			got |= readControl | writeDAC
		}
	}
	return got
}

// deleteChildSD reports, for a directory dir with a stored descriptor,
// whether it grants the caller FILE_DELETE_CHILD; known is false when it
// has none.
func (s *Server) deleteChildSD(ctx context.Context, r *Request, dir fs.Handle) (allowed, known bool) {
	sd, da := s.storedSD(ctx, r, dir)
	if sd == nil {
		return false, false
	}
	return s.sdAccess(ctx, r, sd, &da)&fileDeleteChild != 0, true
}
