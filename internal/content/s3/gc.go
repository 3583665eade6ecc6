package s3

import (
	"context"
	"time"

	"github.com/tandemfs/tandem/internal/meta"
)

// gcBatch is how many garbage records the collector handles per round.
const gcBatch = 1000

// collector deletes the objects named in bucketGC whenever woken, sweeps
// the bucket once at start and then every Options.GCEvery.
func (s *Store) collector() {
	defer s.wg.Done()
	every := s.o.GCEvery
	if every < 0 {
		every = 1<<63 - 1
	}
	sweep := time.NewTimer(time.Minute) // once the server is up and busy with more urgent things
	defer sweep.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.collect:
			if err := s.drainGC(s.ctx); err != nil && s.ctx.Err() == nil {
				s.log.Warn("s3: deleting unused objects failed; will retry", "err", err)
			}
		case <-sweep.C:
			n, err := s.sweep(s.ctx, s.o.GCGrace)
			if err != nil && s.ctx.Err() == nil {
				s.log.Warn("s3: sweeping the bucket failed", "err", err)
			} else if n > 0 {
				s.log.Info("s3: deleted objects no file refers to", "count", n)
			}
			sweep.Reset(every)
		}
	}
}

// drainGC deletes every object bucketGC names, then its record.
func (s *Store) drainGC(ctx context.Context) error {
	for {
		var keys []string
		err := s.meta.View(ctx, func(tx meta.Tx) error {
			keys = keys[:0]
			return tx.Scan(bucketGC, nil, func(k, v []byte) bool {
				keys = append(keys, string(k))
				return len(keys) < gcBatch
			})
		})
		if err != nil || len(keys) == 0 {
			return err
		}
		// Deleting an object already gone is not an error, so a crash
		// between the delete and the record's removal repeats harmlessly.
		if err := s.c.del(ctx, keys); err != nil {
			return err
		}
		err = s.meta.UpdateLazy(ctx, func(tx meta.Tx) error {
			for _, k := range keys {
				if err := tx.Delete(bucketGC, []byte(k)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.lazy = true
		s.mu.Unlock()
		if len(keys) < gcBatch {
			return nil
		}
	}
}

// sweep lists the store's objects and deletes those older than grace that
// the block map does not name: uploads whose map switch never happened
// (the process died between the two), and anything the collector missed.
func (s *Store) sweep(ctx context.Context, grace time.Duration) (int, error) {
	cutoff := time.Now().Add(-grace)
	deleted := 0
	err := s.c.list(ctx, s.o.Prefix, func(objs []object) error {
		var cand []object
		s.mu.Lock()
		for _, o := range objs {
			if _, busy := s.uploading[o.key]; !busy && (grace <= 0 || o.modified.Before(cutoff)) {
				cand = append(cand, o)
			}
		}
		s.mu.Unlock()
		var garbage []string
		err := s.meta.View(ctx, func(tx meta.Tx) error {
			garbage = garbage[:0]
			for _, o := range cand {
				id, b, ver, ok := s.parseObjectKey(o.key)
				if !ok {
					continue // not the store's: leave it alone
				}
				v, err := tx.Get(bucketBlocks, blockKey(id, b))
				if err == meta.ErrNotFound {
					garbage = append(garbage, o.key)
					continue
				}
				if err != nil {
					return err
				}
				r, err := decodeRef(v)
				if err != nil {
					return err
				}
				if r.ver != ver {
					garbage = append(garbage, o.key)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := s.c.del(ctx, garbage); err != nil {
			return err
		}
		deleted += len(garbage)
		return nil
	})
	return deleted, err
}
