package smb

import (
	"context"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/identity"
)

// A file with a stored descriptor (sdstore.go) is checked against its
// DACL alone, as Windows checks it (MS-DTYP 2.5.3.2, the MAXIMUM_ALLOWED
// form: what is granted is the sum over the entries):
//
//   - the owner (the descriptor's owner SID is one the caller holds) is
//     granted READ_CONTROL and WRITE_DAC first, unless the DACL has an
//     entry, not inherit-only, for OWNER RIGHTS (S-1-3-4): then that
//     entry says what the owner may, and nothing is implicit;
//   - the entries are read in order, skipping inherit-only ones and those
//     naming a SID the caller does not hold (OWNER RIGHTS is held by the
//     owner); an allow entry grants what no earlier entry denied, a deny
//     entry denies what no earlier entry granted;
//   - a NULL DACL grants everything, an empty one nothing but the owner's
//     implicit rights.
//
// Nothing else is granted implicitly: not READ_ATTRIBUTES, READ_EA,
// READ_CONTROL or SYNCHRONIZE, which MS-DTYP does not grant without an
// entry either. The caller holds the SIDs of its uid, its groups,
// Everyone and, unless anonymous, Authenticated Users; root (uid 0) may do
// anything, as Samba lets it.
//
// The open adds what the file's directory grants on the file's behalf
// (MS-FSA 2.1.5.1.2.1; access.go): DELETE by FILE_DELETE_CHILD on it,
// READ_ATTRIBUTES by FILE_LIST_DIRECTORY on it, each read from the
// directory's own DACL if it has a stored descriptor, else from its mode
// (write and search, read).

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

func holds(sids []identity.SID, s identity.SID) bool {
	for _, h := range sids {
		if h == s {
			return true
		}
	}
	return false
}

// granted is what the DACL entries aces grant the holder of sids, who is
// the owner if owner is true; the owner's implicit rights included.
func granted(aces []ace, sids []identity.SID, owner bool) uint32 {
	var got, denied uint32
	if owner {
		got = readControl | writeDAC
		for _, e := range aces {
			if e.flags&aceInheritOnly == 0 && e.sid == identity.SIDOwnerRights {
				got = 0
				break
			}
		}
	}
	for _, e := range aces {
		if e.flags&aceInheritOnly != 0 {
			continue
		}
		if !holds(sids, e.sid) && !(owner && e.sid == identity.SIDOwnerRights) {
			continue
		}
		// Stored entries have their generic rights mapped already; those
		// stored before that was done are mapped here.
		mask := mapGeneric(e.mask)
		if e.typ == aceAllowed {
			got |= mask &^ denied
		} else {
			denied |= mask &^ got
		}
	}
	return got
}

// daclAccess is what the self-relative descriptor sd grants the holder of
// sids.
func daclAccess(sd []byte, sids []identity.SID) uint32 {
	c, ok := parseSD(sd, secOwner|secDACL)
	switch {
	case !ok:
		return 0
	case !c.dacl || c.nullDACL:
		return fileAllAccess // no DACL or a NULL one: no protection
	}
	return granted(c.aces, sids, c.owner != nil && holds(sids, *c.owner))
}

// sdAccess is what the stored descriptor sd grants the caller.
func (s *Server) sdAccess(ctx context.Context, r *Request, sd []byte) uint32 {
	c := r.Caller()
	if !c.Anonymous && c.UID == 0 {
		return fileAllAccess
	}
	m, err := s.sidMapper(ctx)
	if err != nil {
		return 0
	}
	return daclAccess(sd, callerSIDs(c, m))
}

// dirGrantsSD reports, for a directory dir with a stored descriptor,
// whether it grants the caller all of bits; known is false when it has
// none.
func (s *Server) dirGrantsSD(ctx context.Context, r *Request, dir fs.Handle, bits uint32) (allowed, known bool) {
	sd, _ := s.storedSD(ctx, r, dir)
	if sd == nil {
		return false, false
	}
	return s.sdAccess(ctx, r, sd)&bits == bits, true
}

// judgedAs is c marked as judged by a DACL (fs.Caller.Judged) if judged,
// a copy so that the session's caller stays unmarked.
func judgedAs(c *fs.Caller, judged bool) *fs.Caller {
	if !judged {
		return c
	}
	jc := *c
	jc.Judged = true
	return &jc
}
