package bench

import (
	"fmt"
	"testing"

	"github.com/tandemfs/tandem/test/testserver"
)

// nlmCaller is the client host's name in the benchmark's locks.
const nlmCaller = "bench-client"

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
				if _, err := c.Call(testserver.NLMProgram, 4, 0); err != nil {
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
				if err := nlmGranted(c.NLMLock(nlmLock(other, 7, 0, 1), exclusive)); err != nil {
					b.Fatal(err)
				}
			}
			l := nlmLock(fh, 1, 100, 10)
			b.ResetTimer()
			for range b.N {
				if err := nlmGranted(c.NLMLock(l, exclusive)); err != nil {
					b.Fatal(err)
				}
				if err := nlmGranted(c.NLMUnlock(l)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
		})
	}
}

// exclusive is the benchmark's LOCK: exclusive, not blocking.
var exclusive = testserver.NLMLockArgs{Exclusive: true}

// nlmLock is the benchmark client's lock of n bytes at off by svid.
func nlmLock(fh []byte, svid uint32, off, n uint64) testserver.NLMLock {
	return testserver.NLMLock{Caller: nlmCaller, FH: fh, OH: fmt.Appendf(nil, "%d@%s", svid, nlmCaller), Svid: svid, Offset: off, Length: n}
}

// nlmGranted makes anything but NLM4_GRANTED an error.
func nlmGranted(st testserver.NLMStat, err error) error {
	if err == nil && st != testserver.NLMGranted {
		err = fmt.Errorf("NLM: %v", st)
	}
	return err
}
