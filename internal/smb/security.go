package smb

import (
	"encoding/binary"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/identity"
)

// A file without a descriptor of its own (sdstore.go) shows one
// synthesized from the POSIX owner, group and mode, and a descriptor a
// client sets is also turned back into them, so NFS sees the nearest
// POSIX permissions.
//
// The owner and group are SIDs of the server's machine domain (package
// identity maps uid u and gid g to fixed relative ids, so the SIDs are
// stable across restarts and servers sharing a store). The DACL has up to
// three allow entries, in this order: the owner with its permission bits,
// the group with its, and Everyone with the "other" bits, each entry
// granting:
//
//	always      READ_CONTROL, SYNCHRONIZE, READ_ATTRIBUTES, READ_EA
//	r           READ_DATA (LIST_DIRECTORY)
//	w           WRITE_DATA, APPEND_DATA, WRITE_ATTRIBUTES, WRITE_EA
//	            and, for a directory, DELETE_CHILD
//	x           EXECUTE (TRAVERSE)
//	owner       WRITE_DAC, WRITE_OWNER, WRITE_ATTRIBUTES, WRITE_EA,
//	            and for rwx all of FILE_ALL_ACCESS
//
// An entry with none of r, w and x is left out, except the owner's. The
// owner's entry of a file other than a directory always has w: that bit
// of the mode is the READONLY attribute (fileinfo.go), not a permission
// (package fs lets the owner write whatever it says), so setting READONLY
// leaves the DACL as it was, as on Windows.
//
// The mode a DACL leaves (what NFS sees and checks) gives each class what
// the DACL grants, by the algorithm of sdaccess.go, to a caller who is of
// that class and nothing more:
//
//	owner   the SID of the file's uid, Everyone, Authenticated Users, and
//	        OWNER RIGHTS (it is the owner)
//	group   the SID of the file's gid, Everyone, Authenticated Users
//	other   Everyone
//
// r being READ_DATA, w WRITE_DATA and x EXECUTE (generic rights mapped).
// So an entry for Everyone reaches the owner and the group too, a deny
// entry takes from the classes it reaches what no earlier entry gave
// them, and "other" is only what is granted to everyone, anonymous
// callers included. Entries for other users and groups have no class to
// go to: SMB honours them (sdaccess.go), NFS, which checks the mode,
// cannot; Samba's acl_xattr keeps them in a POSIX ACL the kernel checks,
// package fs has no ACL. A NULL DACL is rwx for everyone. The owner's
// write bit of a file other than a directory is its READONLY attribute
// (fileinfo.go), which Windows keeps apart from the DACL, so a DACL
// leaves that bit alone. A descriptor made from a mode and set again
// leaves the mode as it was, unless the mode gives the owner or the group
// less than the others (0604): the descriptor's Everyone entry then
// reaches them as well, on Windows as here.

// SECURITY_INFORMATION bits of QUERY_INFO and SET_INFO.
const (
	secOwner = 0x00000001
	secGroup = 0x00000002
	secDACL  = 0x00000004
	secSACL  = 0x00000008
)

// Security descriptor control bits and ACE types and flags (MS-DTYP 2.4).
const (
	seDACLPresent  = 0x0004
	seSelfRelative = 0x8000

	aceAllowed     = 0x00
	aceDenied      = 0x01
	aceInheritOnly = 0x08

	aclRevision = 2
)

// aceMask is the access mask an ACE grants for the permission bits rwx
// (4, 2, 1).
func aceMask(rwx uint32, dir, owner bool) uint32 {
	if owner && rwx == 7 {
		return fileAllAccess
	}
	m := uint32(readControl | synchronize | fileReadAttributes | fileReadEA)
	if rwx&4 != 0 {
		m |= fileReadData
	}
	if rwx&2 != 0 {
		m |= fileWriteData | fileAppendData | fileWriteAttributes | fileWriteEA
		if dir {
			m |= fileDeleteChild
		}
	}
	if rwx&1 != 0 {
		m |= fileExecute
	}
	if owner {
		m |= writeDAC | writeOwner | fileWriteAttributes | fileWriteEA
	}
	return m
}

