package smb

import (
	"encoding/binary"
)

// Create contexts are typed blobs chained after a CREATE request and
// response (MS-SMB2 2.2.13.2, 2.2.14.2): each is a 16-byte header (the
// offset of the next, the offsets and lengths of its name and data), a
// name, which is a four-letter tag or a GUID, and data, every context
// 8-byte aligned.
//
// Served: MxAc (the caller's maximal access to the file) and QFid (the
// on-disk file id). SecD (a security descriptor for a new file) sets the
// new file's owner, group and mode. A lease request (RqLs, v1 or v2) is
// granted as the lock manager allows (lease.go). The durable handle
// requests (DHnQ, and from SMB 3.0 DH2Q with its CreateGuid) are granted
// with a batch oplock or a lease that caches handles, and the reconnects
// (DHnC, DH2C) find the open again after its connection was lost
// (durable.go, durablereconnect.go); the persistent flag of DH2Q is not
// granted, as no share is continuously available. A previous version
// (TWrp) does not exist. Extended attributes (ExtA) are set on a file the
// CREATE makes or overwrites (ea.go). An application instance id (SMB
// 3.x) closes the open another client made of the file under the same id
// (appinstance.go). Other contexts, including those named by GUID (SVHDX,
// POSIX) and Apple's AAPL, are ignored, as the protocol wants for unknown
// ones.

// optCreateTreeConnection is a create option Windows does not support
// either (MS-SMB2 2.2.13).
const optCreateTreeConnection = 0x00000080

// Context tags.
const (
	ctxMaxAccess        = "MxAc"
	ctxQueryOnDiskID    = "QFid"
	ctxSecDesc          = "SecD"
	ctxEABuffer         = "ExtA"
	ctxAllocationSize   = "AlSi"
	ctxTimewarp         = "TWrp"
	ctxDurableRequest   = "DHnQ"
	ctxDurableReconnect = "DHnC"
	ctxDurableV2Request = "DH2Q"
	ctxDurableV2Recon   = "DH2C"
	ctxLeaseRequest     = "RqLs"
	ctxAppInstanceID    = "\x45\xbc\xa6\x6a\xef\xa7\xf7\x4a\x90\x08\xfa\x46\x2e\x14\x4d\x74"
)

// createContexts is what a CREATE request's contexts ask for.
type createContexts struct {
	maxAccess bool
	queryID   bool
	secDesc   []byte // self-relative descriptor for a new file
	eaBuffer  []byte // FILE_FULL_EA_INFORMATION list for a new or overwritten file
	alloc     []byte // AlSi: allocation size of a new or overwritten file
	timewarp  bool
	lease     []byte // RqLs data (lease.go)

	// The durable handle contexts (durable.go), each nil when absent, and
	// how many contexts the request has in all: a reconnect tolerates
	// few others.
	dhnq, dh2q, dhnc, dh2c []byte
	count                  int

	appInstance [16]byte // SMB2_CREATE_APP_INSTANCE_ID (appinstance.go), zero without
}

// parseCreateContexts decodes the chain in b (the bytes at
// CreateContextsOffset). Names and data must lie inside their context,
// contexts must start 8-byte aligned and the chain must stay in b; a
// known context with data of the wrong size is invalid too.
func parseCreateContexts(b []byte) (createContexts, Status) {
	var cc createContexts
	for len(b) > 0 {
		if len(b) < 16 {
			return cc, StatusInvalidParameter
		}
		next := binary.LittleEndian.Uint32(b)
		nameOff := uint32(binary.LittleEndian.Uint16(b[4:]))
		nameLen := uint32(binary.LittleEndian.Uint16(b[6:]))
		dataOff := uint32(binary.LittleEndian.Uint16(b[10:]))
		dataLen := binary.LittleEndian.Uint32(b[12:])
		end := uint32(len(b))
		if next != 0 {
			if next%8 != 0 || next < 16 || next > end {
				return cc, StatusInvalidParameter
			}
			end = next
		}
		// Tags are at least four bytes, as Windows requires.
		if nameLen < 4 || nameOff < 16 || nameOff+nameLen > end {
			return cc, StatusInvalidParameter
		}
		var data []byte
		if dataLen > 0 {
			if dataOff < nameOff+nameLen || uint64(dataOff)+uint64(dataLen) > uint64(end) {
				return cc, StatusInvalidParameter
			}
			data = b[dataOff : dataOff+dataLen]
		}
		if st := cc.add(string(b[nameOff:nameOff+nameLen]), data); st != StatusSuccess {
			return cc, st
		}
		if next == 0 {
			break
		}
		b = b[next:]
	}
	return cc, StatusSuccess
}

