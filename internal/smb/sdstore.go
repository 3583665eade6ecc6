package smb

import (
	"context"
	"encoding/binary"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/identity"
)

// A security descriptor a client gives (at CREATE or with SET_INFO) is
// kept as given, in the file system's extended attribute "system.ntsd",
// and returned exactly, except that the generic rights of its DACL's
// entries are mapped to file rights, as Windows stores them
// (security.go); a file without one shows the descriptor made from its
// mode (security.go). The descriptor still sets the file's owner, group
// and mode as far as they can say it, so NFS sees the nearest POSIX
// permissions. SMB then checks the file by the stored DACL alone
// (sdaccess.go), NFS by the mode.
//
// NFS changes win: the record carries the uid, gid and mode the file had
// when it was stored, and a descriptor whose file has since been chowned
// or chmodded over NFS no longer applies; the file then shows, and is
// checked against, the descriptor made from its new mode, as Samba's
// acl_xattr does when the POSIX ACL changed underneath. Changes SMB makes
// to the mode itself (the READONLY attribute, an overwrite) carry the
// stored descriptor over.
//
// Record: version (1), uid, gid, mode (little-endian uint32s), then the
// self-relative descriptor.
const (
	xattrNTSD     = fs.XattrSystem + "ntsd"
	sdRecordV1    = 1
	sdRecordHead  = 13     // version, uid, gid, mode
	sdModeStamped = 0o7777 // the mode bits a record remembers
)

// Control bits of each part (MS-DTYP 2.4.6).
const (
	seOwnerDefaulted = 0x0001
	seGroupDefaulted = 0x0002
	seDACLDefaulted  = 0x0008
	seSACLPresent    = 0x0010
	seSACLDefaulted  = 0x0020
	seDACLAutoInh    = 0x0400
	seSACLAutoInh    = 0x0800
	seDACLProtected  = 0x1000
	seSACLProtected  = 0x2000

	seDACLBits = seDACLPresent | seDACLDefaulted | seDACLAutoInh | seDACLProtected
	seSACLBits = seSACLPresent | seSACLDefaulted | seSACLAutoInh | seSACLProtected
)

// sdParts is a descriptor taken apart. A nil owner or group is absent; a
// nil dacl with seDACLPresent is the NULL DACL.
type sdParts struct {
	control      uint16
	owner, group []byte // binary SIDs
	sacl, dacl   []byte // ACLs, header included
}

// splitSD takes a self-relative descriptor apart; ok is false for a
// malformed one.
func splitSD(b []byte) (p sdParts, ok bool) {
	if len(b) < 20 || b[0] != 1 {
		return p, false
	}
	p.control = binary.LittleEndian.Uint16(b[2:])
	if p.control&seSelfRelative == 0 {
		return p, false
	}
	sid := func(off uint32) ([]byte, bool) {
		if off == 0 {
			return nil, true
		}
		if off < 20 || off >= uint32(len(b)) {
			return nil, false
		}
		_, n, err := identity.DecodeSID(b[off:])
		if err != nil {
			return nil, false
		}
		return b[off : int(off)+n], true
	}
	acl := func(off uint32, present bool) ([]byte, bool) {
		if !present || off == 0 {
			return nil, true
		}
		if off < 20 || uint64(off)+8 > uint64(len(b)) {
			return nil, false
		}
		n := uint32(binary.LittleEndian.Uint16(b[off+2:]))
		if n < 8 || uint64(off)+uint64(n) > uint64(len(b)) {
			return nil, false
		}
		return b[off : off+n], true
	}
	var ok1, ok2, ok3, ok4 bool
	p.owner, ok1 = sid(binary.LittleEndian.Uint32(b[4:]))
	p.group, ok2 = sid(binary.LittleEndian.Uint32(b[8:]))
	p.sacl, ok3 = acl(binary.LittleEndian.Uint32(b[12:]), p.control&seSACLPresent != 0)
	p.dacl, ok4 = acl(binary.LittleEndian.Uint32(b[16:]), p.control&seDACLPresent != 0)
	return p, ok1 && ok2 && ok3 && ok4
}

