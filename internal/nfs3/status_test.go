package nfs3

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
)

func TestStatusTable(t *testing.T) {
	want := map[fs.Error]Status{
		fs.ErrPerm: 1, fs.ErrNotExist: 2, fs.ErrIO: 5, fs.ErrAccess: 13, fs.ErrExist: 17,
		fs.ErrXDev: 18, fs.ErrNotDir: 20, fs.ErrIsDir: 21, fs.ErrInval: 22, fs.ErrFBig: 27,
		fs.ErrNoSpace: 28, fs.ErrROFS: 30, fs.ErrMLink: 31, fs.ErrNameTooLong: 63,
		fs.ErrNotEmpty: 66, fs.ErrStale: 70, fs.ErrBadHandle: 10001, fs.ErrNotSync: 10002,
		fs.ErrBadCookie: 10003, fs.ErrNotSupp: 10004, fs.ErrTooSmall: 10005,
		fs.ErrBadType: 10007, fs.ErrJukebox: 10008, fs.ErrServerFault: 10006,
		fs.ErrLocked: 13, fs.ErrLoop: 22,
	}
	// Every error of the vocabulary has a row: a new fs.Error must be
	// added to the table (and here) deliberately.
	for e := fs.Error(1); e.Error() != "fs: unknown error"; e++ {
		w, ok := want[e]
		if !ok {
			t.Errorf("%v (%d) has no expected status", e, e)
			continue
		}
		if got := statusOf(e); got != w {
			t.Errorf("%v: %v, want %v", e, got, w)
		}
	}
	if got := statusOf(fmt.Errorf("wrapped: %w", fs.ErrStale)); got != StatusStale {
		t.Errorf("wrapped: %v", got)
	}
	if got := statusOf(errors.New("boom")); got != StatusServerFault {
		t.Errorf("foreign error: %v", got)
	}
	if got := statusOf(nil); got != StatusOK {
		t.Errorf("nil: %v", got)
	}
	if StatusBadCookie.String() != "NFS3ERR_BAD_COOKIE" || Status(12345).String() != "nfsstat3(12345)" {
		t.Error("String")
	}
}
