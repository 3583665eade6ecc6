package main

import (
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Pattern returns the content byte at off of the pattern seed.  Every
// 8-byte word is a different pseudo-random value of (seed, word index), so
// data written at the wrong offset, a lost chunk or a stale page never
// matches by accident.  Tests on the host compute the same bytes.
func patternWord(seed, word uint64) uint64 {
	z := seed + word*0x9e3779b97f4a7c15 // splitmix64
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func fillPattern(buf []byte, seed uint64, off int64) {
	var w [8]byte
	pos := uint64(off)
	for i := 0; i < len(buf); {
		binary.LittleEndian.PutUint64(w[:], patternWord(seed, pos/8))
		n := copy(buf[i:], w[pos%8:])
		i += n
		pos += uint64(n)
	}
}

func writePattern(o *op, r *result) error {
	chunk := o.Chunk
	if chunk <= 0 {
		chunk = 64 << 10
	}
	fd, err := unix.Open(o.Path, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return err
	}
	buf := make([]byte, chunk)
	for off := int64(0); off < o.Size; off += chunk {
		b := buf[:min(chunk, o.Size-off)]
		fillPattern(b, o.Seed, off)
		if _, err := unix.Pwrite(fd, b, off); err != nil {
			unix.Close(fd)
			return fmt.Errorf("write at %d: %w", off, err)
		}
		if o.Fsync {
			if err := unix.Fsync(fd); err != nil {
				unix.Close(fd)
				return fmt.Errorf("fsync after %d: %w", off, err)
			}
		}
		r.N = off + int64(len(b))
		if o.Progress != "" {
			_ = os.WriteFile(o.Progress, []byte(strconv.FormatInt(r.N, 10)), 0o644)
		}
		if o.MS > 0 {
			time.Sleep(time.Duration(o.MS) * time.Millisecond)
		}
	}
	if err := unix.Fsync(fd); err != nil {
		unix.Close(fd)
		return fmt.Errorf("final fsync: %w", err)
	}
	return unix.Close(fd)
}

func verifyPattern(o *op, r *result) error {
	fd, err := unix.Open(o.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Size != o.Size {
		r.N = min(st.Size, o.Size)
		return fmt.Errorf("size %d, want %d", st.Size, o.Size)
	}
	const chunk = 256 << 10
	got := make([]byte, chunk)
	want := make([]byte, chunk)
	for off := int64(0); off < o.Size; off += chunk {
		n, err := unix.Pread(fd, got, off)
		if err != nil {
			r.N = off
			return err
		}
		fillPattern(want[:n], o.Seed, off)
		for i := 0; i < n; i++ {
			if got[i] != want[i] {
				r.N = off + int64(i)
				return fmt.Errorf("content differs at offset %d", r.N)
			}
		}
		if n == 0 {
			r.N = off
			return fmt.Errorf("short file at %d", off)
		}
	}
	r.N = o.Size
	return nil
}
