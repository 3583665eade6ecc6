package smb

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
)

func TestStatusOf(t *testing.T) {
	// Every error of the vocabulary has an entry.
	for e := fs.ErrPerm; e <= fs.ErrLoop; e++ {
		if st := StatusOf(e); st == StatusInternalError && e != fs.ErrServerFault || !st.IsError() {
			t.Errorf("%v maps to %v", e, st)
		}
	}
	for _, c := range []struct {
		err  error
		want Status
	}{
		{nil, StatusSuccess},
		{fs.ErrNotExist, StatusObjectNameNotFound},
		{fs.ErrExist, StatusObjectNameCollision},
		{fs.ErrLocked, StatusFileLockConflict},
		{fmt.Errorf("wrapped: %w", fs.ErrNotEmpty), StatusDirectoryNotEmpty},
		{StatusSharingViolation, StatusSharingViolation},
		{context.Canceled, StatusCancelled},
		{fs.Error(999), StatusInternalError},
		{errors.New("other"), StatusInternalError},
	} {
		if got := StatusOf(c.err); got != c.want {
			t.Errorf("StatusOf(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if StatusBufferOverflow.IsError() || StatusPending.IsError() || !StatusLogonFailure.IsError() {
		t.Error("IsError severities")
	}
	if StatusLogonFailure.String() != "STATUS_LOGON_FAILURE" || Status(0xc0001234).String() != "0xc0001234" {
		t.Error("String")
	}
}
