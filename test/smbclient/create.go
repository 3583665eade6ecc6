package smbclient

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tandemfs/tandem/test/ntlm"
)

// FileID names an open (MS-SMB2 2.2.14.1): the persistent half survives a
// reconnect of a durable handle, the volatile half is this server run's.
type FileID struct {
	Persistent, Volatile uint64
}

func getFileID(b []byte) FileID {
	return FileID{binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[8:])}
}

func (f FileID) put(b []byte) {
	binary.LittleEndian.PutUint64(b, f.Persistent)
	binary.LittleEndian.PutUint64(b[8:], f.Volatile)
}

func (f FileID) String() string { return fmt.Sprintf("%016x:%016x", f.Persistent, f.Volatile) }

// OplockLevel is the RequestedOplockLevel of CREATE and the level granted.
type OplockLevel uint8

// The levels; OplockLease asks for the lease of CreateRequest.Lease.
const (
	OplockNone      OplockLevel = 0x00
	OplockII        OplockLevel = 0x01
	OplockExclusive OplockLevel = 0x08
	OplockBatch     OplockLevel = 0x09
	OplockLease     OplockLevel = 0xff
)

// LeaseState is what a lease caches: read, handle and write bits.
type LeaseState uint32

// The lease state bits.
const (
	LeaseNone   LeaseState = 0
	LeaseRead   LeaseState = 0x01
	LeaseHandle LeaseState = 0x02
	LeaseWrite  LeaseState = 0x04
	LeaseRWH               = LeaseRead | LeaseWrite | LeaseHandle
)

func (s LeaseState) String() string {
	out := ""
	for _, b := range []struct {
		bit LeaseState
		c   string
	}{{LeaseRead, "R"}, {LeaseWrite, "W"}, {LeaseHandle, "H"}} {
		if s&b.bit != 0 {
			out += b.c
		}
	}
	if out == "" {
		return "none"
	}
	return out
}

// Access masks, share access, dispositions and options of CREATE
// (MS-SMB2 2.2.13), the ones tests use.
const (
	AccessReadData       = 0x00000001
	AccessWriteData      = 0x00000002
	AccessAppendData     = 0x00000004
	AccessReadEA         = 0x00000008
	AccessWriteEA        = 0x00000010
	AccessReadAttrs      = 0x00000080
	AccessWriteAttrs     = 0x00000100
	AccessDelete         = 0x00010000
	AccessReadControl    = 0x00020000
	AccessSynchronize    = 0x00100000
	AccessGenericRead    = 0x80000000
	AccessGenericWrite   = 0x40000000
	AccessGenericAll     = 0x10000000
	AccessMaximumAllowed = 0x02000000
	// AccessReadWrite is FILE_GENERIC_READ | FILE_GENERIC_WRITE.
	AccessReadWrite = 0x0012019f

	ShareRead   = 0x1
	ShareWrite  = 0x2
	ShareDelete = 0x4
	ShareAll    = ShareRead | ShareWrite | ShareDelete

	DispositionSupersede   = 0
	DispositionOpen        = 1
	DispositionCreate      = 2
	DispositionOpenIf      = 3
	DispositionOverwrite   = 4
	DispositionOverwriteIf = 5

	OptionDirectory      = 0x00000001
	OptionWriteThrough   = 0x00000002
	OptionNonDirectory   = 0x00000040
	OptionDeleteOnClose  = 0x00001000
	AttributeNormal      = 0x00000080
	AttributeDirectory   = 0x00000010
	ActionOpened         = 1
	ActionCreated        = 2
	ActionOverwritten    = 3
	DurablePersistent    = 0x00000002 // DH2Q and DH2C flag
	LeaseBreakInProgress = 0x00000002 // lease response flag
	LeaseParentKeySet    = 0x00000004 // lease request and response flag
)

