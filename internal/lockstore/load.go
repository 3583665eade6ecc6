package lockstore

import (
	"context"
	"encoding/binary"
	"log/slog"
	"time"

	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/meta"
)

// Loaded is the persisted lock state.
type Loaded struct {
	Records []lock.Record
	Claims  []lock.Claim
	// Base is the tag the journal of this run goes on from: above every
	// tag the store holds.
	Base uint64
}

// Load reads the persisted lock table and claims, once Replay has brought
// the redo log's content into the store. A file's value that does not
// decode, or whose records name another file, is skipped with an error in
// the log: it cannot be acted on, and refusing to start would lose every
// other file's state too.
func Load(ctx context.Context, store meta.Store, log *slog.Logger) (*Loaded, error) {
	if log == nil {
		log = slog.Default()
	}
	out := &Loaded{}
	var base uint64
	err := store.View(ctx, func(tx meta.Tx) error {
		out.Records, out.Claims, base = nil, nil, 0
		synced, err := syncedTag(tx)
		if err != nil {
			return err
		}
		base = synced
		err = tx.Scan(ClaimBucket, nil, func(k, _ []byte) bool {
			key, ok := lock.ParseFileKey(k[:min(len(k), lock.FileKeySize)])
			if !ok || len(k) == lock.FileKeySize {
				log.Error("skipping a malformed persisted lock claim", "key", k)
				return true
			}
			out.Claims = append(out.Claims, lock.Claim{File: key, Proto: lock.Proto(k[lock.FileKeySize]), Host: string(k[lock.FileKeySize+1:])})
			return true
		})
		if err != nil {
			return err
		}
		return tx.Scan(Bucket, nil, func(k, v []byte) bool {
			key, ok := lock.ParseFileKey(k)
			tag, n := binary.Uvarint(v)
			var recs []lock.Record
			err := lock.ErrRecord
			if ok && n > 0 {
				recs, err = lock.DecodeRecords(v[n:])
			}
			if err == nil {
				for _, r := range recs {
					ok = ok && r.File == key
				}
			}
			if !ok || err != nil {
				log.Error("skipping a malformed persisted lock record", "key", k, "err", err)
				return true
			}
			out.Records = append(out.Records, recs...)
			base = max(base, tag)
			return true
		})
	})
	if err != nil {
		return nil, err
	}
	out.Base = base + 1
	return out, nil
}

// Recover restores recs in mgr as prior state with a grace period that
// ends at until (lock.Manager.Recover). A file whose records conflict with
// each other, which the journal never writes, is dropped with an error in
// the log, so that every other file's state is restored.
func Recover(mgr *lock.Manager, recs []lock.Record, claims []lock.Claim, until time.Time, log *slog.Logger) error {
	err := mgr.Recover(recs, claims, until)
	if err == nil {
		return nil
	}
	if log == nil {
		log = slog.Default()
	}
	var keep []lock.Record
	for i := 0; i < len(recs); {
		j := i
		for j < len(recs) && recs[j].File == recs[i].File {
			j++
		}
		if err := lock.New(lock.Config{}).Restore(recs[i:j]); err != nil {
			log.Error("dropping the persisted lock state of a file", "file", recs[i].File, "err", err)
		} else {
			keep = append(keep, recs[i:j]...)
		}
		i = j
	}
	return mgr.Recover(keep, claims, until)
}
