package localfs

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/tandemfs/tandem/internal/content"
)

// Holes are the host file system's: PunchHole deallocates with
// fallocate(PUNCH_HOLE) and DataRanges finds data with SEEK_DATA and
// SEEK_HOLE, so a sparse Tandem file is a sparse host file. A host file
// system that cannot punch gets zeros written instead.

var (
	_ content.Puncher = (*Store)(nil)
	_ content.Mapper  = (*Store)(nil)
)

// PunchHole implements content.Puncher. A file never written is all hole
// already.
func (s *Store) PunchHole(id uint64, off, n int64) error {
	if off < 0 || n < 0 || off+n < off {
		return errOffset
	}
	if n == 0 {
		return nil
	}
	h, err := s.acquire(id, false)
	if err != nil || h == nil {
		return err
	}
	err = control(h, func(fd int) error {
		return unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	})
	h.written.Add(1)
	s.release(h)
	if errors.Is(err, unix.EOPNOTSUPP) {
		return content.PunchHole(zeroWriter{s}, id, off, n)
	}
	return err
}

// zeroWriter hides the Puncher of a Store from content.PunchHole, which
// then writes zeros.
type zeroWriter struct{ content.Store }

// DataRanges implements content.Mapper with SEEK_DATA and SEEK_HOLE; the
// host file system's block size rounds what it reports.
func (s *Store) DataRanges(id uint64, off, n int64) ([]content.Range, error) {
	if off < 0 || n < 0 || off+n < off {
		return nil, errOffset
	}
	h, err := s.acquire(id, false)
	if err != nil || h == nil || n == 0 {
		return nil, err
	}
	defer s.release(h)
	var out []content.Range
	end := off + n
	err = control(h, func(fd int) error {
		for pos := off; pos < end; {
			data, err := unix.Seek(fd, pos, unix.SEEK_DATA)
			if errors.Is(err, unix.ENXIO) || (err == nil && data >= end) {
				return nil // no data from pos to the end of the host file
			}
			if err != nil {
				return err
			}
			hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
			if err != nil {
				return err
			}
			hole = min(hole, end)
			out = append(out, content.Range{Off: data, Len: hole - data})
			pos = hole
		}
		return nil
	})
	return out, err
}

// control runs fn on the descriptor of h's file.
func control(h *handle, fn func(fd int) error) error {
	rc, err := h.f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
