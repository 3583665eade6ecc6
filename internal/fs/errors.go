package fs

// Error is the one error vocabulary of the file system and the lock manager.
// Each protocol maps it to its own status codes in one table (nfs3 to
// nfsstat3, smb to NTSTATUS); nothing else crosses the layer boundary.
type Error uint16

// The vocabulary. Names follow POSIX where one exists.
const (
	ErrPerm        Error = iota + 1 // not the owner / not allowed even with permission bits
	ErrNotExist                     // no such file or directory
	ErrIO                           // the store failed
	ErrAccess                       // permission bits (or export rules) deny it
	ErrExist                        // the name exists
	ErrXDev                         // across shares
	ErrNotDir                       // a directory was needed
	ErrIsDir                        // a non-directory was needed
	ErrInval                        // an argument is invalid
	ErrFBig                         // file too large
	ErrNoSpace                      // no space left
	ErrROFS                         // the share is read-only
	ErrMLink                        // too many links
	ErrNameTooLong                  // a name over MaxNameLen
	ErrNotEmpty                     // directory not empty
	ErrStale                        // handle of a removed file, or a reused id
	ErrBadHandle                    // not a handle this server made
	ErrNotSync                      // guard of a guarded SETATTR does not match
	ErrBadCookie                    // READDIR cookie no longer valid
	ErrNotSupp                      // operation not supported
	ErrTooSmall                     // the reply buffer is too small
	ErrBadType                      // file type not supported (e.g. socket where not allowed)
	ErrJukebox                      // try again later (waiting on a lease break)
	ErrServerFault                  // a bug or an unexpected state
	ErrLocked                       // a lock or share reservation conflicts
	ErrLoop                         // too many levels of symbolic links
)

var errNames = [...]string{
	ErrPerm:        "operation not permitted",
	ErrNotExist:    "no such file or directory",
	ErrIO:          "input/output error",
	ErrAccess:      "permission denied",
	ErrExist:       "file exists",
	ErrXDev:        "cross-share link",
	ErrNotDir:      "not a directory",
	ErrIsDir:       "is a directory",
	ErrInval:       "invalid argument",
	ErrFBig:        "file too large",
	ErrNoSpace:     "no space left on device",
	ErrROFS:        "read-only share",
	ErrMLink:       "too many links",
	ErrNameTooLong: "file name too long",
	ErrNotEmpty:    "directory not empty",
	ErrStale:       "stale file handle",
	ErrBadHandle:   "bad file handle",
	ErrNotSync:     "attribute guard mismatch",
	ErrBadCookie:   "bad directory cookie",
	ErrNotSupp:     "operation not supported",
	ErrTooSmall:    "buffer too small",
	ErrBadType:     "unsupported file type",
	ErrJukebox:     "try again later",
	ErrServerFault: "server fault",
	ErrLocked:      "lock conflict",
	ErrLoop:        "too many levels of symbolic links",
}

func (e Error) Error() string {
	if int(e) < len(errNames) && errNames[e] != "" {
		return "fs: " + errNames[e]
	}
	return "fs: unknown error"
}
