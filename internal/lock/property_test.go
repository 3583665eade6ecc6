package lock

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// The reference model for non-waiting locks: a POSIX owner holds a mode per
// byte, an SMB open a list of locks. Byte pN stands for every offset from
// pN on, so a POSIX "to EOF" range is pN..pN; requests stay below pN
// otherwise.
const pN = 24

type span2 struct {
	lo, hi int
	zero   bool
}

type mlock struct {
	o    Owner
	off  uint64
	n    uint64
	mode Mode
}

type model struct {
	posix map[Owner]*[pN + 1]Mode
	smb   []mlock
}

func mspan(p Proto, off, n uint64) span2 {
	switch {
	case n == 0 && p.posix():
		return span2{lo: int(off), hi: pN}
	case n == 0:
		return span2{lo: int(off), hi: int(off), zero: true}
	}
	return span2{lo: int(off), hi: int(off + n - 1)}
}

// moverlap restates MS-FSA's overlap on sets of bytes: a zero-length range
// at x meets a range that holds both x-1 and x.
func moverlap(a, b span2) bool {
	switch {
	case a.zero && b.zero:
		return false
	case a.zero:
		return a.lo >= 1 && b.lo <= a.lo-1 && a.lo <= b.hi
	case b.zero:
		return moverlap(b, a)
	}
	return a.lo <= b.hi && b.lo <= a.hi
}

// runs are a POSIX owner's holdings as maximal runs of one mode.
func runs(bs *[pN + 1]Mode) (out []struct {
	s    span2
	mode Mode
}) {
	for i := 0; i <= pN; {
		if bs[i] == 0 {
			i++
			continue
		}
		j := i
		for j < pN && bs[j+1] == bs[i] {
			j++
		}
		out = append(out, struct {
			s    span2
			mode Mode
		}{span2{lo: i, hi: j}, bs[i]})
		i = j + 1
	}
	return out
}

func (md *model) conflict(o Owner, s span2, mode Mode) bool {
	for p, bs := range md.posix {
		if p == o {
			continue
		}
		for _, r := range runs(bs) {
			if moverlap(s, r.s) && (r.mode == Exclusive || mode == Exclusive) {
				return true
			}
		}
	}
	for _, l := range md.smb {
		if !moverlap(s, mspan(SMB, l.off, l.n)) {
			continue
		}
		if l.o == o {
			if mode == Exclusive {
				return true
			}
			continue
		}
		if l.mode == Exclusive || mode == Exclusive {
			return true
		}
	}
	return false
}

func (md *model) lock(o Owner, off, n uint64, mode Mode) Status {
	s := mspan(o.Proto, off, n)
	if md.conflict(o, s, mode) {
		return Denied
	}
	if o.Proto.posix() {
		bs := md.posix[o]
		if bs == nil {
			bs = new([pN + 1]Mode)
			md.posix[o] = bs
		}
		for i := s.lo; i <= s.hi; i++ {
			bs[i] = mode
		}
		return Granted
	}
	md.smb = append(md.smb, mlock{o: o, off: off, n: n, mode: mode})
	return Granted
}

func (md *model) unlock(o Owner, off, n uint64) Status {
	if o.Proto.posix() {
		if bs := md.posix[o]; bs != nil {
			s := mspan(o.Proto, off, n)
			for i := s.lo; i <= s.hi; i++ {
				bs[i] = 0
			}
		}
		return Granted
	}
	found := -1
	for i, l := range md.smb {
		if l.o == o && l.off == off && l.n == n {
			found = i
			if l.mode == Exclusive {
				break
			}
		}
	}
	if found < 0 {
		return NotLocked
	}
	md.smb = slices.Delete(md.smb, found, found+1)
	return Granted
}

// check compares the Manager's table of fA with the model.
func (md *model) check(t *testing.T, m *Manager, step int) {
	t.Helper()
	got := map[Owner]*[pN + 1]Mode{}
	var smb []string
	for _, r := range m.FileRecords(fA) {
		if !r.Owner.Proto.posix() {
			smb = append(smb, fmt.Sprint(r.Owner.Open, r.Range, r.Mode))
			continue
		}
		bs := got[r.Owner]
		if bs == nil {
			bs = new([pN + 1]Mode)
			got[r.Owner] = bs
		}
		s := mspan(r.Owner.Proto, r.Range.Offset, r.Range.Length)
		if s.hi >= pN && r.Range.Length != 0 {
			t.Fatalf("step %d: range %v past the model", step, r.Range)
		}
		for i := s.lo; i <= s.hi; i++ {
			bs[i] = r.Mode
		}
	}
	for o, bs := range md.posix {
		g := got[o]
		if g == nil {
			g = new([pN + 1]Mode)
		}
		if *g != *bs {
			t.Fatalf("step %d: %s holds %v, model %v", step, nameOf(o), *g, *bs)
		}
	}
	var want []string
	for _, l := range md.smb {
		want = append(want, fmt.Sprint(l.o.Open, Range{Offset: l.off, Length: l.n}, l.mode))
	}
	slices.Sort(smb)
	slices.Sort(want)
	if !slices.Equal(smb, want) {
		t.Fatalf("step %d: SMB locks %v, model %v", step, smb, want)
	}
}