// LeaseRequest is the RqLs create context (MS-SMB2 2.2.13.2.8 and
// 2.2.13.2.10).
type LeaseRequest struct {
	Key   [16]byte
	State LeaseState
	// V2 sends a version 2 lease request (52 bytes) with the parent key
	// (if ParentKey is set) and the epoch.
	V2        bool
	ParentKey *[16]byte
	Epoch     uint16
}

// LeaseResponse is the RqLs context of a CREATE response.
type LeaseResponse struct {
	V2        bool // a version 2 response (52 bytes)
	Key       [16]byte
	State     LeaseState
	Flags     uint32 // LeaseBreakInProgress, LeaseParentKeySet
	ParentKey [16]byte
	Epoch     uint16
}

// DurableV2Request is the DH2Q create context (2.2.13.2.11).
type DurableV2Request struct {
	CreateGUID [16]byte
	Timeout    uint32 // milliseconds; 0 lets the server choose
	Flags      uint32 // DurablePersistent
}

// DurableV2Reconnect is the DH2C create context (2.2.13.2.12).
type DurableV2Reconnect struct {
	FileID     FileID
	CreateGUID [16]byte
	Flags      uint32 // DurablePersistent
}

// DurableV2Response is the DH2Q context of a CREATE response
// (2.2.14.2.12).
type DurableV2Response struct {
	Timeout uint32
	Flags   uint32
}

// CreateContext is a create context by name, for contexts this package
// has no field for (and for reading every response context).
type CreateContext struct {
	Name string
	Data []byte
}

// CreateRequest is a CREATE (MS-SMB2 2.2.13). Zero fields are sent as
// zero: a test says what it asks for.
type CreateRequest struct {
	DesiredAccess  uint32
	FileAttributes uint32
	ShareAccess    uint32
	Disposition    uint32
	Options        uint32
	// OplockLevel is the RequestedOplockLevel; a lease is asked for by
	// OplockLease and Lease together.
	OplockLevel OplockLevel
	Lease       *LeaseRequest
	// Durable asks for a durable handle, version 1 (DHnQ).
	Durable bool
	// DurableV2 asks for a durable handle, version 2 (DH2Q).
	DurableV2 *DurableV2Request
	// Reconnect reconnects the durable handle of this FileId (DHnC).
	Reconnect *FileID
	// ReconnectV2 reconnects a version 2 durable handle (DH2C).
	ReconnectV2 *DurableV2Reconnect
	// Replay sets SMB2_FLAGS_REPLAY_OPERATION in the header (3.x).
	Replay bool
	// Contexts are sent after the ones above, as given.
	Contexts []CreateContext
}

// CreateResponse is the outcome of a CREATE. Only Status is meaningful
// unless it is StatusSuccess.
type CreateResponse struct {
	Status         Status
	FileID         FileID
	OplockLevel    OplockLevel
	CreateAction   uint32
	EndOfFile      uint64
	FileAttributes uint32
	// Lease is the lease granted (RqLs response context), nil if none.
	Lease *LeaseResponse
	// Durable says a version 1 durable handle was granted (DHnQ
	// response context).
	Durable bool
	// DurableV2 is the version 2 durable handle granted (DH2Q response
	// context), nil if none.
	DurableV2 *DurableV2Response
	// Contexts are all the response contexts, in order.
	Contexts []CreateContext
	// Symlink is the symbolic link met, with StatusStoppedOnSymlink.
	Symlink *Symlink
}