// add records one context.
func (cc *createContexts) add(name string, data []byte) Status {
	cc.count++
	switch name {
	case ctxMaxAccess:
		if len(data) != 0 && len(data) != 8 {
			return StatusInvalidParameter
		}
		cc.maxAccess = true
	case ctxQueryOnDiskID:
		cc.queryID = true
	case ctxSecDesc:
		cc.secDesc = data
	case ctxEABuffer:
		if _, st := parseEAList(data); st != StatusSuccess {
			return st
		}
		cc.eaBuffer = data
	case ctxTimewarp:
		if len(data) != 8 {
			return StatusInvalidParameter
		}
		cc.timewarp = true
	case ctxDurableRequest:
		if len(data) != 16 {
			return StatusInvalidParameter
		}
		cc.dhnq = data
	case ctxDurableV2Request:
		if len(data) != 32 {
			return StatusInvalidParameter
		}
		cc.dh2q = data
	case ctxDurableReconnect:
		if len(data) != 16 {
			return StatusInvalidParameter
		}
		cc.dhnc = data
	case ctxDurableV2Recon:
		if len(data) != 36 {
			return StatusInvalidParameter
		}
		cc.dh2c = data
	case ctxLeaseRequest:
		if len(data) != 32 && len(data) != 52 {
			return StatusInvalidParameter
		}
		cc.lease = data
	case ctxAppInstanceID:
		// Not validated, as the protocol allows: a malformed one is
		// ignored like an unknown context.
		if len(data) == 20 && binary.LittleEndian.Uint16(data) == 20 {
			copy(cc.appInstance[:], data[4:])
		}
	case ctxAllocationSize:
		if len(data) != 8 {
			return StatusInvalidParameter
		}
		cc.alloc = data
	}
	return StatusSuccess
}

// contextWriter appends response contexts to a response body; the first
// starts at an 8-byte aligned offset.
type contextWriter struct {
	w     *Response
	start int // body offset of the first context, 0 before it
	last  int // body offset of the last one
}

// add appends a context with a four-letter name.
func (cw *contextWriter) add(name string, data []byte) {
	w := cw.w
	if pad := (HeaderSize + w.Len()) % 8; pad != 0 {
		w.Grow(8 - pad)
	}
	off := w.Len()
	if cw.start == 0 {
		cw.start = off
	} else {
		binary.LittleEndian.PutUint32(w.Bytes()[cw.last:], uint32(off-cw.last))
	}
	cw.last = off
	b := w.Grow(24)
	binary.LittleEndian.PutUint16(b[4:], 16)
	binary.LittleEndian.PutUint16(b[6:], uint16(len(name)))
	binary.LittleEndian.PutUint16(b[10:], 24)
	binary.LittleEndian.PutUint32(b[12:], uint32(len(data)))
	copy(b[16:], name)
	w.Write(data)
}

// bounds are the CreateContextsOffset and Length of the response.
func (cw *contextWriter) bounds() (uint32, uint32) {
	if cw.start == 0 {
		return 0, 0
	}
	return uint32(HeaderSize + cw.start), uint32(cw.w.Len() - cw.start)
}
