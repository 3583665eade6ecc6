package lockstore

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"

	"github.com/tandemfs/tandem/internal/lock"
)

// The redo log holds the file states the journal wrote without syncing
// the store: each write(2) of it is in the operating system when the call
// returns, so a kill of the process loses none of them, where the store's
// own unsynced writes sit in its buffers. It is emptied after every synced
// write of the store, which then holds everything it held.
//
// A frame is a 4-byte little-endian length and a CRC-32C of the payload,
// then the payload: a uvarint tag (see Journal: tags only grow, across
// runs too) and uvarint count, then each file's 12-byte key, a uvarint
// length and its lock.AppendRecords. A torn last frame (a crash in the
// middle of a write) ends the log.

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// maxFrame bounds a frame's payload.
const maxFrame = 64 << 20

type redoLog struct {
	f   *os.File
	buf []byte
}

func openRedo(path string) (*redoLog, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &redoLog{f: f}, nil
}

// append writes one frame with the states of changes, tagged tag.
func (r *redoLog) append(tag uint64, changes []lock.FileState, scratch []byte) ([]byte, error) {
	b := append(r.buf[:0], make([]byte, 8)...)
	b = binary.AppendUvarint(b, tag)
	b = binary.AppendUvarint(b, uint64(len(changes)))
	for _, c := range changes {
		b, _ = c.File.AppendBinary(b)
		scratch = lock.AppendRecords(scratch[:0], c.Records)
		b = binary.AppendUvarint(b, uint64(len(scratch)))
		b = append(b, scratch...)
	}
	binary.LittleEndian.PutUint32(b, uint32(len(b)-8))
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(b[8:], crcTable))
	r.buf = b
	_, err := r.f.Write(b)
	return scratch, err
}

// reset empties the log: the store holds all of it now.
func (r *redoLog) reset() error {
	return r.f.Truncate(0)
}

func (r *redoLog) close() error { return r.f.Close() }

// redoState is a file's state read from the redo log.
type redoState struct {
	tag  uint64
	recs []lock.Record
}

// readRedo reads the frames of the log at path, the latest state of each
// file (a missing log has none). It stops at a torn or corrupt frame.
func readRedo(path string) (map[lock.FileKey]redoState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[lock.FileKey]redoState{}
	for len(b) >= 8 {
		n := binary.LittleEndian.Uint32(b)
		if n > maxFrame || uint64(len(b)-8) < uint64(n) {
			break
		}
		p := b[8 : 8+n]
		if crc32.Checksum(p, crcTable) != binary.LittleEndian.Uint32(b[4:]) {
			break
		}
		if !readFrame(p, out) {
			break
		}
		b = b[8+n:]
	}
	return out, nil
}

func readFrame(p []byte, out map[lock.FileKey]redoState) bool {
	tag, k := binary.Uvarint(p)
	if k <= 0 {
		return false
	}
	p = p[k:]
	n, k := binary.Uvarint(p)
	if k <= 0 {
		return false
	}
	p = p[k:]
	for range n {
		if len(p) < lock.FileKeySize {
			return false
		}
		key, _ := lock.ParseFileKey(p[:lock.FileKeySize])
		p = p[lock.FileKeySize:]
		l, k := binary.Uvarint(p)
		if k <= 0 || l > uint64(len(p)-k) {
			return false
		}
		recs, err := lock.DecodeRecords(p[k : k+int(l)])
		if err != nil {
			return false
		}
		p = p[k+int(l):]
		if cur, ok := out[key]; !ok || tag >= cur.tag {
			out[key] = redoState{tag: tag, recs: recs}
		}
	}
	return len(p) == 0
}
