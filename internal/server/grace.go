package server

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/lockstore"
)

// recoverLocks restores the lock state an earlier run persisted, as prior
// state that its clients reclaim during the grace period (package lock,
// grace.go). Nothing to restore means no grace period.
func (s *Server) recoverLocks(ctx context.Context, l *locks) error {
	exact, err := lockstore.Replay(ctx, s.meta, s.redoPath(), s.log)
	if err != nil {
		return err
	}
	loaded, err := lockstore.Load(ctx, s.meta, s.log)
	if err != nil {
		return fmt.Errorf("load lock state: %w", err)
	}
	l.loaded = loaded
	if l.durable, err = s.loadDurable(ctx); err != nil {
		return fmt.Errorf("load SMB durable opens: %w", err)
	}
	recs, claims := restorable(loaded.Records, durableSet(l.durable)), loaded.Claims
	if exact {
		claims = nil // the records are the whole truth: see lockstore's boot.go
	}
	if len(recs) == 0 && len(claims) == 0 {
		return nil
	}
	grace := time.Duration(s.cfg.GracePeriod)
	if err := lockstore.Recover(l.mgr, recs, claims, time.Now().Add(grace), s.log); err != nil {
		return fmt.Errorf("restore lock state: %w", err)
	}
	hosts := map[string]bool{}
	kinds := map[lock.Kind]int{}
	for _, r := range recs {
		hosts[r.Owner.Proto.String()+":"+r.Owner.Host] = true
		kinds[r.Kind]++
	}
	gs := l.mgr.Grace()
	if !gs.Active {
		return nil
	}
	s.log.Info("grace period: lock state of the last run restored; clients reclaim it until the end, new locks wait",
		"locks", kinds[lock.KindRange], "share_reservations", kinds[lock.KindShare], "leases_oplocks", kinds[lock.KindCaching],
		"smb_durable_opens", len(l.durable), "claims", len(claims),
		"clients", len(hosts), "grace", grace, "ends", gs.Ends.Format(time.RFC3339))
	return nil
}

// redoPath is where the lock journal's redo log lives.
func (s *Server) redoPath() string { return filepath.Join(s.cfg.Data, "lock.redo") }

// expire runs the lock manager's deadlines: breaks not acknowledged in
// time are revoked, waiters that gave up are dropped, and the grace
// period ends when its time is up.
func (l *locks) expire() {
	defer l.wg.Done()
	t := time.NewTimer(time.Second)
	defer t.Stop()
	wasGrace := l.mgr.InGrace()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		if at, ok := l.mgr.NextDeadline(); ok && !time.Now().Before(at) {
			before := l.mgr.Grace()
			ns := l.mgr.Expire()
			l.journal.Lazy()
			l.route(ns)
			if before.Active && !l.mgr.InGrace() {
				l.log.Info("grace period over: what was not reclaimed is released",
					"released_entries", before.Unreclaimed, "released_owners", before.Owners)
				wasGrace = false
			}
		}
		if wasGrace && !l.mgr.InGrace() {
			l.log.Info("grace period over: everything was reclaimed")
			wasGrace = false
		}
		next := time.Second
		if at, ok := l.mgr.NextDeadline(); ok {
			next = min(max(time.Until(at), time.Millisecond), time.Second)
		}
		t.Reset(next)
	}
}

// GraceEnd is what `tandem grace end` reports.
type GraceEnd struct {
	WasActive       bool `json:"was_active"`
	ReleasedEntries int  `json:"released_entries"`
	ReleasedOwners  int  `json:"released_owners"`
}

// endGrace ends the grace period now, releasing what is still prior.
func (l *locks) endGrace(why string) GraceEnd {
	gs := l.mgr.Grace()
	ns := l.mgr.EndGrace()
	l.journal.Lazy()
	l.route(ns)
	if gs.Active {
		l.log.Info("grace period over: "+why, "released_entries", gs.Unreclaimed, "released_owners", gs.Owners)
	}
	return GraceEnd{WasActive: gs.Active, ReleasedEntries: gs.Unreclaimed, ReleasedOwners: gs.Owners}
}

// GraceStatus is the grace period as `tandem status` shows it.
type GraceStatus struct {
	Active      bool      `json:"active"`
	Ends        time.Time `json:"ends,omitzero"`
	Unreclaimed int       `json:"unreclaimed"`
	Clients     []string  `json:"clients,omitempty"` // who still has prior state
}

func (l *locks) graceStatus() GraceStatus {
	gs := l.mgr.Grace()
	out := GraceStatus{Active: gs.Active, Ends: gs.Ends, Unreclaimed: gs.Unreclaimed}
	if !gs.Active {
		return out
	}
	seen := map[string]bool{}
	for _, e := range l.mgr.Snapshot() {
		if c := e.Owner.Proto.String() + ":" + e.Owner.Host; e.Owner.Prior && !seen[c] {
			seen[c] = true
			out.Clients = append(out.Clients, c)
		}
	}
	return out
}

// restorable drops what no client can take back: the share reservations
// and caching grants of SMB opens that were not durable (their handles
// died with the connection; the client opens anew), and such opens'
// places among a lease's opens. Their byte-range locks stay: a client
// that locks again through its new open reclaims them.
func restorable(recs []lock.Record, durable func(client string, open uint64) bool) []lock.Record {
	out := recs[:0]
	for _, r := range recs {
		if r.Owner.Proto != lock.SMB {
			out = append(out, r)
			continue
		}
		switch r.Kind {
		case lock.KindShare:
			if !durable(r.Owner.Host, r.Owner.Open) {
				continue
			}
		case lock.KindCaching:
			opens := r.Opens[:0]
			for _, o := range r.Opens {
				if durable(r.Owner.Host, o) {
					opens = append(opens, o)
				}
			}
			if len(opens) == 0 {
				continue
			}
			r.Opens = opens
		}
		out = append(out, r)
	}
	return out
}
