package bench

import (
	"encoding/binary"
	"fmt"
	"testing"
)

// NLM version 4 (RFC 1813 appendix; program 100021), encoded here by hand
// like the rest of this client.
const (
	nlmProg    = 100021
	nlmVers    = 4
	nlmLock    = 2
	nlmUnlock  = 4
	nlmGranted = 0
	nlmCaller  = "bench-client"
)

// BenchmarkNLMLockUnlock measures what fcntl(F_SETLK) and its unlock cost
// a client: one NLM LOCK (exclusive, not blocking) and one UNLOCK of the
// same range, one call at a time on one connection, as a kernel client
// issues them for one process. "second-lock-held" first takes a lock on
// another file and keeps it: NFS-Ganesha, which asks its status monitor to
// watch a client on its first lock and to stop on its last unlock, is
// twenty times faster that way (641 against 12,139 pairs/s on the
// reference machine, ../shared/peers); Tandem has no monitor round trip
// per lock, so the two should match. "rpc-floor" makes two NLM NULL
// calls instead: the cost of the round trips alone.
func BenchmarkNLMLockUnlock(b *testing.B) {
	b.Run("rpc-floor", func(b *testing.B) {
		_, c, _ := server(b)
		b.ResetTimer()
		for range b.N {
			for range 2 {
				if _, err := c.Call(nlmProg, nlmVers, 0); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
	})
	for _, held := range []bool{false, true} {
		name := "alone"
		if held {
			name = "second-lock-held"
		}
		b.Run(name, func(b *testing.B) {
			_, c, root := server(b)
			fh, err := c.Create(root, "locked", 0o644)
			if err != nil {
				b.Fatal(err)
			}
			if held {
				other, err := c.Create(root, "held", 0o644)
				if err != nil {
					b.Fatal(err)
				}
				if err := nlmCall(c.Call, nlmLock, nlmLockArgs(other, 7, 0, 1)); err != nil {
					b.Fatal(err)
				}
			}
			lock := nlmLockArgs(fh, 1, 100, 10)
			unlock := nlmUnlockArgs(fh, 1, 100, 10)
			b.ResetTimer()
			for range b.N {
				if err := nlmCall(c.Call, nlmLock, lock); err != nil {
					b.Fatal(err)
				}
				if err := nlmCall(c.Call, nlmUnlock, unlock); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
		})
	}
}

// nlmCall makes one call and checks that it answered NLM4_GRANTED.
func nlmCall(call func(prog, vers, proc uint32, args ...[]byte) ([]byte, error), proc uint32, args []byte) error {
	res, err := call(nlmProg, nlmVers, proc, args)
	if err != nil {
		return err
	}
	// nlm4_res: cookie (opaque), stat.
	if len(res) < 4 {
		return fmt.Errorf("NLM proc %d: short reply", proc)
	}
	n := int(binary.BigEndian.Uint32(res))
	off := 4 + (n+3)&^3
	if len(res) != off+4 {
		return fmt.Errorf("NLM proc %d: reply of %d bytes", proc, len(res))
	}
	if st := binary.BigEndian.Uint32(res[off:]); st != nlmGranted {
		return fmt.Errorf("NLM proc %d: stat %d", proc, st)
	}
	return nil
}

func xdrOpaque(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	b = append(b, v...)
	return append(b, make([]byte, (4-len(v)%4)%4)...)
}

// nlmLockBody is nlm4_lock.
func nlmLockBody(b, fh []byte, svid uint32, off, n uint64) []byte {
	b = xdrOpaque(b, []byte(nlmCaller))
	b = xdrOpaque(b, fh)
	b = xdrOpaque(b, fmt.Appendf(nil, "%d@%s", svid, nlmCaller))
	b = binary.BigEndian.AppendUint32(b, svid)
	b = binary.BigEndian.AppendUint64(b, off)
	return binary.BigEndian.AppendUint64(b, n)
}

// nlmLockArgs is nlm4_lockargs: exclusive, not blocking.
func nlmLockArgs(fh []byte, svid uint32, off, n uint64) []byte {
	b := xdrOpaque(nil, []byte("cookie"))
	b = binary.BigEndian.AppendUint32(b, 0) // block
	b = binary.BigEndian.AppendUint32(b, 1) // exclusive
	b = nlmLockBody(b, fh, svid, off, n)
	b = binary.BigEndian.AppendUint32(b, 0) // reclaim
	return binary.BigEndian.AppendUint32(b, 3)
}

// nlmUnlockArgs is nlm4_unlockargs.
func nlmUnlockArgs(fh []byte, svid uint32, off, n uint64) []byte {
	return nlmLockBody(xdrOpaque(nil, []byte("cookie")), fh, svid, off, n)
}
