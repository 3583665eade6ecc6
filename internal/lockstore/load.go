package lockstore

import (
	"context"
	"encoding/binary"
	"log/slog"
	"slices"
	"time"

	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/meta"
)

// Loaded is the persisted lock state: the store's, with what the redo log
// holds of newer file states.
type Loaded struct {
	Records []lock.Record
	Claims  []lock.Claim
	// Replayed are the files whose state came from the redo log.
	Replayed []lock.FileKey
	// Base is the tag the journal of this run goes on from: above every
	// tag of the store and the redo log.
	Base uint64
	// Exact says the records are the exact state of the last answered
	// change of the last run: the machine did not restart since (boot.go),
	// so the redo log lost nothing. The claims then stand for nothing the
	// records do not show.
	Exact bool
}

// Load reads the persisted lock table, claims and redo log (redo may be
// empty: none). A file's value that does not decode, or whose records
// name another file, is skipped with an error in the log: it cannot be
// acted on, and refusing to start would lose every other file's state too.
func Load(ctx context.Context, store meta.Store, redo string, log *slog.Logger) (*Loaded, error) {
	if log == nil {
		log = slog.Default()
	}
	files := map[lock.FileKey]redoState{}
	var claims []lock.Claim
	var base uint64
	err := store.View(ctx, func(tx meta.Tx) error {
		clear(files)
		claims = claims[:0]
		err := tx.Scan(ClaimBucket, nil, func(k, _ []byte) bool {
			key, ok := lock.ParseFileKey(k[:min(len(k), lock.FileKeySize)])
			if !ok || len(k) == lock.FileKeySize {
				log.Error("skipping a malformed persisted lock claim", "key", k)
				return true
			}
			claims = append(claims, lock.Claim{File: key, Proto: lock.Proto(k[lock.FileKeySize]), Host: string(k[lock.FileKeySize+1:])})
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
			files[key] = redoState{tag: tag, recs: recs}
			base = max(base, tag)
			return true
		})
	})
	if err != nil {
		return nil, err
	}
	out := &Loaded{Claims: claims}
	if redo != "" {
		out.Exact = sameBoot(redo)
		frames, err := readRedo(redo)
		if err != nil {
			return nil, err
		}
		for k, st := range frames {
			base = max(base, st.tag)
			if cur, ok := files[k]; ok && cur.tag > st.tag {
				continue
			}
			if slices.ContainsFunc(st.recs, func(r lock.Record) bool { return r.File != k }) {
				log.Error("skipping a malformed lock redo frame", "file", k)
				continue
			}
			files[k] = st
			out.Replayed = append(out.Replayed, k)
		}
	}
	keys := make([]lock.FileKey, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpKey)
	for _, k := range keys {
		out.Records = append(out.Records, files[k].recs...)
	}
	slices.SortFunc(out.Replayed, cmpKey)
	out.Base = base + 1
	return out, nil
}

func cmpKey(a, b lock.FileKey) int {
	switch {
	case a.Share != b.Share:
		return int(int64(a.Share) - int64(b.Share))
	case a.ID < b.ID:
		return -1
	case a.ID > b.ID:
		return 1
	}
	return 0
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
