package smb

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/tandemfs/tandem/internal/identity"
)

// sidOwnerRights is OWNER RIGHTS (S-1-3-4), spelled here so that the
// tests do not lean on the server's own constant.
var sidOwnerRights = identity.SID{Authority: 3, N: 1, Sub: [15]uint32{4}}

// refStore is what a server stores of a DACL a client sets, per MS-DTYP
// and Windows: the generic rights of each entry that applies to the
// object itself (not inherit-only) become the file rights they stand for.
func refStore(aces []testACE) []testACE {
	out := make([]testACE, len(aces))
	for i, a := range aces {
		if a.flags&aceInheritOnly == 0 {
			m := a.mask
			if m&genericRead != 0 {
				m |= fileGenericRead
			}
			if m&genericWrite != 0 {
				m |= fileGenericWrite
			}
			if m&genericExecute != 0 {
				m |= fileGenericExecute
			}
			if m&genericAll != 0 {
				m |= fileAllAccess
			}
			a.mask = m &^ (genericRead | genericWrite | genericExecute | genericAll)
		}
		out[i] = a
	}
	return out
}

// refAccessCheck is MS-DTYP 2.5.3.2 AccessCheck for a desired mask of
// specific rights, as its pseudocode reads: the owner is granted
// READ_CONTROL and WRITE_DAC unless the DACL has an OWNER RIGHTS entry;
// then the entries in order, inherit-only ones skipped, an allow entry
// removing what it grants from what remains, a deny entry naming any of
// what remains failing the check.
func refAccessCheck(owner identity.SID, aces []testACE, token []identity.SID, desired uint32) bool {
	in := func(s identity.SID) bool {
		for _, t := range token {
			if t == s {
				return true
			}
		}
		return false
	}
	remaining := desired
	isOwner := in(owner)
	ownerRights := false
	for _, a := range aces {
		if a.flags&aceInheritOnly == 0 && a.sid == sidOwnerRights {
			ownerRights = true
		}
	}
	if isOwner && !ownerRights {
		remaining &^= readControl | writeDAC
	}
	for _, a := range aces {
		if remaining == 0 {
			break
		}
		if a.flags&aceInheritOnly != 0 {
			continue
		}
		if !in(a.sid) && !(a.sid == sidOwnerRights && isOwner) {
			continue
		}
		switch a.typ {
		case aceAllowed:
			remaining &^= a.mask
		case aceDenied:
			if a.mask&remaining != 0 {
				return false
			}
		}
	}
	return remaining == 0
}

// refMaximal is what MAXIMUM_ALLOWED is granted (MS-FSA 2.1.5.1.2.1):
// every right of FILE_ALL_ACCESS that AccessCheck grants alone.
func refMaximal(owner identity.SID, aces []testACE, token []identity.SID) uint32 {
	var got uint32
	for bit := uint32(1); bit != 0; bit <<= 1 {
		if fileAllAccess&bit != 0 && refAccessCheck(owner, aces, token, bit) {
			got |= bit
		}
	}
	return got
}

// daclEnv is a server with a third user, carol, in a group of her own,
// and a directory "t" that alice owns and whose DACL lets alice add
// files and set their descriptors and everyone traverse, and grants no one
// LIST_DIRECTORY or DELETE_CHILD: a file's own DACL then decides alone
// (the directory adds neither READ_ATTRIBUTES nor DELETE).
type daclEnv struct {
	*env
	m                  identity.Mapper
	alice, bob, carol  *raw
	aliceSID, groupSID identity.SID
}

const carolPass = "c4rol-pass"

