package conformance

// XDR of NFSv3 (RFC 1813) and MOUNT v3 in the form go-nfs-client's codec
// reads and writes: a union is a discriminant tagged `xdr:"union"` followed
// by arms tagged with the case they belong to; untagged fields are always
// present. A union whose arms share a type (createhow3, mknoddata3) is
// written as one struct per arm.

// NFS procedures.
const (
	procNull        = 0
	procGetattr     = 1
	procSetattr     = 2
	procLookup      = 3
	procAccess      = 4
	procReadlink    = 5
	procRead        = 6
	procWrite       = 7
	procCreate      = 8
	procMkdir       = 9
	procSymlink     = 10
	procMknod       = 11
	procRemove      = 12
	procRmdir       = 13
	procRename      = 14
	procLink        = 15
	procReaddir     = 16
	procReaddirplus = 17
	procFsstat      = 18
	procFsinfo      = 19
	procPathconf    = 20
	procCommit      = 21
)

// MOUNT procedures.
const (
	mountNull    = 0
	mountMnt     = 1
	mountDump    = 2
	mountUmnt    = 3
	mountUmntall = 4
	mountExport  = 5
)

// nfsstat3 values.
const (
	nfsOK          = 0
	errPerm        = 1
	errNoEnt       = 2
	errAcces       = 13
	errExist       = 17
	errNotDir      = 20
	errIsDir       = 21
	errInval       = 22
	errROFS        = 30
	errNameTooLong = 63
	errNotEmpty    = 66
	errStale       = 70
	errBadHandle   = 10001
	errNotSync     = 10002
	errBadCookie   = 10003
	errBadType     = 10007
)

// ftype3 values.
const (
	typeReg  = 1
	typeDir  = 2
	typeBlk  = 3
	typeChr  = 4
	typeLnk  = 5
	typeSock = 6
	typeFIFO = 7
)

// stable_how and createmode3.
const (
	unstable  = 0
	dataSync  = 1
	fileSync  = 2
	unchecked = 0
	guarded   = 1
	exclusive = 2
)

// ACCESS3 bits.
const (
	accessRead    = 0x01
	accessLookup  = 0x02
	accessModify  = 0x04
	accessExtend  = 0x08
	accessDelete  = 0x10
	accessExecute = 0x20
)

type nfstime3 struct {
	Seconds, Nseconds uint32
}

type specdata3 struct {
	Major, Minor uint32
}

type fattr3 struct {
	Type, Mode, Nlink, UID, GID uint32
	Size, Used                  uint64
	Rdev                        specdata3
	FSID, FileID                uint64
	Atime, Mtime, Ctime         nfstime3
}

type postOpAttr struct {
	Present bool   `xdr:"union"`
	Attr    fattr3 `xdr:"unioncase=1"`
}

type wccAttr struct {
	Size         uint64
	Mtime, Ctime nfstime3
}

type preOpAttr struct {
	Present bool    `xdr:"union"`
	Attr    wccAttr `xdr:"unioncase=1"`
}

type wccData struct {
	Before preOpAttr
	After  postOpAttr
}

type postOpFH struct {
	Present bool   `xdr:"union"`
	FH      []byte `xdr:"unioncase=1"`
}

type setU32 struct {
	Set bool   `xdr:"union"`
	Val uint32 `xdr:"unioncase=1"`
}

type setU64 struct {
	Set bool   `xdr:"union"`
	Val uint64 `xdr:"unioncase=1"`
}

// time_how: DONT_CHANGE 0, SET_TO_SERVER_TIME 1, SET_TO_CLIENT_TIME 2.
type setTime struct {
	How  uint32   `xdr:"union"`
	Time nfstime3 `xdr:"unioncase=2"`
}

type sattr3 struct {
	Mode, UID, GID setU32
	Size           setU64
	Atime, Mtime   setTime
}

type sattrGuard3 struct {
	Check bool     `xdr:"union"`
	Ctime nfstime3 `xdr:"unioncase=1"`
}

type diropargs3 struct {
	Dir  []byte
	Name string
}

// Arguments.

type fhArgs struct{ FH []byte }

type setattrArgs struct {
	FH    []byte
	Attr  sattr3
	Guard sattrGuard3
}

type accessArgs struct {
	FH     []byte
	Access uint32
}

