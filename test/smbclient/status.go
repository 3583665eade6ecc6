package smbclient

import "fmt"

// Status is an NTSTATUS code (MS-ERREF 2.3), as a response header carries
// it. Every call returns the status of its response unchanged, so that a
// test can assert it exactly; the names below are the ones tests use.
type Status uint32

// The statuses tests meet.
const (
	StatusSuccess                Status = 0x00000000
	StatusPending                Status = 0x00000103
	StatusNotifyEnumDir          Status = 0x0000010c
	StatusBufferOverflow         Status = 0x80000005
	StatusUnsuccessful           Status = 0xc0000001
	StatusNotImplemented         Status = 0xc0000002
	StatusInvalidHandle          Status = 0xc0000008
	StatusInvalidParameter       Status = 0xc000000d
	StatusNoSuchFile             Status = 0xc000000f
	StatusInvalidDeviceRequest   Status = 0xc0000010
	StatusEndOfFile              Status = 0xc0000011
	StatusMoreProcessingRequired Status = 0xc0000016
	StatusAccessDenied           Status = 0xc0000022
	StatusObjectNameInvalid      Status = 0xc0000033
	StatusObjectNameNotFound     Status = 0xc0000034
	StatusObjectNameCollision    Status = 0xc0000035
	StatusObjectPathNotFound     Status = 0xc000003a
	StatusSharingViolation       Status = 0xc0000043
	StatusFileLockConflict       Status = 0xc0000054
	StatusLockNotGranted         Status = 0xc0000055
	StatusDeletePending          Status = 0xc0000056
	StatusLogonFailure           Status = 0xc000006d
	StatusRangeNotLocked         Status = 0xc000007e
	StatusNotSupported           Status = 0xc00000bb
	StatusNetworkNameDeleted     Status = 0xc00000c9
	StatusBadNetworkName         Status = 0xc00000cc
	StatusRequestNotAccepted     Status = 0xc00000d0
	StatusOplockNotGranted       Status = 0xc00000e2
	StatusInvalidOplockProtocol  Status = 0xc00000e3
	StatusInternalError          Status = 0xc00000e5
	StatusCancelled              Status = 0xc0000120
	StatusFileClosed             Status = 0xc0000128
	StatusUserSessionDeleted     Status = 0xc0000203
	StatusNotFound               Status = 0xc0000225
	StatusInvalidLockRange       Status = 0xc00001a1
	StatusNetworkSessionExpired  Status = 0xc000035c
	StatusRequestOutOfSequence   Status = 0xc000042a
	StatusFileNotAvailable       Status = 0xc0000467
)

var statusNames = map[Status]string{
	StatusSuccess:                "STATUS_SUCCESS",
	StatusPending:                "STATUS_PENDING",
	StatusNotifyEnumDir:          "STATUS_NOTIFY_ENUM_DIR",
	StatusBufferOverflow:         "STATUS_BUFFER_OVERFLOW",
	StatusUnsuccessful:           "STATUS_UNSUCCESSFUL",
	StatusNotImplemented:         "STATUS_NOT_IMPLEMENTED",
	StatusInvalidHandle:          "STATUS_INVALID_HANDLE",
	StatusInvalidParameter:       "STATUS_INVALID_PARAMETER",
	StatusNoSuchFile:             "STATUS_NO_SUCH_FILE",
	StatusInvalidDeviceRequest:   "STATUS_INVALID_DEVICE_REQUEST",
	StatusEndOfFile:              "STATUS_END_OF_FILE",
	StatusMoreProcessingRequired: "STATUS_MORE_PROCESSING_REQUIRED",
	StatusAccessDenied:           "STATUS_ACCESS_DENIED",
	StatusObjectNameInvalid:      "STATUS_OBJECT_NAME_INVALID",
	StatusObjectNameNotFound:     "STATUS_OBJECT_NAME_NOT_FOUND",
	StatusObjectNameCollision:    "STATUS_OBJECT_NAME_COLLISION",
	StatusObjectPathNotFound:     "STATUS_OBJECT_PATH_NOT_FOUND",
	StatusSharingViolation:       "STATUS_SHARING_VIOLATION",
	StatusFileLockConflict:       "STATUS_FILE_LOCK_CONFLICT",
	StatusLockNotGranted:         "STATUS_LOCK_NOT_GRANTED",
	StatusDeletePending:          "STATUS_DELETE_PENDING",
	StatusLogonFailure:           "STATUS_LOGON_FAILURE",
	StatusRangeNotLocked:         "STATUS_RANGE_NOT_LOCKED",
	StatusNotSupported:           "STATUS_NOT_SUPPORTED",
	StatusNetworkNameDeleted:     "STATUS_NETWORK_NAME_DELETED",
	StatusBadNetworkName:         "STATUS_BAD_NETWORK_NAME",
	StatusRequestNotAccepted:     "STATUS_REQUEST_NOT_ACCEPTED",
	StatusOplockNotGranted:       "STATUS_OPLOCK_NOT_GRANTED",
	StatusInvalidOplockProtocol:  "STATUS_INVALID_OPLOCK_PROTOCOL",
	StatusInternalError:          "STATUS_INTERNAL_ERROR",
	StatusCancelled:              "STATUS_CANCELLED",
	StatusFileClosed:             "STATUS_FILE_CLOSED",
	StatusUserSessionDeleted:     "STATUS_USER_SESSION_DELETED",
	StatusNotFound:               "STATUS_NOT_FOUND",
	StatusInvalidLockRange:       "STATUS_INVALID_LOCK_RANGE",
	StatusNetworkSessionExpired:  "STATUS_NETWORK_SESSION_EXPIRED",
	StatusRequestOutOfSequence:   "STATUS_REQUEST_OUT_OF_SEQUENCE",
	StatusFileNotAvailable:       "STATUS_FILE_NOT_AVAILABLE",
}

// String is the status's name, or its hexadecimal code.
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("NTSTATUS(0x%08x)", uint32(s))
}

// StatusError is the error of a step that a test does not assert itself
// (Dial's NEGOTIATE, the steps of Connect) when it did not succeed.
type StatusError struct {
	Op     string // the request, "NEGOTIATE", "TREE_CONNECT", ...
	Status Status
}

func (e *StatusError) Error() string { return e.Op + ": " + e.Status.String() }