// bytes is the self-relative descriptor of the parts info names.
func (p *sdParts) bytes(info uint32) []byte {
	b := make([]byte, 20, 20+len(p.owner)+len(p.group)+len(p.sacl)+len(p.dacl))
	b[0] = 1
	control := p.control | seSelfRelative
	put := func(at int, part []byte) {
		if part != nil {
			binary.LittleEndian.PutUint32(b[at:], uint32(len(b)))
			b = append(b, part...)
		}
	}
	if info&secOwner != 0 {
		put(4, p.owner)
	} else {
		control &^= seOwnerDefaulted
	}
	if info&secGroup != 0 {
		put(8, p.group)
	} else {
		control &^= seGroupDefaulted
	}
	if info&secSACL != 0 {
		put(12, p.sacl)
	} else {
		control &^= seSACLBits
	}
	if info&secDACL != 0 {
		put(16, p.dacl)
	} else {
		control &^= seDACLBits
	}
	binary.LittleEndian.PutUint16(b[2:], control)
	return b
}

// merge replaces the parts info names with those of in. A DACL named but
// not present in in is the NULL DACL, as Windows takes it.
func (p *sdParts) merge(in *sdParts, info uint32) {
	if info&secOwner != 0 && in.owner != nil {
		p.owner = in.owner
		p.control = p.control&^seOwnerDefaulted | in.control&seOwnerDefaulted
	}
	if info&secGroup != 0 && in.group != nil {
		p.group = in.group
		p.control = p.control&^seGroupDefaulted | in.control&seGroupDefaulted
	}
	if info&secDACL != 0 {
		p.dacl = in.dacl
		p.control = p.control&^seDACLBits | in.control&seDACLBits | seDACLPresent
	}
}

// loadSD returns the descriptor stored for the file h (attributes a), or
// nil when it has none that applies.
func (s *Server) loadSD(ctx context.Context, r *Request, h fs.Handle, a *fs.Attr) []byte {
	rec, err := s.fs.GetXattr(ctx, r.Caller(), h, xattrNTSD)
	if err != nil {
		return nil
	}
	return sdOfRecord(rec, a)
}

// sdOfRecord is the descriptor of a stored record, nil if it does not
// apply to a file with attributes a.
func sdOfRecord(rec []byte, a *fs.Attr) []byte {
	if len(rec) < sdRecordHead+20 || rec[0] != sdRecordV1 {
		return nil
	}
	if binary.LittleEndian.Uint32(rec[1:]) != a.UID || binary.LittleEndian.Uint32(rec[5:]) != a.GID ||
		binary.LittleEndian.Uint32(rec[9:]) != a.Mode&sdModeStamped {
		return nil // changed over NFS since
	}
	return rec[sdRecordHead:]
}

// storedSD is the descriptor stored for the file h, or nil, and the
// file's attributes when it has one: for callers that have not read the
// attributes yet, which most files (without a descriptor) then spare.
func (s *Server) storedSD(ctx context.Context, r *Request, h fs.Handle) ([]byte, fs.Attr) {
	rec, err := s.fs.GetXattr(ctx, r.Caller(), h, xattrNTSD)
	if err != nil || len(rec) == 0 {
		return nil, fs.Attr{}
	}
	a, err := s.fs.GetAttr(ctx, h)
	if err != nil {
		return nil, a
	}
	return sdOfRecord(rec, &a), a
}

// hasStoredSD reports whether the file h has a stored descriptor that
// applies.
func (s *Server) hasStoredSD(ctx context.Context, r *Request, h fs.Handle) bool {
	return s.hasSD(ctx, r.Caller(), h)
}

// hasSD is hasStoredSD for the caller c, for an open without a request
// (restored after a restart): its access came from the DACL if it has
// one now.
func (s *Server) hasSD(ctx context.Context, c *fs.Caller, h fs.Handle) bool {
	rec, err := s.fs.GetXattr(ctx, c, h, xattrNTSD)
	if err != nil || len(rec) == 0 {
		return false
	}
	a, err := s.fs.GetAttr(ctx, h)
	return err == nil && sdOfRecord(rec, &a) != nil
}