// Create opens or creates name (relative to the share, `dir\file`).
func (t *Tree) Create(name string, q CreateRequest) (*CreateResponse, error) {
	n := ntlm.UTF16LE(name)
	b := make([]byte, 56, 56+len(n)+256)
	binary.LittleEndian.PutUint16(b, 57)
	b[3] = byte(q.OplockLevel)
	binary.LittleEndian.PutUint32(b[4:], 2) // ImpersonationLevel: Impersonation
	binary.LittleEndian.PutUint32(b[24:], q.DesiredAccess)
	binary.LittleEndian.PutUint32(b[28:], q.FileAttributes)
	binary.LittleEndian.PutUint32(b[32:], q.ShareAccess)
	binary.LittleEndian.PutUint32(b[36:], q.Disposition)
	binary.LittleEndian.PutUint32(b[40:], q.Options)
	binary.LittleEndian.PutUint16(b[44:], headerSize+56)
	binary.LittleEndian.PutUint16(b[46:], uint16(len(n)))
	b = append(b, n...)
	if len(n) == 0 {
		b = append(b, 0) // the Buffer is at least one byte
	}
	if ctxs := q.contexts(); len(ctxs) > 0 {
		for (headerSize+len(b))%8 != 0 {
			b = append(b, 0)
		}
		start := len(b)
		b = appendContexts(b, ctxs)
		binary.LittleEndian.PutUint32(b[48:], uint32(headerSize+start))
		binary.LittleEndian.PutUint32(b[52:], uint32(len(b)-start))
	}
	var flags uint32
	if q.Replay {
		flags = flagReplay
	}
	r, err := t.c.call(request{cmd: cmdCreate, body: b, treeID: t.id, flags: flags})
	if err != nil {
		return nil, fmt.Errorf("CREATE %s: %w", name, err)
	}
	out := &CreateResponse{Status: r.status}
	if r.status == StatusStoppedOnSymlink {
		if out.Symlink, err = parseSymlinkError(r.body); err != nil {
			return nil, err
		}
	}
	if r.status != StatusSuccess {
		return out, nil
	}
	rb := r.body
	if len(rb) < 88 {
		return nil, errors.New("smbclient: short CREATE response")
	}
	out.OplockLevel = OplockLevel(rb[2])
	out.CreateAction = binary.LittleEndian.Uint32(rb[4:])
	out.EndOfFile = binary.LittleEndian.Uint64(rb[48:])
	out.FileAttributes = binary.LittleEndian.Uint32(rb[56:])
	out.FileID = getFileID(rb[64:])
	off := int(binary.LittleEndian.Uint32(rb[80:]))
	length := int(binary.LittleEndian.Uint32(rb[84:]))
	if length > 0 {
		if off < headerSize || off-headerSize+length > len(rb) {
			return nil, errors.New("smbclient: CREATE response contexts out of bounds")
		}
		if out.Contexts, err = parseContexts(rb[off-headerSize : off-headerSize+length]); err != nil {
			return nil, err
		}
	}
	for _, cc := range out.Contexts {
		switch cc.Name {
		case "RqLs":
			out.Lease, err = parseLease(cc.Data)
		case "DHnQ":
			out.Durable = true
		case "DH2Q":
			if len(cc.Data) < 8 {
				err = errors.New("smbclient: short DH2Q response")
				break
			}
			out.DurableV2 = &DurableV2Response{
				Timeout: binary.LittleEndian.Uint32(cc.Data),
				Flags:   binary.LittleEndian.Uint32(cc.Data[4:]),
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// contexts encodes the request's create contexts.
func (q *CreateRequest) contexts() []CreateContext {
	var out []CreateContext
	if l := q.Lease; l != nil {
		d := make([]byte, 32, 52)
		copy(d, l.Key[:])
		binary.LittleEndian.PutUint32(d[16:], uint32(l.State))
		if l.V2 {
			d = d[:52]
			if l.ParentKey != nil {
				binary.LittleEndian.PutUint32(d[20:], LeaseParentKeySet)
				copy(d[32:48], l.ParentKey[:])
			}
			binary.LittleEndian.PutUint16(d[48:], l.Epoch)
		}
		out = append(out, CreateContext{"RqLs", d})
	}
	if q.Durable {
		out = append(out, CreateContext{"DHnQ", make([]byte, 16)})
	}
	if d := q.DurableV2; d != nil {
		b := make([]byte, 32)
		binary.LittleEndian.PutUint32(b, d.Timeout)
		binary.LittleEndian.PutUint32(b[4:], d.Flags)
		copy(b[16:], d.CreateGUID[:])
		out = append(out, CreateContext{"DH2Q", b})
	}
	if q.Reconnect != nil {
		b := make([]byte, 16)
		q.Reconnect.put(b)
		out = append(out, CreateContext{"DHnC", b})
	}
	if d := q.ReconnectV2; d != nil {
		b := make([]byte, 36)
		d.FileID.put(b)
		copy(b[16:], d.CreateGUID[:])
		binary.LittleEndian.PutUint32(b[32:], d.Flags)
		out = append(out, CreateContext{"DH2C", b})
	}
	return append(out, q.Contexts...)
}

// appendContexts appends a chain of create contexts (2.2.13.2) to b,
// which ends 8-byte aligned relative to the message.
func appendContexts(b []byte, ctxs []CreateContext) []byte {
	last := -1
	for _, cc := range ctxs {
		for len(b)%8 != 0 { // the body starts 8-byte aligned
			b = append(b, 0)
		}
		if last >= 0 {
			binary.LittleEndian.PutUint32(b[last:], uint32(len(b)-last))
		}
		last = len(b)
		h := make([]byte, 16)
		binary.LittleEndian.PutUint16(h[4:], 16) // NameOffset
		binary.LittleEndian.PutUint16(h[6:], uint16(len(cc.Name)))
		dataOff := (16 + len(cc.Name) + 7) &^ 7
		if len(cc.Data) > 0 {
			binary.LittleEndian.PutUint16(h[10:], uint16(dataOff))
			binary.LittleEndian.PutUint32(h[12:], uint32(len(cc.Data)))
		}
		b = append(b, h...)
		b = append(b, cc.Name...)
		if len(cc.Data) > 0 {
			b = append(b, make([]byte, dataOff-16-len(cc.Name))...)
			b = append(b, cc.Data...)
		}
	}
	return b
}

// parseContexts decodes a chain of create contexts.
func parseContexts(b []byte) ([]CreateContext, error) {
	var out []CreateContext
	bad := errors.New("smbclient: malformed create context in a CREATE response")
	for {
		if len(b) < 16 {
			return nil, bad
		}
		next := int(binary.LittleEndian.Uint32(b))
		nameOff := int(binary.LittleEndian.Uint16(b[4:]))
		nameLen := int(binary.LittleEndian.Uint16(b[6:]))
		dataOff := int(binary.LittleEndian.Uint16(b[10:]))
		dataLen := int(binary.LittleEndian.Uint32(b[12:]))
		end := len(b)
		if next != 0 {
			if next > len(b) {
				return nil, bad
			}
			end = next
		}
		if nameOff+nameLen > end || dataLen > 0 && dataOff+dataLen > end {
			return nil, bad
		}
		cc := CreateContext{Name: string(b[nameOff : nameOff+nameLen])}
		if dataLen > 0 {
			cc.Data = append([]byte(nil), b[dataOff:dataOff+dataLen]...)
		}
		out = append(out, cc)
		if next == 0 {
			return out, nil
		}
		b = b[next:]
	}
}

// parseLease decodes an RqLs response context, version 1 (32 bytes) or 2
// (52 bytes).
func parseLease(d []byte) (*LeaseResponse, error) {
	if len(d) != 32 && len(d) != 52 {
		return nil, fmt.Errorf("smbclient: lease response context of %d bytes", len(d))
	}
	l := &LeaseResponse{
		State: LeaseState(binary.LittleEndian.Uint32(d[16:])),
		Flags: binary.LittleEndian.Uint32(d[20:]),
	}
	copy(l.Key[:], d)
	if len(d) == 52 {
		l.V2 = true
		copy(l.ParentKey[:], d[32:48])
		l.Epoch = binary.LittleEndian.Uint16(d[48:])
	}
	return l, nil
}
