package lock

import (
	"fmt"
	"testing"
)

// BenchmarkLockUnlock is a Lock+Unlock pair on a file that holds N shared
// locks of other owners (10-byte locks every 20 bytes); the pair takes a
// gap in the middle.
func BenchmarkLockUnlock(b *testing.B) {
	for _, me := range []Owner{oA, oX} {
		for _, n := range []int{0, 10, 100, 1000} {
			b.Run(fmt.Sprintf("%v/others=%d", me.Proto, n), func(b *testing.B) {
				m := New(Config{})
				for i := range n {
					o := NLMOwner(fmt.Sprintf("host%d", i%16), uint32(i), nil)
					if i%2 == 1 {
						o = SMBOwner(fmt.Sprintf("client%d", i%16), uint64(i))
					}
					if d := m.Lock(rq(o, fA, uint64(i)*20, 10, Shared)); d.Status != Granted {
						b.Fatal(d.Status)
					}
				}
				off := uint64(n/2)*20 + 12
				req := rq(me, fA, off, 4, Exclusive)
				b.ReportAllocs()
				for b.Loop() {
					if d := m.Lock(req); d.Status != Granted {
						b.Fatal(d.Status)
					}
					if st, _ := m.Unlock(fA, me, req.Range); st != Granted {
						b.Fatal(st)
					}
				}
			})
		}
	}
}

// BenchmarkLockUnlockHeld is the same pair for an owner that keeps another
// lock on the file, so its state is not made and forgotten each time.
func BenchmarkLockUnlockHeld(b *testing.B) {
	m := New(Config{})
	m.Lock(rq(oA, fA, 1<<20, 1, Shared))
	req := rq(oA, fA, 0, 4, Exclusive)
	b.ReportAllocs()
	for b.Loop() {
		m.Lock(req)
		m.Unlock(fA, oA, req.Range)
	}
}

func BenchmarkCheckIO(b *testing.B) {
	m := New(Config{})
	for i := range 100 {
		m.Lock(rq(SMBOwner("c", uint64(i)), fA, uint64(i)*20, 10, Shared))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, hit := m.CheckIO(fA, Owner{}, 1010, 8, false); hit {
			b.Fatal("conflict")
		}
	}
}

// BenchmarkNFSGuard is what an NFS WRITE asks of the Manager: "intent"
// holds the request's intent (BeginIO, End), "check" is the two questions
// asked before intents (ShareDenies, CheckIO). "idle" is a file without
// state beside a busy one, "busy" a file with an SMB open and a lock.
func BenchmarkNFSGuard(b *testing.B) {
	for _, busy := range []bool{false, true} {
		m := New(Config{})
		m.AddShare(fB, oX, AccessRead, ShareRead|ShareWrite)
		k := fA
		if busy {
			k = fB
			m.Lock(rq(oX, fB, 1<<20, 10, Shared))
		}
		name := map[bool]string{false: "idle", true: "busy"}[busy]
		b.Run("intent/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				in, _, st := m.BeginIO(k, IOWrite, 0, 65536)
				if st != Granted {
					b.Fatal(st)
				}
				in.End()
			}
		})
		b.Run("check/"+name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, denied := m.ShareDenies(k, AccessWrite); denied {
					b.Fatal("denied")
				}
				if _, held := m.CheckIO(k, Owner{}, 0, 65536, true); held {
					b.Fatal("held")
				}
			}
		})
	}
}