// maskBits is the permission bits an access mask grants.
func maskBits(m uint32) uint32 {
	m = mapGeneric(m)
	var rwx uint32
	if m&fileReadData != 0 {
		rwx |= 4
	}
	if m&fileWriteData != 0 {
		rwx |= 2
	}
	if m&fileExecute != 0 {
		rwx |= 1
	}
	return rwx
}

// buildSD returns the self-relative descriptor of a file with the parts
// info asks for (owner, group, DACL; a SACL is never returned).
func buildSD(a *fs.Attr, info uint32, m identity.Mapper) []byte {
	owner, group := m.UserSID(a.UID), m.GroupSID(a.GID)
	b := make([]byte, 20, 160)
	b[0] = 1
	control := uint16(seSelfRelative)
	if info&secOwner != 0 {
		binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
		b = owner.Append(b)
	}
	if info&secGroup != 0 {
		binary.LittleEndian.PutUint32(b[8:], uint32(len(b)))
		b = group.Append(b)
	}
	if info&secDACL != 0 {
		control |= seDACLPresent
		binary.LittleEndian.PutUint32(b[16:], uint32(len(b)))
		dir := a.Type == fs.TypeDir
		start := len(b)
		b = append(b, aclRevision, 0, 0, 0, 0, 0, 0, 0)
		n := 0
		for i, sid := range [3]identity.SID{owner, group, identity.SIDEveryone} {
			rwx := a.Mode >> (6 - 3*i) & 7
			if rwx == 0 && i > 0 {
				continue
			}
			if i == 0 && !dir {
				// The owner's write bit is READONLY, an attribute:
				// the owner may write whatever it says (package fs).
				rwx |= 2
			}
			b = append(b, aceAllowed, 0)
			b = binary.LittleEndian.AppendUint16(b, uint16(8+sid.Size()))
			b = binary.LittleEndian.AppendUint32(b, aceMask(rwx, dir, i == 0))
			b = sid.Append(b)
			n++
		}
		binary.LittleEndian.PutUint16(b[start+2:], uint16(len(b)-start))
		binary.LittleEndian.PutUint16(b[start+4:], uint16(n))
	}
	binary.LittleEndian.PutUint16(b[2:], control)
	return b
}

// sdChange is what a descriptor set by a client changes.
type sdChange struct {
	owner, group *identity.SID
	dacl         bool  // the descriptor has a DACL part
	nullDACL     bool  // ... which is NULL: everyone may do everything
	aces         []ace // ... else its entries
}

type ace struct {
	typ, flags uint8
	mask       uint32
	sid        identity.SID
}

// parseSD decodes a self-relative descriptor, taking the parts info
// names. ok is false for a malformed one.
func parseSD(b []byte, info uint32) (sdChange, bool) {
	var c sdChange
	if len(b) < 20 || b[0] != 1 {
		return c, false
	}
	control := binary.LittleEndian.Uint16(b[2:])
	if control&seSelfRelative == 0 {
		return c, false
	}
	sidAt := func(off uint32) (*identity.SID, bool) {
		if off == 0 {
			return nil, true
		}
		if off < 20 || off >= uint32(len(b)) {
			return nil, false
		}
		s, _, err := identity.DecodeSID(b[off:])
		if err != nil {
			return nil, false
		}
		return &s, true
	}
	var ok bool
	if info&secOwner != 0 {
		if c.owner, ok = sidAt(binary.LittleEndian.Uint32(b[4:])); !ok {
			return c, false
		}
	}
	if info&secGroup != 0 {
		if c.group, ok = sidAt(binary.LittleEndian.Uint32(b[8:])); !ok {
			return c, false
		}
	}
	if info&secDACL == 0 || control&seDACLPresent == 0 {
		return c, true
	}
	c.dacl = true
	off := binary.LittleEndian.Uint32(b[16:])
	if off == 0 {
		c.nullDACL = true
		return c, true
	}
	if off < 20 || uint64(off)+8 > uint64(len(b)) {
		return c, false
	}
	acl := b[off:]
	size := int(binary.LittleEndian.Uint16(acl[2:]))
	count := int(binary.LittleEndian.Uint16(acl[4:]))
	if size < 8 || size > len(acl) {
		return c, false
	}
	acl = acl[8:size]
	for range count {
		if len(acl) < 8 {
			return c, false
		}
		n := int(binary.LittleEndian.Uint16(acl[2:]))
		if n < 8 || n > len(acl) {
			return c, false
		}
		e := ace{typ: acl[0], flags: acl[1], mask: binary.LittleEndian.Uint32(acl[4:])}
		if e.typ == aceAllowed || e.typ == aceDenied {
			s, _, err := identity.DecodeSID(acl[8:n])
			if err != nil {
				return c, false
			}
			e.sid = s
			c.aces = append(c.aces, e)
		}
		acl = acl[n:]
	}
	return c, true
}