func TestPropertyRangesMatchModel(t *testing.T) {
	owners := []Owner{oA, oB, oL, oX, oY, oX2}
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 7))
		m, _ := newTest(Limits{})
		md := &model{posix: map[Owner]*[pN + 1]Mode{}}
		for step := range 150 {
			o := owners[r.IntN(len(owners))]
			off := uint64(r.IntN(pN))
			n := uint64(r.IntN(pN - int(off) + 1))
			var got, want Status
			switch k := r.IntN(10); {
			case k < 7:
				mode := Shared
				if k >= 4 {
					mode = Exclusive
				}
				got, want = m.Lock(rq(o, fA, off, n, mode)).Status, md.lock(o, off, n, mode)
			default:
				if !o.Proto.posix() && r.IntN(4) != 0 {
					// Mostly unlock a lock the open holds.
					for _, l := range md.smb {
						if l.o == o {
							off, n = l.off, l.n
							break
						}
					}
				}
				got, _ = m.Unlock(fA, o, Range{Offset: off, Length: n})
				want = md.unlock(o, off, n)
			}
			if got != want {
				t.Fatalf("seed %d step %d: %v, model says %v", seed, step, got, want)
			}
			md.check(t, m, step)
			checkInvariants(t, m)
		}
	}
}

// Random waiting workloads over two files: after every call the invariants
// hold (no waiter grantable, no cycle, counts right), every waiter that
// leaves is reported exactly once, and releasing every owner drains all.
func TestPropertyWaiters(t *testing.T) {
	owners := []Owner{oA, oA2, oB, oC, oX, oY}
	files := []FileKey{fA, fB}
	for seed := range uint64(300) {
		r := rand.New(rand.NewPCG(seed, 11))
		m, c := newTest(Limits{})
		alive := map[WaiterID]bool{}
		report := func(step int, ns []Notice) {
			for _, n := range ns {
				if !alive[n.Waiter] {
					t.Fatalf("seed %d step %d: notice for unknown waiter %d", seed, step, n.Waiter)
				}
				delete(alive, n.Waiter)
			}
		}
		for step := range 120 {
			o := owners[r.IntN(len(owners))]
			k := files[r.IntN(len(files))]
			off, n := uint64(r.IntN(16)), uint64(r.IntN(8))
			switch op := r.IntN(20); {
			case op < 10:
				req := rq(o, k, off, n, Mode(1+r.IntN(2)))
				req.Wait = r.IntN(3) != 0
				if r.IntN(4) == 0 {
					req.Deadline = c.Now().Add(time.Duration(1+r.IntN(5)) * time.Second)
				}
				d := m.Lock(req)
				if d.Status == Queued {
					alive[d.Waiter] = true
				}
				report(step, d.Notices)
			case op < 15:
				_, ns := m.Unlock(k, o, Range{Offset: off, Length: n})
				report(step, ns)
			case op < 16:
				var ids []WaiterID
				for id := range alive {
					ids = append(ids, id)
				}
				slices.Sort(ids)
				if len(ids) > 0 {
					id := ids[r.IntN(len(ids))]
					ns, ok := m.Cancel(id)
					if !ok {
						t.Fatalf("seed %d step %d: Cancel(%d) of a live waiter failed", seed, step, id)
					}
					delete(alive, id)
					report(step, ns)
				}
			case op < 17:
				report(step, m.ReleaseOwner(o))
			case op < 18:
				report(step, m.ReleaseHost(o.Proto, o.Host))
			default:
				c.Advance(time.Second)
				report(step, m.Expire())
			}
			checkInvariants(t, m)
			if len(alive) != len(m.waiters) {
				t.Fatalf("seed %d step %d: %d waiters alive, %d queued", seed, step, len(alive), len(m.waiters))
			}
		}
		for _, o := range owners {
			report(-1, m.ReleaseOwner(o))
			checkInvariants(t, m)
		}
		if len(alive) != 0 || m.count != 0 || len(m.files) != 0 {
			t.Fatalf("seed %d: not drained: %d alive, count %d", seed, len(alive), m.count)
		}
	}
}