type readArgs struct {
	FH     []byte
	Offset uint64
	Count  uint32
}

type writeArgs struct {
	FH     []byte
	Offset uint64
	Count  uint32
	Stable uint32
	Data   []byte
}

type createArgs struct { // UNCHECKED or GUARDED
	Where diropargs3
	Mode  uint32
	Attr  sattr3
}

type createExclArgs struct {
	Where diropargs3
	Mode  uint32 // exclusive
	Verf  [8]byte
}

type mkdirArgs struct {
	Where diropargs3
	Attr  sattr3
}

type symlinkArgs struct {
	Where  diropargs3
	Attr   sattr3
	Target string
}

type mknodDevArgs struct { // NF3CHR, NF3BLK
	Where diropargs3
	Type  uint32
	Attr  sattr3
	Spec  specdata3
}

type mknodPipeArgs struct { // NF3SOCK, NF3FIFO
	Where diropargs3
	Type  uint32
	Attr  sattr3
}

type mknodOtherArgs struct { // any other type: no data
	Where diropargs3
	Type  uint32
}

type renameArgs struct {
	From, To diropargs3
}

type linkArgs struct {
	FH   []byte
	Link diropargs3
}

type readdirArgs struct {
	Dir    []byte
	Cookie uint64
	Verf   uint64
	Count  uint32
}

type readdirplusArgs struct {
	Dir      []byte
	Cookie   uint64
	Verf     uint64
	DirCount uint32
	MaxCount uint32
}

type commitArgs struct {
	FH     []byte
	Offset uint64
	Count  uint32
}

// Results, past the status. Where the failure arm differs, the *Fail type
// holds it.

type getattrOK struct{ Attr fattr3 }

type lookupOK struct {
	FH      []byte
	Attr    postOpAttr
	DirAttr postOpAttr
}

type accessOK struct {
	Attr   postOpAttr
	Access uint32
}

type readlinkOK struct {
	Attr   postOpAttr
	Target string
}

type readOK struct {
	Attr  postOpAttr
	Count uint32
	EOF   bool
	Data  []byte
}

type writeOK struct {
	Wcc       wccData
	Count     uint32
	Committed uint32
	Verf      [8]byte
}

type diropOK struct { // CREATE, MKDIR, SYMLINK, MKNOD
	FH     postOpFH
	Attr   postOpAttr
	DirWcc wccData
}

type renameRes struct {
	FromWcc, ToWcc wccData
}

type linkRes struct {
	Attr    postOpAttr
	LinkWcc wccData
}

type readdirHead struct {
	DirAttr postOpAttr
	Verf    uint64
}

type entry3 struct {
	FileID uint64
	Name   string
	Cookie uint64
}

type entryplus3 struct {
	FileID uint64
	Name   string
	Cookie uint64
	Attr   postOpAttr
	FH     postOpFH
}

type fsstatOK struct {
	Attr                   postOpAttr
	TBytes, FBytes, ABytes uint64
	TFiles, FFiles, AFiles uint64
	Invarsec               uint32
}

type fsinfoOK struct {
	Attr                  postOpAttr
	RTMax, RTPref, RTMult uint32
	WTMax, WTPref, WTMult uint32
	DTPref                uint32
	MaxFileSize           uint64
	TimeDelta             nfstime3
	Properties            uint32
}

// FSINFO properties.
const (
	fsfLink        = 0x1
	fsfSymlink     = 0x2
	fsfHomogeneous = 0x8
	fsfCanSetTime  = 0x10
)

type pathconfOK struct {
	Attr            postOpAttr
	LinkMax         uint32
	NameMax         uint32
	NoTrunc         bool
	ChownRestricted bool
	CaseInsensitive bool
	CasePreserving  bool
}

type commitOK struct {
	Wcc  wccData
	Verf [8]byte
}

// MOUNT results.

type mntOK struct {
	FH      []byte
	Flavors []uint32
}

type mountEntry struct {
	Host, Dir string
}

type exportEntry struct {
	Dir    string
	Groups []string
}

// authSysParms is the AUTH_SYS credential body (RFC 5531 appendix A).
type authSysParms struct {
	Stamp   uint32
	Machine string
	UID     uint32
	GID     uint32
	GIDs    []uint32
}