// mode is the permission bits (0777) the DACL gives a file owned by
// owner and group.
func (c *sdChange) mode(owner, group identity.SID) uint32 {
	if c.nullDACL {
		return 0o777
	}
	everyone, au := identity.SIDEveryone, identity.SIDAuthenticatedUsers
	u := maskBits(granted(c.aces, []identity.SID{owner, everyone, au}, true))
	g := maskBits(granted(c.aces, []identity.SID{group, everyone, au}, false))
	o := maskBits(granted(c.aces, []identity.SID{everyone}, false))
	return u<<6 | g<<3 | o
}

// mapStoredGeneric is a copy of the ACL acl with the generic rights of
// each entry that applies to the object itself (not inherit-only) mapped
// to the file rights they stand for, as Windows stores a DACL it is given
// (its RtlpApplyAclToObject); inherit-only entries keep theirs, to be
// mapped in the files that inherit them (sdinherit.go).
func mapStoredGeneric(acl []byte) []byte {
	if acl == nil {
		return nil
	}
	out := make([]byte, len(acl))
	copy(out, acl)
	count := int(binary.LittleEndian.Uint16(out[4:]))
	b := out[8:]
	for range count {
		if len(b) < 8 {
			break
		}
		n := int(binary.LittleEndian.Uint16(b[2:]))
		if n < 8 || n > len(b) {
			break
		}
		// Every ACE type keeps its mask at offset 4.
		if b[1]&aceInheritOnly == 0 {
			binary.LittleEndian.PutUint32(b[4:], mapGeneric(binary.LittleEndian.Uint32(b[4:])))
		}
		b = b[n:]
	}
	return out
}

// setAttr is the attribute change that applying c to a file (attributes
// a) makes. Owners and groups that map to no uid or gid are ignored, as
// Windows clients name groups (such as "None") this server does not know.
func (c *sdChange) setAttr(a *fs.Attr, m identity.Mapper) fs.SetAttr {
	var sa fs.SetAttr
	uid, gid := a.UID, a.GID
	if c.owner != nil {
		if kind, id := m.ID(*c.owner); kind == identity.UserID && id != a.UID {
			sa.Mask |= fs.SetUID
			sa.UID, uid = id, id
		}
	}
	if c.group != nil {
		if kind, id := m.ID(*c.group); kind == identity.GroupID && id != a.GID {
			sa.Mask |= fs.SetGID
			sa.GID, gid = id, id
		}
	}
	if c.dacl {
		mode := a.Mode&^0o777 | c.mode(m.UserSID(uid), m.GroupSID(gid))
		if a.Type != fs.TypeDir {
			mode = mode&^0o200 | a.Mode&0o200
		}
		if mode != a.Mode || sa.Mask&(fs.SetUID|fs.SetGID) != 0 {
			sa.Mask |= fs.SetMode
			sa.Mode = mode
		}
	}
	return sa
}
