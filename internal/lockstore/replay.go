package lockstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/meta"
)

// journalBucket holds the journal's own marker: under syncedKey, the tag of
// the last synced write. A redo frame with a tag at or below it is in the
// store already (a crash came between the synced write and the emptying
// of the redo log).
const journalBucket = "lockjournal"

var syncedKey = []byte("synced")

// Replay writes what the redo log at path holds that the store does not
// into the store, synced, and empties the log. Call it at start, before
// anything reads the store: the log may hold other subsystems' records
// too. It reports whether the state is exact (the machine did not restart
// since the last run wrote the log: see boot.go).
func Replay(ctx context.Context, store meta.Store, path string, log *slog.Logger) (exact bool, err error) {
	if log == nil {
		log = slog.Default()
	}
	exact = sameBoot(path)
	frames, err := readRedo(path)
	if err != nil || len(frames) == 0 {
		return exact, err
	}
	var files, records int
	err = store.Update(ctx, func(tx meta.Tx) error {
		files, records = 0, 0
		synced, err := syncedTag(tx)
		if err != nil {
			return err
		}
		last := synced
		for _, fr := range frames {
			if fr.tag <= synced {
				continue
			}
			for _, fs := range fr.files {
				if err := writeFileState(tx, fs, fr.tag); err != nil {
					return err
				}
				files++
			}
			for _, o := range fr.kv {
				if err := writeKV(tx, o); err != nil {
					return err
				}
				records++
			}
			last = max(last, fr.tag)
		}
		return putSyncedTag(tx, last)
	})
	if err != nil {
		return exact, fmt.Errorf("replay the lock redo log: %w", err)
	}
	if err := os.Truncate(path, 0); err != nil {
		return exact, fmt.Errorf("empty the lock redo log: %w", err)
	}
	log.Info("lock redo log replayed", "frames", len(frames), "file_states", files, "records", records, "exact", exact)
	return exact, nil
}

func syncedTag(tx meta.Tx) (uint64, error) {
	v, err := tx.Get(journalBucket, syncedKey)
	if errors.Is(err, meta.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	t, n := binary.Uvarint(v)
	if n <= 0 {
		return 0, errors.New("lockstore: malformed synced tag")
	}
	return t, nil
}

func putSyncedTag(tx meta.Tx, tag uint64) error {
	return tx.Put(journalBucket, syncedKey, binary.AppendUvarint(nil, tag))
}

// writeFileState puts a file's state, tagged, unless the store holds a
// newer one; no records delete the file's key.
func writeFileState(tx meta.Tx, fs lock.FileState, tag uint64) error {
	key, _ := fs.File.AppendBinary(nil)
	if v, err := tx.Get(Bucket, key); err == nil {
		if cur, n := binary.Uvarint(v); n > 0 && cur > tag {
			return nil
		}
	}
	return writeChanges(tx, []lock.FileState{fs}, tag)
}

func writeKV(tx meta.Tx, o kvOp) error {
	if o.del {
		if err := tx.Delete(o.bucket, o.key); err != nil && !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		return nil
	}
	return tx.Put(o.bucket, o.key, o.value)
}
