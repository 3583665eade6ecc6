package smb

import (
	"context"
	"errors"
	"strconv"

	"github.com/tandemfs/tandem/internal/fs"
)

// Status is an NTSTATUS code. It implements error so that handlers may
// return it; a status with severity "success" or "informational" is not a
// failure but is still an error value to carry it.
type Status uint32

// NT status codes used by the server (MS-ERREF 2.3).
const (
	StatusSuccess                   Status = 0x00000000
	StatusPending                   Status = 0x00000103
	StatusNotifyCleanup             Status = 0x0000010b
	StatusNotifyEnumDir             Status = 0x0000010c
	StatusBufferOverflow            Status = 0x80000005
	StatusNoMoreFiles               Status = 0x80000006
	StatusStoppedOnSymlink          Status = 0x8000002d
	StatusUnsuccessful              Status = 0xc0000001
	StatusNotImplemented            Status = 0xc0000002
	StatusInvalidInfoClass          Status = 0xc0000003
	StatusInfoLengthMismatch        Status = 0xc0000004
	StatusInvalidHandle             Status = 0xc0000008
	StatusInvalidParameter          Status = 0xc000000d
	StatusNoSuchFile                Status = 0xc000000f
	StatusInvalidDeviceRequest      Status = 0xc0000010
	StatusEndOfFile                 Status = 0xc0000011
	StatusMoreProcessingRequired    Status = 0xc0000016
	StatusAccessDenied              Status = 0xc0000022
	StatusBufferTooSmall            Status = 0xc0000023
	StatusObjectNameInvalid         Status = 0xc0000033
	StatusObjectNameNotFound        Status = 0xc0000034
	StatusObjectNameCollision       Status = 0xc0000035
	StatusObjectPathInvalid         Status = 0xc0000039
	StatusObjectPathNotFound        Status = 0xc000003a
	StatusObjectPathSyntaxBad       Status = 0xc000003b
	StatusSharingViolation          Status = 0xc0000043
	StatusEASNotSupported           Status = 0xc000004f
	StatusFileLockConflict          Status = 0xc0000054
	StatusLockNotGranted            Status = 0xc0000055
	StatusDeletePending             Status = 0xc0000056
	StatusPrivilegeNotHeld          Status = 0xc0000061
	StatusLogonFailure              Status = 0xc000006d
	StatusRangeNotLocked            Status = 0xc000007e
	StatusDiskFull                  Status = 0xc000007f
	StatusInsufficientResources     Status = 0xc000009a
	StatusMediaWriteProtected       Status = 0xc00000a2
	StatusInvalidPipeState          Status = 0xc00000ad
	StatusPipeBusy                  Status = 0xc00000ae
	StatusPipeDisconnected          Status = 0xc00000b0
	StatusFileIsADirectory          Status = 0xc00000ba
	StatusNotSupported              Status = 0xc00000bb
	StatusNetworkBusy               Status = 0xc00000bf
	StatusNetworkNameDeleted        Status = 0xc00000c9
	StatusNetworkAccessDenied       Status = 0xc00000ca
	StatusBadNetworkName            Status = 0xc00000cc
	StatusRequestNotAccepted        Status = 0xc00000d0
	StatusNotSameDevice             Status = 0xc00000d4
	StatusOplockNotGranted          Status = 0xc00000e2
	StatusInternalError             Status = 0xc00000e5
	StatusDirectoryNotEmpty         Status = 0xc0000101
	StatusNotADirectory             Status = 0xc0000103
	StatusNameTooLong               Status = 0xc0000106
	StatusCancelled                 Status = 0xc0000120
	StatusCannotDelete              Status = 0xc0000121
	StatusFileDeleted               Status = 0xc0000123
	StatusFileClosed                Status = 0xc0000128
	StatusPipeBroken                Status = 0xc000014b
	StatusInvalidDeviceState        Status = 0xc0000184
	StatusIODeviceError             Status = 0xc0000185
	StatusUserSessionDeleted        Status = 0xc0000203
	StatusNotFound                  Status = 0xc0000225
	StatusDuplicateObjectID         Status = 0xc000022a
	StatusRetry                     Status = 0xc000022d
	StatusTooManyLinks              Status = 0xc0000265
	StatusNotAReparsePoint          Status = 0xc0000275
	StatusIOReparseTagInvalid       Status = 0xc0000276
	StatusIOReparseDataInvalid      Status = 0xc0000278
	StatusIOReparseTagNotHandled    Status = 0xc0000279
	StatusNetworkSessionExpired     Status = 0xc000035c
	StatusRequestOutOfSequence      Status = 0xc000042a
	StatusFileNotAvailable          Status = 0xc0000467
	StatusNoEASOnFile               Status = 0xc0000052
	StatusInvalidOwner              Status = 0xc000005a
	StatusBadImpersonationLevel     Status = 0xc00000a5
	StatusFSDriverRequired          Status = 0xc000019c
	StatusInvalidLockRange          Status = 0xc00001a1
	StatusInvalidSecurityDescr      Status = 0xc0000079
	StatusNoPreauthIntegrityOverlap Status = 0xc05d0002
)

