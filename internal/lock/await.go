package lock

import (
	"context"
	"time"
)

// Front ends of protocols without caching grants of their own (NFS I/O,
// NLM) break SMB clients' grants before they act, and wait a short while
// for the acknowledgments; a client that takes longer is told to retry
// (NFS3ERR_JUKEBOX, NLM4_DENIED_GRACE_PERIOD), so that no server thread
// waits for a slow SMB client.

// breakPoll is how often AwaitBreaks asks the Manager again when nothing
// woke it: an acknowledgment (any change of the table) wakes it at once,
// so that the wait is the client's round trip, not a tick of this.
const breakPoll = 5 * time.Millisecond

// wakeOnChange returns a channel that is closed at the next change of the
// table's persisted state (a grant acknowledged, released or revoked among
// them).
func (m *Manager) wakeOnChange() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.onChange == nil {
		m.onChange = make(chan struct{})
	}
	return m.onChange
}

// AwaitBreaks breaks the caching grants that c conflicts with on file k
// (Contend, with except none) and waits until none holds what c needs
// gone. Breaks not acknowledged by breakDeadline are revoked. It gives up
// at giveUp, or when ctx ends, and reports false. route receives the
// notices to deliver (the breaks to send, the waiters a revocation grants).
func AwaitBreaks(ctx context.Context, m *Manager, k FileKey, c Contention, breakDeadline, giveUp time.Time, route func([]Notice)) bool {
	if m.Idle(k) {
		return true
	}
	for {
		// Taken before asking, so that a change right after the answer
		// is not missed.
		woken := m.wakeOnChange()
		d := m.Contend(k, Owner{}, c, breakDeadline)
		if len(d.Notices) > 0 {
			route(d.Notices)
		}
		if !d.Wait {
			return true
		}
		now := time.Now()
		if !d.Deadline.IsZero() && !now.Before(d.Deadline) {
			if ns := m.Expire(); len(ns) > 0 { // a break timed out: revoke it
				route(ns)
			}
			continue
		}
		if now.After(giveUp) {
			return false
		}
		t := time.NewTimer(breakPoll)
		select {
		case <-t.C:
		case <-woken:
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
}
