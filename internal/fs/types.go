package fs

import (
	"net/netip"

	"github.com/tandemfs/tandem/internal/meta"
)

// Limits the file system enforces and reports.
const (
	MaxNameLen  = 255
	MaxPathLen  = 4095
	MaxLinks    = 65000
	MaxFileSize = 1<<63 - 1
)

// FileType is the kind of a file.
type FileType = meta.FileType

// File types, so that protocol packages need not import meta.
const (
	TypeRegular = meta.TypeRegular
	TypeDir     = meta.TypeDir
	TypeBlock   = meta.TypeBlock
	TypeChar    = meta.TypeChar
	TypeSymlink = meta.TypeSymlink
	TypeSocket  = meta.TypeSocket
	TypeFIFO    = meta.TypeFIFO
)

// Caller is who asks, as the protocol authenticated it. The file system maps
// it through the share's export rules (squash, allowed networks) before any
// permission check. A nil *Caller is treated as anonymous.
type Caller struct {
	UID, GID  uint32
	Groups    []uint32
	Anonymous bool       // no credentials (AUTH_NONE, SMB guest)
	Addr      netip.Addr // the client's address, checked against the share's networks

	// Judged says that the protocol has already decided, by an access
	// control list of its own that the mode bits cannot express (an SMB
	// DACL), that this caller may do what this one call asks: the call
	// then skips its checks of mode bits, ownership and the sticky bit
	// (see "Who may do what"). Everything else still holds: the share's
	// admission and squashing, read-only shares, file types, names. A
	// protocol sets it on the calls it judged, never on a caller it keeps
	// for others; NFS never sets it.
	Judged bool
}

// Attr is what both protocols report of a file. Times are nanoseconds since
// the Unix epoch.
type Attr struct {
	Type     FileType
	Mode     uint32 // 07777 bits
	Nlink    uint32
	UID, GID uint32
	Size     uint64
	Used     uint64 // bytes of storage used
	Major    uint32
	Minor    uint32
	FSID     uint64 // the share
	FileID   uint64
	Gen      uint64
	Atime    int64
	Mtime    int64
	Ctime    int64
	Btime    int64
	DOSAttrs uint32
}

// WccAttr is the pre-operation part of NFS weak cache consistency data.
type WccAttr struct {
	Size  uint64
	Mtime int64
	Ctime int64
}

// Wcc is a file's attributes before and after an operation. HavePre and
// HavePost say which halves are valid (an operation that failed early may
// have neither).
type Wcc struct {
	HavePre  bool
	Pre      WccAttr
	HavePost bool
	Post     Attr
}

// SetMask says which fields of a SetAttr apply.
type SetMask uint16

// SetAttr fields.
const (
	SetMode SetMask = 1 << iota
	SetUID
	SetGID
	SetSize
	SetAtime    // to SetAttr.Atime
	SetAtimeNow // to the server's time
	SetMtime
	SetMtimeNow
	SetBtime
	SetDOSAttrs
	SetCtime // to SetAttr.Ctime: SMB lets a client set the change time
)

// SetAttr is a change of attributes; only the fields in Mask apply.
type SetAttr struct {
	Mask     SetMask
	Mode     uint32
	UID, GID uint32
	Size     uint64
	Atime    int64
	Mtime    int64
	Btime    int64
	DOSAttrs uint32
	Ctime    int64
}

// CreateMode is how CREATE treats an existing name.
type CreateMode uint8

// Create modes (NFSv3 createmode3).
const (
	Unchecked CreateMode = iota // an existing regular file is reused (and truncated if Attr says so)
	Guarded                     // an existing name is ErrExist
	Exclusive                   // idempotent by Verf: same verifier on a retry succeeds
)

// CreateHow is the CREATE argument.
type CreateHow struct {
	Mode CreateMode
	Attr SetAttr // Unchecked and Guarded
	Verf [8]byte // Exclusive
}

// Stability is how durable a WRITE is (NFSv3 stable_how).
type Stability uint8

// Stabilities, in increasing strength.
const (
	Unstable Stability = 0
	DataSync Stability = 1
	FileSync Stability = 2
)

// Access bits for Access (NFSv3 ACCESS3 values).
const (
	AccessRead    uint32 = 0x01
	AccessLookup  uint32 = 0x02
	AccessModify  uint32 = 0x04
	AccessExtend  uint32 = 0x08
	AccessDelete  uint32 = 0x10
	AccessExecute uint32 = 0x20
)

// DirEntry is one entry returned by ReadDir. Handle and Attr are filled only
// for a plus listing.
type DirEntry struct {
	Name   string
	FileID uint64
	Cookie uint64
	Handle Handle
	Attr   Attr
}

// FSStat is dynamic file system information (NFSv3 FSSTAT).
type FSStat struct {
	TotalBytes, FreeBytes, AvailBytes uint64
	TotalFiles, FreeFiles, AvailFiles uint64
}

// Squash is an export's identity mapping.
type Squash uint8

// Squash modes.
const (
	NoSquash   Squash = iota
	RootSquash        // uid 0 becomes the anonymous user
	AllSquash         // everyone becomes the anonymous user
)

// ShareConfig is one exported tree and its export options.
type ShareConfig struct {
	Name     string // "export"; NFS path "/" + Name
	ReadOnly bool
	Squash   Squash
	AnonUID  uint32 // 0 means the default, 65534
	AnonGID  uint32 // 0 means the default, 65534
	// Clients lists the networks allowed to use the share; empty means all.
	Clients []netip.Prefix
	// Async answers namespace and attribute changes (create, mkdir,
	// remove, rename, link, setattr) before they are on disk, like knfsd's
	// async export and like servers whose local file system journals such
	// changes when it likes: a crash may undo changes already answered. The
	// next COMMIT, FILE_SYNC write or SMB flush of any file makes them
	// durable, and data keeps its rules. Off by default: NFSv3 wants a
	// namespace change stable before its reply. Not stored with the share:
	// it comes from the configuration at every start.
	Async bool
}