var statusNames = map[Status]string{
	StatusSuccess:                   "STATUS_SUCCESS",
	StatusPending:                   "STATUS_PENDING",
	StatusNotifyCleanup:             "STATUS_NOTIFY_CLEANUP",
	StatusNotifyEnumDir:             "STATUS_NOTIFY_ENUM_DIR",
	StatusBufferOverflow:            "STATUS_BUFFER_OVERFLOW",
	StatusNoMoreFiles:               "STATUS_NO_MORE_FILES",
	StatusStoppedOnSymlink:          "STATUS_STOPPED_ON_SYMLINK",
	StatusUnsuccessful:              "STATUS_UNSUCCESSFUL",
	StatusNotImplemented:            "STATUS_NOT_IMPLEMENTED",
	StatusInvalidInfoClass:          "STATUS_INVALID_INFO_CLASS",
	StatusInfoLengthMismatch:        "STATUS_INFO_LENGTH_MISMATCH",
	StatusInvalidHandle:             "STATUS_INVALID_HANDLE",
	StatusInvalidParameter:          "STATUS_INVALID_PARAMETER",
	StatusNoSuchFile:                "STATUS_NO_SUCH_FILE",
	StatusInvalidDeviceRequest:      "STATUS_INVALID_DEVICE_REQUEST",
	StatusEndOfFile:                 "STATUS_END_OF_FILE",
	StatusMoreProcessingRequired:    "STATUS_MORE_PROCESSING_REQUIRED",
	StatusAccessDenied:              "STATUS_ACCESS_DENIED",
	StatusBufferTooSmall:            "STATUS_BUFFER_TOO_SMALL",
	StatusObjectNameInvalid:         "STATUS_OBJECT_NAME_INVALID",
	StatusObjectNameNotFound:        "STATUS_OBJECT_NAME_NOT_FOUND",
	StatusObjectNameCollision:       "STATUS_OBJECT_NAME_COLLISION",
	StatusObjectPathInvalid:         "STATUS_OBJECT_PATH_INVALID",
	StatusObjectPathNotFound:        "STATUS_OBJECT_PATH_NOT_FOUND",
	StatusObjectPathSyntaxBad:       "STATUS_OBJECT_PATH_SYNTAX_BAD",
	StatusSharingViolation:          "STATUS_SHARING_VIOLATION",
	StatusEASNotSupported:           "STATUS_EAS_NOT_SUPPORTED",
	StatusFileLockConflict:          "STATUS_FILE_LOCK_CONFLICT",
	StatusLockNotGranted:            "STATUS_LOCK_NOT_GRANTED",
	StatusDeletePending:             "STATUS_DELETE_PENDING",
	StatusPrivilegeNotHeld:          "STATUS_PRIVILEGE_NOT_HELD",
	StatusLogonFailure:              "STATUS_LOGON_FAILURE",
	StatusRangeNotLocked:            "STATUS_RANGE_NOT_LOCKED",
	StatusDiskFull:                  "STATUS_DISK_FULL",
	StatusInsufficientResources:     "STATUS_INSUFFICIENT_RESOURCES",
	StatusMediaWriteProtected:       "STATUS_MEDIA_WRITE_PROTECTED",
	StatusInvalidPipeState:          "STATUS_INVALID_PIPE_STATE",
	StatusPipeBusy:                  "STATUS_PIPE_BUSY",
	StatusPipeDisconnected:          "STATUS_PIPE_DISCONNECTED",
	StatusFileIsADirectory:          "STATUS_FILE_IS_A_DIRECTORY",
	StatusNotSupported:              "STATUS_NOT_SUPPORTED",
	StatusNetworkBusy:               "STATUS_NETWORK_BUSY",
	StatusNetworkNameDeleted:        "STATUS_NETWORK_NAME_DELETED",
	StatusNetworkAccessDenied:       "STATUS_NETWORK_ACCESS_DENIED",
	StatusBadNetworkName:            "STATUS_BAD_NETWORK_NAME",
	StatusRequestNotAccepted:        "STATUS_REQUEST_NOT_ACCEPTED",
	StatusNotSameDevice:             "STATUS_NOT_SAME_DEVICE",
	StatusOplockNotGranted:          "STATUS_OPLOCK_NOT_GRANTED",
	StatusInternalError:             "STATUS_INTERNAL_ERROR",
	StatusDirectoryNotEmpty:         "STATUS_DIRECTORY_NOT_EMPTY",
	StatusNotADirectory:             "STATUS_NOT_A_DIRECTORY",
	StatusNameTooLong:               "STATUS_NAME_TOO_LONG",
	StatusCancelled:                 "STATUS_CANCELLED",
	StatusCannotDelete:              "STATUS_CANNOT_DELETE",
	StatusFileDeleted:               "STATUS_FILE_DELETED",
	StatusFileClosed:                "STATUS_FILE_CLOSED",
	StatusPipeBroken:                "STATUS_PIPE_BROKEN",
	StatusInvalidDeviceState:        "STATUS_INVALID_DEVICE_STATE",
	StatusIODeviceError:             "STATUS_IO_DEVICE_ERROR",
	StatusUserSessionDeleted:        "STATUS_USER_SESSION_DELETED",
	StatusNotFound:                  "STATUS_NOT_FOUND",
	StatusDuplicateObjectID:         "STATUS_DUPLICATE_OBJECTID",
	StatusRetry:                     "STATUS_RETRY",
	StatusTooManyLinks:              "STATUS_TOO_MANY_LINKS",
	StatusNotAReparsePoint:          "STATUS_NOT_A_REPARSE_POINT",
	StatusIOReparseTagInvalid:       "STATUS_IO_REPARSE_TAG_INVALID",
	StatusIOReparseDataInvalid:      "STATUS_IO_REPARSE_DATA_INVALID",
	StatusIOReparseTagNotHandled:    "STATUS_IO_REPARSE_TAG_NOT_HANDLED",
	StatusNetworkSessionExpired:     "STATUS_NETWORK_SESSION_EXPIRED",
	StatusRequestOutOfSequence:      "STATUS_REQUEST_OUT_OF_SEQUENCE",
	StatusFileNotAvailable:          "STATUS_FILE_NOT_AVAILABLE",
	StatusNoEASOnFile:               "STATUS_NO_EAS_ON_FILE",
	StatusInvalidOwner:              "STATUS_INVALID_OWNER",
	StatusBadImpersonationLevel:     "STATUS_BAD_IMPERSONATION_LEVEL",
	StatusFSDriverRequired:          "STATUS_FS_DRIVER_REQUIRED",
	StatusInvalidLockRange:          "STATUS_INVALID_LOCK_RANGE",
	StatusInvalidSecurityDescr:      "STATUS_INVALID_SECURITY_DESCR",
	StatusNoPreauthIntegrityOverlap: "STATUS_SMB_NO_PREAUTH_INTEGRITY_HASH_OVERLAP",
}

