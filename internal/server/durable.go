package server

import (
	"context"
	"encoding/binary"

	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/lockstore"
	"github.com/tandemfs/tandem/internal/meta"
	"github.com/tandemfs/tandem/internal/smb"
)

// SMB durable opens are kept in the metadata store, bucket "smbdurable",
// under their persistent FileId (8 bytes, big-endian), written through the
// lock journal so that a record is durable together with the lock state
// granted with it.
const durableBucket = "smbdurable"

// durableStore is smb.DurableStore over the lock journal.
type durableStore struct{ j *lockstore.Journal }

func durableKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// Save implements smb.DurableStore. The record goes where the lock state
// granted with the open goes (the journal's redo log, with that state,
// then the store within a second): a kill of the server loses neither,
// and a CREATE does not wait for the disk. (The Linux client asks for a
// durable handle with every open: a synced write each would make opening
// a file ten times slower.) A crash of the machine within that second may
// lose the record; the client's reconnect then fails and it opens the
// file again, as it does against a server without durable handles.
func (d durableStore) Save(ctx context.Context, rec *smb.DurableOpen) error {
	b, err := rec.MarshalBinary()
	if err != nil {
		return err
	}
	return d.j.Put(ctx, durableBucket, durableKey(rec.Persistent), b)
}

// Delete implements smb.DurableStore.
func (d durableStore) Delete(ctx context.Context, id uint64) error {
	return d.j.Delete(ctx, durableBucket, durableKey(id))
}

// loadDurable reads the durable opens of the last run. A record that does
// not decode is skipped with an error in the log.
func (s *Server) loadDurable(ctx context.Context) ([]smb.DurableOpen, error) {
	var out []smb.DurableOpen
	err := s.meta.View(ctx, func(tx meta.Tx) error {
		out = out[:0]
		return tx.Scan(durableBucket, nil, func(k, v []byte) bool {
			var rec smb.DurableOpen
			if err := rec.UnmarshalBinary(v); err != nil || len(k) != 8 || binary.BigEndian.Uint64(k) != rec.Persistent {
				s.log.Error("skipping a malformed SMB durable open record", "key", k, "err", err)
				return true
			}
			out = append(out, rec)
			return true
		})
	})
	return out, err
}

// durableSet says which SMB opens of the last run were durable.
func durableSet(recs []smb.DurableOpen) func(client string, open uint64) bool {
	m := make(map[lock.Owner]bool, len(recs))
	for i := range recs {
		m[lock.SMBOwner(recs[i].Client, recs[i].Persistent)] = true
	}
	return func(client string, open uint64) bool { return m[lock.SMBOwner(client, open)] }
}
