package nfs3

import (
	"errors"
	"strconv"

	"github.com/tandemfs/tandem/internal/fs"
)

// Status is an nfsstat3, the result code of every procedure but NULL.
type Status uint32

// The nfsstat3 values. Each is the POSIX errno of the same meaning where
// one exists; the 10000 range is NFSv3's own.
const (
	StatusOK          Status = 0
	StatusPerm        Status = 1
	StatusNoEnt       Status = 2
	StatusIO          Status = 5
	StatusNXIO        Status = 6
	StatusAccess      Status = 13
	StatusExist       Status = 17
	StatusXDev        Status = 18
	StatusNoDev       Status = 19
	StatusNotDir      Status = 20
	StatusIsDir       Status = 21
	StatusInval       Status = 22
	StatusFBig        Status = 27
	StatusNoSpace     Status = 28
	StatusROFS        Status = 30
	StatusMLink       Status = 31
	StatusNameTooLong Status = 63
	StatusNotEmpty    Status = 66
	StatusDQuot       Status = 69
	StatusStale       Status = 70
	StatusRemote      Status = 71
	StatusBadHandle   Status = 10001
	StatusNotSync     Status = 10002
	StatusBadCookie   Status = 10003
	StatusNotSupp     Status = 10004
	StatusTooSmall    Status = 10005
	StatusServerFault Status = 10006
	StatusBadType     Status = 10007
	StatusJukebox     Status = 10008
)

// statusTable is the one mapping from the fs error vocabulary to nfsstat3.
var statusTable = [...]Status{
	fs.ErrPerm:        StatusPerm,
	fs.ErrNotExist:    StatusNoEnt,
	fs.ErrIO:          StatusIO,
	fs.ErrAccess:      StatusAccess,
	fs.ErrExist:       StatusExist,
	fs.ErrXDev:        StatusXDev,
	fs.ErrNotDir:      StatusNotDir,
	fs.ErrIsDir:       StatusIsDir,
	fs.ErrInval:       StatusInval,
	fs.ErrFBig:        StatusFBig,
	fs.ErrNoSpace:     StatusNoSpace,
	fs.ErrROFS:        StatusROFS,
	fs.ErrMLink:       StatusMLink,
	fs.ErrNameTooLong: StatusNameTooLong,
	fs.ErrNotEmpty:    StatusNotEmpty,
	fs.ErrStale:       StatusStale,
	fs.ErrBadHandle:   StatusBadHandle,
	fs.ErrNotSync:     StatusNotSync,
	fs.ErrBadCookie:   StatusBadCookie,
	fs.ErrNotSupp:     StatusNotSupp,
	fs.ErrTooSmall:    StatusTooSmall,
	fs.ErrBadType:     StatusBadType,
	fs.ErrJukebox:     StatusJukebox,
	fs.ErrServerFault: StatusServerFault,
	// A conflicting SMB lock or share mode refuses NFS I/O as a
	// permission error would: NFSv3 has no lock status of its own.
	fs.ErrLocked: StatusAccess,
	// The server never follows symlinks, so ELOOP can only be a rename of
	// a directory into its own subtree, which POSIX calls EINVAL.
	fs.ErrLoop: StatusInval,
}

// statusOf maps an fs error to its nfsstat3. Errors outside the
// vocabulary are server faults.
func statusOf(err error) Status {
	if err == nil {
		return StatusOK
	}
	var fe fs.Error
	if errors.As(err, &fe) && int(fe) < len(statusTable) && statusTable[fe] != 0 {
		return statusTable[fe]
	}
	return StatusServerFault
}

var statusNames = map[Status]string{
	StatusOK: "NFS3_OK", StatusPerm: "NFS3ERR_PERM", StatusNoEnt: "NFS3ERR_NOENT",
	StatusIO: "NFS3ERR_IO", StatusNXIO: "NFS3ERR_NXIO", StatusAccess: "NFS3ERR_ACCES",
	StatusExist: "NFS3ERR_EXIST", StatusXDev: "NFS3ERR_XDEV", StatusNoDev: "NFS3ERR_NODEV",
	StatusNotDir: "NFS3ERR_NOTDIR", StatusIsDir: "NFS3ERR_ISDIR", StatusInval: "NFS3ERR_INVAL",
	StatusFBig: "NFS3ERR_FBIG", StatusNoSpace: "NFS3ERR_NOSPC", StatusROFS: "NFS3ERR_ROFS",
	StatusMLink: "NFS3ERR_MLINK", StatusNameTooLong: "NFS3ERR_NAMETOOLONG",
	StatusNotEmpty: "NFS3ERR_NOTEMPTY", StatusDQuot: "NFS3ERR_DQUOT", StatusStale: "NFS3ERR_STALE",
	StatusRemote: "NFS3ERR_REMOTE", StatusBadHandle: "NFS3ERR_BADHANDLE",
	StatusNotSync: "NFS3ERR_NOT_SYNC", StatusBadCookie: "NFS3ERR_BAD_COOKIE",
	StatusNotSupp: "NFS3ERR_NOTSUPP", StatusTooSmall: "NFS3ERR_TOOSMALL",
	StatusServerFault: "NFS3ERR_SERVERFAULT", StatusBadType: "NFS3ERR_BADTYPE",
	StatusJukebox: "NFS3ERR_JUKEBOX",
}

// String is the RFC 1813 name of s.
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return "nfsstat3(" + strconv.FormatUint(uint64(s), 10) + ")"
}