func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return "0x" + strconv.FormatUint(uint64(s), 16)
}

func (s Status) Error() string { return "smb: " + s.String() }

// IsError reports whether s has error severity (the top two bits 11):
// such a response carries the error body unless the handler gave one.
func (s Status) IsError() bool { return s>>30 == 3 }

// statusTable is the one mapping from the fs error vocabulary to NTSTATUS.
// It gives each error the status a Windows server gives the nearest
// condition; a handler whose command gives an error a more specific meaning
// (ErrLocked in LOCK is STATUS_LOCK_NOT_GRANTED, in CREATE it is
// STATUS_SHARING_VIOLATION; ErrNotExist of a parent directory is
// STATUS_OBJECT_PATH_NOT_FOUND) maps it itself before falling back here.
var statusTable = [...]Status{
	fs.ErrPerm:        StatusAccessDenied,
	fs.ErrNotExist:    StatusObjectNameNotFound,
	fs.ErrIO:          StatusIODeviceError,
	fs.ErrAccess:      StatusAccessDenied,
	fs.ErrExist:       StatusObjectNameCollision,
	fs.ErrXDev:        StatusNotSameDevice,
	fs.ErrNotDir:      StatusNotADirectory,
	fs.ErrIsDir:       StatusFileIsADirectory,
	fs.ErrInval:       StatusInvalidParameter,
	fs.ErrFBig:        StatusDiskFull,
	fs.ErrNoSpace:     StatusDiskFull,
	fs.ErrROFS:        StatusMediaWriteProtected,
	fs.ErrMLink:       StatusTooManyLinks,
	fs.ErrNameTooLong: StatusObjectNameInvalid,
	fs.ErrNotEmpty:    StatusDirectoryNotEmpty,
	// A file removed (by NFS) under an open is gone for the open too.
	fs.ErrStale:     StatusFileDeleted,
	fs.ErrBadHandle: StatusInvalidHandle,
	fs.ErrNotSync:   StatusInvalidParameter,
	fs.ErrBadCookie: StatusInvalidParameter,
	fs.ErrNotSupp:   StatusNotSupported,
	fs.ErrTooSmall:  StatusBufferTooSmall,
	fs.ErrBadType:   StatusNotSupported,
	// SMB handlers wait for breaks asynchronously rather than bounce the
	// client; should one reach the table, the client is told to retry.
	fs.ErrJukebox:     StatusRetry,
	fs.ErrServerFault: StatusInternalError,
	// The I/O case: a byte-range lock of another owner is in the way.
	fs.ErrLocked: StatusFileLockConflict,
	// Renaming a directory into its own subtree.
	fs.ErrLoop: StatusInvalidParameter,
}

// StatusOf maps an error to the status a response carries: a Status
// passes through, an fs.Error goes through the table, a cancelled context
// is STATUS_CANCELLED and anything else is STATUS_INTERNAL_ERROR.
func StatusOf(err error) Status {
	if err == nil {
		return StatusSuccess
	}
	var st Status
	if errors.As(err, &st) {
		return st
	}
	var fe fs.Error
	if errors.As(err, &fe) {
		if int(fe) < len(statusTable) && statusTable[fe] != 0 {
			return statusTable[fe]
		}
		return StatusInternalError
	}
	if errors.Is(err, context.Canceled) {
		return StatusCancelled
	}
	return StatusInternalError
}
