package lockstore

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"

	"github.com/tandemfs/tandem/internal/lock"
)

// The redo log holds what the journal wrote without syncing the store:
// file states, and other subsystems' records (Put, Delete). Each write(2)
// of it is in the operating system when the call returns, so a kill of the
// process loses none of it, where the store's own unsynced writes sit in
// its buffers. It is emptied after every synced write of the store, which
// then holds everything it held, and replayed into the store at the next
// start (Replay).
//
// A frame is a 4-byte little-endian length and a CRC-32C of the payload,
// then the payload: a uvarint tag (see Journal: tags only grow, across
// runs too), a uvarint count of file states, each a 12-byte file key, a
// uvarint length and its lock.AppendRecords; then a uvarint count of
// records, each an op byte (1 put, 2 delete), the bucket, the key and,
// for a put, the value, each as a uvarint length and bytes. A torn last
// frame (a crash in the middle of a write) ends the log.

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// maxFrame bounds a frame's payload.
const maxFrame = 64 << 20

// kvOp is a record of another subsystem, put or deleted.
type kvOp struct {
	bucket string
	key    []byte
	value  []byte
	del    bool
}

const (
	opPut    = 1
	opDelete = 2
)

type redoLog struct {
	f   *os.File
	buf []byte
}

func openRedo(path string) (*redoLog, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() != 0 {
		err = errors.New("it holds what the last run did not sync: replay it first (lockstore.Replay)")
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &redoLog{f: f}, nil
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// append writes one frame tagged tag.
func (r *redoLog) append(tag uint64, changes []lock.FileState, kv []kvOp, scratch []byte) ([]byte, error) {
	b := append(r.buf[:0], make([]byte, 8)...)
	b = binary.AppendUvarint(b, tag)
	b = binary.AppendUvarint(b, uint64(len(changes)))
	for _, c := range changes {
		b, _ = c.File.AppendBinary(b)
		scratch = lock.AppendRecords(scratch[:0], c.Records)
		b = appendBytes(b, scratch)
	}
	b = binary.AppendUvarint(b, uint64(len(kv)))
	for _, o := range kv {
		if o.del {
			b = append(b, opDelete)
		} else {
			b = append(b, opPut)
		}
		b = appendBytes(b, []byte(o.bucket))
		b = appendBytes(b, o.key)
		if !o.del {
			b = appendBytes(b, o.value)
		}
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

// redoFrame is one frame of the log.
type redoFrame struct {
	tag   uint64
	files []lock.FileState
	kv    []kvOp
}

// readRedo reads the frames of the log at path, in order (a missing log
// has none). It stops at a torn or corrupt frame.
func readRedo(path string) ([]redoFrame, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []redoFrame
	for len(b) >= 8 {
		n := binary.LittleEndian.Uint32(b)
		if n > maxFrame || uint64(len(b)-8) < uint64(n) {
			break
		}
		p := b[8 : 8+n]
		if crc32.Checksum(p, crcTable) != binary.LittleEndian.Uint32(b[4:]) {
			break
		}
		fr, ok := readFrame(p)
		if !ok {
			break
		}
		out = append(out, fr)
		b = b[8+n:]
	}
	return out, nil
}

type reader struct{ p []byte }

func (r *reader) uvarint() (uint64, bool) {
	v, k := binary.Uvarint(r.p)
	if k <= 0 {
		return 0, false
	}
	r.p = r.p[k:]
	return v, true
}

func (r *reader) bytes() ([]byte, bool) {
	n, ok := r.uvarint()
	if !ok || n > uint64(len(r.p)) {
		return nil, false
	}
	v := r.p[:n]
	r.p = r.p[n:]
	return v, true
}

func readFrame(p []byte) (redoFrame, bool) {
	r := reader{p}
	var fr redoFrame
	var ok bool
	if fr.tag, ok = r.uvarint(); !ok {
		return fr, false
	}
	n, ok := r.uvarint()
	if !ok || n > uint64(len(r.p)) {
		return fr, false
	}
	for range n {
		if len(r.p) < lock.FileKeySize {
			return fr, false
		}
		key, _ := lock.ParseFileKey(r.p[:lock.FileKeySize])
		r.p = r.p[lock.FileKeySize:]
		v, ok := r.bytes()
		if !ok {
			return fr, false
		}
		recs, err := lock.DecodeRecords(v)
		if err != nil {
			return fr, false
		}
		for _, rec := range recs {
			if rec.File != key {
				return fr, false
			}
		}
		fr.files = append(fr.files, lock.FileState{File: key, Records: recs})
	}
	if n, ok = r.uvarint(); !ok || n > uint64(len(r.p)) {
		return fr, false
	}
	for range n {
		if len(r.p) < 1 || r.p[0] != opPut && r.p[0] != opDelete {
			return fr, false
		}
		o := kvOp{del: r.p[0] == opDelete}
		r.p = r.p[1:]
		bucket, ok1 := r.bytes()
		key, ok2 := r.bytes()
		if !ok1 || !ok2 {
			return fr, false
		}
		o.bucket, o.key = string(bucket), key
		if !o.del {
			if o.value, ok = r.bytes(); !ok {
				return fr, false
			}
		}
		fr.kv = append(fr.kv, o)
	}
	return fr, len(r.p) == 0
}