// saveSD stores sd for the file h, whose attributes are now a, for the
// caller c.
func (s *Server) saveSD(ctx context.Context, c *fs.Caller, h fs.Handle, a *fs.Attr, sd []byte) error {
	rec := make([]byte, sdRecordHead, sdRecordHead+len(sd))
	rec[0] = sdRecordV1
	binary.LittleEndian.PutUint32(rec[1:], a.UID)
	binary.LittleEndian.PutUint32(rec[5:], a.GID)
	binary.LittleEndian.PutUint32(rec[9:], a.Mode&sdModeStamped)
	return s.fs.SetXattr(ctx, c, h, xattrNTSD, append(rec, sd...))
}

// currentSD is the descriptor of the file h taken apart: the stored one,
// else the one made from its mode.
func (s *Server) currentSD(ctx context.Context, r *Request, h fs.Handle, a *fs.Attr) (sdParts, error) {
	if sd := s.loadSD(ctx, r, h, a); sd != nil {
		if p, ok := splitSD(sd); ok {
			return p, nil
		}
	}
	m, err := s.sidMapper(ctx)
	if err != nil {
		return sdParts{}, err
	}
	p, _ := splitSD(buildSD(a, secOwner|secGroup|secDACL, m))
	return p, nil
}

// applySD sets the parts info names of the descriptor in on the file h
// (attributes a) for the caller c: the owner, group and mode they imply,
// then the merged descriptor itself. It returns the file's new
// attributes. c is judged (fs.Caller.Judged) when the caller was granted
// WRITE_DAC and WRITE_OWNER by a stored DACL.
func (s *Server) applySD(ctx context.Context, r *Request, c *fs.Caller, h fs.Handle, a fs.Attr, in []byte, info uint32) (fs.Attr, Status) {
	inParts, ok := splitSD(in)
	if !ok {
		return a, StatusInvalidSecurityDescr
	}
	if _, ok := parseSD(in, info); !ok {
		return a, StatusInvalidSecurityDescr
	}
	cur, err := s.currentSD(ctx, r, h, &a)
	if err != nil {
		return a, StatusOf(err)
	}
	cur.merge(&inParts, info)
	if info&secDACL != 0 {
		cur.dacl = mapStoredGeneric(cur.dacl)
	}
	merged := cur.bytes(secOwner | secGroup | secDACL)
	change, ok := parseSD(merged, info)
	if !ok {
		return a, StatusInvalidSecurityDescr
	}
	m, err := s.sidMapper(ctx)
	if err != nil {
		return a, StatusOf(err)
	}
	if sa := change.setAttr(&a, m); sa.Mask != 0 {
		if _, err := s.fs.SetAttr(ctx, c, h, sa, nil); err != nil {
			return a, StatusOf(err)
		}
		if a, err = s.fs.GetAttr(ctx, h); err != nil {
			return a, StatusOf(err)
		}
	}
	if err := s.saveSD(ctx, c, h, &a, merged); err != nil {
		return a, StatusOf(err)
	}
	return a, StatusSuccess
}

// setAttrKeepSD changes the attributes of the file h (now a) for SMB's
// own reasons, as the caller c (the opener, judged if a DACL granted its
// open), and carries its stored descriptor over to the new mode.
func (s *Server) setAttrKeepSD(ctx context.Context, r *Request, c *fs.Caller, h fs.Handle, a *fs.Attr, sa fs.SetAttr) error {
	var sd []byte
	if sa.Mask&(fs.SetMode|fs.SetUID|fs.SetGID) != 0 {
		sd = s.loadSD(ctx, r, h, a)
	}
	if _, err := s.fs.SetAttr(ctx, c, h, sa, nil); err != nil {
		return err
	}
	if sd != nil {
		if na, err := s.fs.GetAttr(ctx, h); err == nil {
			s.saveSD(ctx, c, h, &na, sd) // failing, the file shows its mode's descriptor
		}
	}
	return nil
}