func newDACLEnv(t *testing.T) *daclEnv {
	e := newEnv(t, Options{})
	ctx := context.Background()
	if err := e.ids.AddUser(ctx, "carol", carolPass, 1002, 1002); err != nil {
		t.Fatal(err)
	}
	m, err := e.ids.Mapper(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := &daclEnv{env: e, m: m, aliceSID: m.UserSID(1000), groupSID: m.GroupSID(1000)}
	d.alice = e.connect("export")
	d.bob = e.connectAs("bob", bobPass, "export")
	d.carol = e.connectAs("carol", carolPass, "export")
	dir := d.alice.mustCreate(createReq{name: "t", access: readControl | writeDAC, share: shareAll, disp: dispCreate, options: optDirectory})
	sd := testSD(nil, nil, true,
		testACE{mask: fileTraverse | fileAddFile | fileAddSub | readControl | writeDAC | synchronize, sid: d.aliceSID},
		testACE{mask: fileTraverse | synchronize, sid: identity.SIDEveryone})
	if st := d.alice.setInfo(dir, infoSecurity, 0, sd, secDACL); st != StatusSuccess {
		t.Fatalf("DACL of t: %v", st)
	}
	d.alice.close(dir)
	return d
}

// file makes t\name, alice's, with the DACL aces.
func (d *daclEnv) file(t *testing.T, name string, aces ...testACE) {
	t.Helper()
	id := d.alice.mustCreate(createReq{name: `t\` + name, access: readControl | writeDAC, share: shareAll, disp: dispCreate})
	if st := d.alice.setInfo(id, infoSecurity, 0, testSD(nil, nil, true, aces...), secDACL); st != StatusSuccess {
		t.Fatalf("DACL of %s: %v", name, st)
	}
	d.alice.close(id)
}

// Access rights of directories under their own names.
const (
	fileListDir  = fileReadData
	fileAddFile  = fileWriteData
	fileAddSub   = fileAppendData
	fileTraverse = fileExecute
)

// TestDACLAccessTable opens files whose DACLs the table gives as their
// owner (alice), a member of their group (bob) and someone else (carol),
// asking for each right in turn and for MAXIMUM_ALLOWED, and holds every
// answer, the granted access and the MxAc context to MS-DTYP's algorithm.
func TestDACLAccessTable(t *testing.T) {
	d := newDACLEnv(t)
	everyone, au := identity.SIDEveryone, identity.SIDAuthenticatedUsers
	bobSID, carolSID := d.m.UserSID(1001), d.m.UserSID(1002)
	callers := []struct {
		name  string
		c     *raw
		token []identity.SID
	}{
		{"owner", d.alice, []identity.SID{d.aliceSID, d.groupSID, everyone, au}},
		{"group", d.bob, []identity.SID{bobSID, d.groupSID, everyone, au}},
		{"other", d.carol, []identity.SID{carolSID, d.m.GroupSID(1002), everyone, au}},
	}
	deny := func(m uint32, s identity.SID) testACE { return testACE{typ: aceDenied, mask: m, sid: s} }
	allow := func(m uint32, s identity.SID) testACE { return testACE{mask: m, sid: s} }
	table := []struct {
		name string
		aces []testACE
	}{
		{"everyone reads (generic)", []testACE{allow(genericRead, everyone)}},
		{"everyone all, owner included", []testACE{allow(fileAllAccess, everyone)}},
		{"deny bob read before everyone rw", []testACE{deny(fileReadData, bobSID), allow(genericRead|genericWrite, everyone)}},
		{"deny everyone READ_EA first", []testACE{deny(fileReadEA, everyone), allow(fileGenericRead, everyone)}},
		{"deny READ_CONTROL and READ_ATTRIBUTES", []testACE{deny(readControl|fileReadAttributes, everyone), allow(fileGenericRead, everyone)}},
		{"deny SYNCHRONIZE", []testACE{deny(synchronize, au), allow(fileGenericRead|fileGenericWrite, everyone)}},
		{"allow before deny", []testACE{allow(fileReadData|synchronize, everyone), deny(fileReadData, everyone)}},
		{"owner rights replace the owner's", []testACE{allow(fileReadData|fileReadAttributes, sidOwnerRights), allow(synchronize, everyone)}},
		{"owner rights granting WRITE_DAC", []testACE{allow(writeDAC|fileWriteData, sidOwnerRights), allow(fileGenericRead, au)}},
		{"inherit-only owner rights do not count", []testACE{{flags: aceObjectInherit | aceInheritOnly, mask: fileReadData, sid: sidOwnerRights}, allow(fileReadAttributes, everyone)}},
		{"group denied write, all allowed", []testACE{allow(fileReadData|fileReadAttributes, d.groupSID), deny(fileWriteData|fileAppendData, d.groupSID), allow(genericAll, everyone)}},
		{"authenticated users generic all", []testACE{allow(genericAll, au)}},
		{"inherit-only entries do not apply", []testACE{{flags: aceObjectInherit | aceInheritOnly, mask: fileAllAccess, sid: everyone}, allow(fileReadAttributes, everyone)}},
		{"named user only", []testACE{allow(fileGenericRead|fileGenericWrite|accessDelete, carolSID)}},
		{"empty", nil},
	}
	asks := []uint32{readControl, fileReadEA, fileReadAttributes, synchronize, fileReadData, fileWriteData,
		fileReadAttributes | synchronize, genericRead, genericWrite, genericExecute, genericAll, writeDAC, writeOwner, accessDelete, maximumAllowed}
	for i, row := range table {
		name := fmt.Sprintf("f%d", i)
		d.file(t, name, row.aces...)
		stored := refStore(row.aces)
		for _, who := range callers {
			max := refMaximal(d.aliceSID, stored, who.token)
			for _, ask := range asks {
				want := StatusSuccess
				switch {
				case ask == maximumAllowed && max == 0:
					want = StatusAccessDenied
				case ask != maximumAllowed && !refAccessCheck(d.aliceSID, stored, who.token, mapGenericRef(ask)):
					want = StatusAccessDenied
				}
				cr := who.c.create(createReq{name: `t\` + name, access: ask, share: shareAll, disp: dispOpen, contexts: ctxChain("MxAc", []byte{})})
				if cr.Status != want {
					t.Errorf("%s: %s asks %#x: %v, want %v", row.name, who.name, ask, cr.Status, want)
				}
				if cr.Status != StatusSuccess {
					continue
				}
				if mx := cr.contexts["MxAc"]; len(mx) != 8 || binary.LittleEndian.Uint32(mx[4:]) != max {
					t.Errorf("%s: %s MxAc %x, want %#x", row.name, who.name, mx, max)
				}
				if ask == maximumAllowed {
					got, st := who.c.queryInfo(cr.ID, infoFile, classFileAccess, 4, 0)
					if st != StatusSuccess || binary.LittleEndian.Uint32(got) != max {
						t.Errorf("%s: %s MAXIMUM_ALLOWED granted %x (%v), want %#x", row.name, who.name, got, st, max)
					}
				}
				who.c.close(cr.ID)
			}
		}
	}
}

// mapGenericRef maps generic rights as MS-DTYP 2.5.3.2 maps a desired
// access (the file object's mapping, MS-SMB2 2.2.13.1.1).
func mapGenericRef(m uint32) uint32 {
	return refStore([]testACE{{mask: m}})[0].mask
}
