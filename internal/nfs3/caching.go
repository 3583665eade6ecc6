package nfs3

import (
	"context"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
)

// NFS has no opens and no caching grants of its own, but its reads and
// writes conflict with what SMB clients cache: a READ needs the data that
// a write-caching client still holds, a WRITE makes every cached copy
// stale. Before them the handler asks the lock manager to break those
// grants and, while a break waits for the SMB client's acknowledgment,
// waits a short while; past that the client is told NFS3ERR_JUKEBOX and
// retries, so that no server thread waits for a slow SMB client.

// defaultBreakWait is how long a READ or WRITE waits inline for breaks.
const defaultBreakWait = time.Second

// contend breaks the caching grants c conflicts with on the file fh names
// and waits until none holds what c needs gone, or answers fs.ErrJukebox.
func (h *Handler) contend(fh fs.Handle, c lock.Contention) error {
	k := lock.KeyOf(fh)
	if h.locks == nil || h.locks.Idle(k) {
		return nil
	}
	now := time.Now()
	if !lock.AwaitBreaks(context.Background(), h.locks, k, c, now.Add(h.breakTimeout), now.Add(h.breakWait), h.route) {
		return fs.ErrJukebox
	}
	return nil
}

// contendKeys is contend for several files: the breaks of all go out
// first, then it waits for them within one bound.
func (h *Handler) contendKeys(ks []lock.FileKey, c lock.Contention) error {
	if h.locks == nil {
		return nil
	}
	now := time.Now()
	deadline := now.Add(h.breakTimeout)
	for _, k := range ks {
		h.route(h.locks.Contend(k, lock.Owner{}, c, deadline).Notices)
	}
	giveUp := now.Add(h.breakWait)
	for _, k := range ks {
		if !lock.AwaitBreaks(context.Background(), h.locks, k, c, deadline, giveUp, h.route) {
			return fs.ErrJukebox
		}
	}
	return nil
}

func (h *Handler) route(ns []lock.Notice) {
	if len(ns) > 0 && h.notices != nil {
		h.notices(ns)
	}
}
