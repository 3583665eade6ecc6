package content

// Sparse files: a store that can give back the space of a range
// implements Puncher, and one that can tell which ranges hold data
// implements Mapper. Neither is required: without them a hole is written
// as zeros and every byte below the end counts as allocated, which is
// what a file system without sparse files answers.

// Puncher is a Store that frees the storage of a range, which then reads
// as zeros; the stored length does not change.
type Puncher interface {
	PunchHole(id uint64, off, n int64) error
}

// Range is a run of n bytes at off.
type Range struct{ Off, Len int64 }

// Mapper is a Store that knows where a file's data lies.
type Mapper interface {
	// DataRanges returns the parts of [off, off+n) that may hold data,
	// in order; what it leaves out is a hole and reads as zeros. A store
	// may report more than was written (a whole block for a byte), never
	// less.
	DataRanges(id uint64, off, n int64) ([]Range, error)
}

// zeroChunk bounds the zeros written at once where a store cannot punch.
const zeroChunk = 1 << 20

// PunchHole makes n bytes at off of file id read as zeros: through the
// store's Puncher, or else by writing zeros.
func PunchHole(s Store, id uint64, off, n int64) error {
	if p, ok := s.(Puncher); ok {
		return p.PunchHole(id, off, n)
	}
	zeros := make([]byte, min(n, zeroChunk))
	for n > 0 {
		m := min(n, int64(len(zeros)))
		if _, err := s.WriteAt(id, zeros[:m], off); err != nil {
			return err
		}
		off, n = off+m, n-m
	}
	return nil
}

// DataRanges returns the parts of [off, off+n) of file id that may hold
// data: the store's answer, or the whole range where it cannot tell.
func DataRanges(s Store, id uint64, off, n int64) ([]Range, error) {
	if m, ok := s.(Mapper); ok {
		return m.DataRanges(id, off, n)
	}
	if n <= 0 {
		return nil, nil
	}
	return []Range{{off, n}}, nil
}
