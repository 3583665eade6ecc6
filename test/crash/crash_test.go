//go:build e2e

package crash

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/testserver"
)

var tandemBin string

func TestMain(m *testing.M) { testserver.Main(m, &tandemBin) }

const (
	rounds        = 20
	filesPerRound = 4
	maxPerFile    = 8 << 20 // bytes streamed to one file in one round, at most
)

// content is the deterministic byte stream of a file: byte o of the file
// named name is byte o%8 of a hash of (name, o/8).
func content(name string, off uint64, n int) []byte {
	var seed uint64 = 14695981039346656037
	for i := 0; i < len(name); i++ {
		seed = (seed ^ uint64(name[i])) * 1099511628211
	}
	out := make([]byte, 0, n+16)
	var w [8]byte
	for word := off / 8; uint64(len(out)) < off%8+uint64(n); word++ {
		binary.LittleEndian.PutUint64(w[:], mix(seed^word*0x9e3779b97f4a7c15))
		out = append(out, w[:]...)
	}
	return out[off%8 : off%8+uint64(n)]
}

func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// span is a byte range of a file.
type span struct{ off, n uint64 }

// ledger records what the server acknowledged as durable.
type ledger struct {
	mu      sync.Mutex
	acked   map[string][]span // file name -> stable ranges
	sent    map[string]uint64 // file name -> end of the data sent to it, acknowledged or not
	created []string          // names whose CREATE was answered
	verfs   [][8]byte         // write verifier of each server run
}

func (l *ledger) ack(name string, s span) {
	l.mu.Lock()
	l.acked[name] = append(l.acked[name], s)
	l.mu.Unlock()
}

// send records that data up to end was sent to name.
func (l *ledger) send(name string, end uint64) {
	l.mu.Lock()
	l.sent[name] = max(l.sent[name], end)
	l.mu.Unlock()
}

func (l *ledger) create(name string) {
	l.mu.Lock()
	l.created = append(l.created, name)
	l.mu.Unlock()
}

// TestKillDuringWrites runs rounds of: stream writes into a running
// server, SIGKILL it at a random moment, restart it on the same data and
// check that everything acknowledged is there.
func TestKillDuringWrites(t *testing.T) {
	data := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	l := &ledger{acked: map[string][]span{}, sent: map[string]uint64{}}

	p := start(t, data)
	for round := range rounds {
		verf, stats := stream(t, p, round, rng, l)
		if t.Failed() {
			return
		}
		if verf != ([8]byte{}) {
			l.verfs = append(l.verfs, verf)
		}

		p = start(t, data)
		c, root := connect(t, p)
		v := commitVerifier(t, c, root, fmt.Sprintf("r%02d-f0", round))
		for i, old := range l.verfs {
			if v == old {
				t.Errorf("round %d: write verifier %x after restart equals the one of run %d", round, v, i)
			}
		}
		prefix := fmt.Sprintf("r%02d-", round)
		verify(t, c, root, l, func(name string) bool { return strings.HasPrefix(name, prefix) })
		c.Close()
		t.Logf("round %2d: killed after %3d ms; %s", round, stats.killAfter.Milliseconds(), stats)
		if t.Failed() {
			t.Logf("server log after restart:\n%s", p.Log())
			return
		}
	}

	// Everything of every round is still there, and the last server stops
	// cleanly.
	c, root := connect(t, p)
	verify(t, c, root, l, func(string) bool { return true })
	c.Close()
	if err := p.Stop(30 * time.Second); err != nil {
		t.Errorf("clean stop after the last round: %v\nlog:\n%s", err, p.Log())
	}
	if !strings.Contains(p.Log(), "stopped cleanly") {
		t.Errorf("the last server did not log a clean stop; log:\n%s", p.Log())
	}
}

// start runs a server on data, with any extra flags, and checks that it
// opened its stores without logging an error.
func start(t *testing.T, data string, extra ...string) *testserver.Process {
	t.Helper()
	p, err := launch(t, data, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// launch is start returning the error of a server that did not start.
func launch(t *testing.T, data string, extra ...string) (*testserver.Process, error) {
	t.Helper()
	p, err := testserver.Start(tandemBin, data, extra...)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		select {
		case <-p.Exited():
		default:
			p.Kill()
		}
	})
	if !strings.Contains(p.Log(), `msg="stores open"`) {
		t.Errorf("server started without logging \"stores open\"; log:\n%s", p.Log())
	}
	if errs := p.ErrorLines(); len(errs) > 0 {
		t.Errorf("server logged errors while starting:\n%s", strings.Join(errs, "\n"))
	}
	return p, nil
}

func connect(t *testing.T, p *testserver.Process) (*testserver.Conn, []byte) {
	t.Helper()
	c, err := testserver.Dial(p.NFSAddr)
	if err != nil {
		t.Fatal(err)
	}
	c.Timeout = 30 * time.Second
	root, err := c.Mount("/export")
	if err != nil {
		c.Close()
		t.Fatalf("MNT /export: %v", err)
	}
	return c, root
}

func commitVerifier(t *testing.T, c *testserver.Conn, root []byte, name string) [8]byte {
	t.Helper()
	fh, err := c.Lookup(root, name)
	if err != nil {
		t.Fatalf("LOOKUP %s after restart: %v", name, err)
	}
	v, err := c.Commit(fh, 0, 0)
	if err != nil {
		t.Fatalf("COMMIT %s: %v", name, err)
	}
	return v
}

type streamStats struct {
	killAfter                  time.Duration
	syncWrites, unstableWrites int
	commits, creates           int
	ackedBytes                 uint64
}

func (s streamStats) String() string {
	return fmt.Sprintf("%d FILE_SYNC and %d UNSTABLE writes, %d COMMITs, %d creates, %d bytes acknowledged",
		s.syncWrites, s.unstableWrites, s.commits, s.creates, s.ackedBytes)
}

// stream writes into the round's files from one goroutine per file, and
// creates small files from one more, until the server is killed at a
// random moment 50-500 ms in. It returns the run's write verifier.
func stream(t *testing.T, p *testserver.Process, round int, rng *rand.Rand, l *ledger) ([8]byte, streamStats) {
	t.Helper()
	c, root := connect(t, p)
	defer c.Close()
	fhs := make([][]byte, filesPerRound)
	for f := range fhs {
		name := fmt.Sprintf("r%02d-f%d", round, f)
		fh, err := c.Create(root, name, 0o644)
		if err != nil {
			t.Fatalf("CREATE %s: %v", name, err)
		}
		l.create(name)
		fhs[f] = fh
	}

	var (
		mu    sync.Mutex
		stats streamStats
		verf  [8]byte
		wg    sync.WaitGroup
	)
	setVerf := func(v [8]byte) {
		mu.Lock()
		defer mu.Unlock()
		if verf == ([8]byte{}) {
			verf = v
		} else if v != verf {
			t.Errorf("round %d: verifier changed from %x to %x within one server run", round, verf, v)
		}
	}
	for f := range fhs {
		name := fmt.Sprintf("r%02d-f%d", round, f)
		wrng := rand.New(rand.NewPCG(rng.Uint64(), uint64(f)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			type pending struct {
				s    span
				verf [8]byte
			}
			var uncommitted []pending
			var off uint64
			for off < maxPerFile {
				n := 1 + wrng.IntN(64<<10)
				data := content(name, off, n)
				how := testserver.Unstable
				if wrng.IntN(3) == 0 {
					how = testserver.FileSync
				}
				l.send(name, off+uint64(n))
				r, err := c.Write(fhs[f], off, data, how)
				if err != nil {
					protocolError(t, name, "WRITE", err)
					return // the server is gone; nothing more is acknowledged
				}
				setVerf(r.Verf)
				if r.Count == 0 || r.Count > uint32(n) {
					t.Errorf("%s: WRITE of %d bytes at %d: count %d", name, n, off, r.Count)
					return
				}
				s := span{off, uint64(r.Count)}
				mu.Lock()
				if how == testserver.FileSync {
					stats.syncWrites++
				} else {
					stats.unstableWrites++
				}
				mu.Unlock()
				switch {
				case r.Committed == testserver.FileSync:
					l.ack(name, s)
					mu.Lock()
					stats.ackedBytes += s.n
					mu.Unlock()
				case how == testserver.FileSync:
					t.Errorf("%s: FILE_SYNC WRITE answered with committed %d", name, r.Committed)
					return
				default:
					uncommitted = append(uncommitted, pending{s, r.Verf})
				}
				off += s.n
				if len(uncommitted) >= 4 {
					v, err := c.Commit(fhs[f], 0, 0)
					if err != nil {
						protocolError(t, name, "COMMIT", err)
						return
					}
					setVerf(v)
					mu.Lock()
					stats.commits++
					for _, u := range uncommitted {
						if u.verf == v {
							l.ack(name, u.s)
							stats.ackedBytes += u.s.n
						}
					}
					mu.Unlock()
					uncommitted = uncommitted[:0]
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			name := fmt.Sprintf("r%02d-meta-%04d", round, i)
			if _, err := c.Create(root, name, 0o600); err != nil {
				protocolError(t, name, "CREATE", err)
				return
			}
			l.create(name)
			mu.Lock()
			stats.creates++
			mu.Unlock()
		}
	}()

	// Small files created and written UNSTABLE, never committed: after a
	// crash each must exist (its CREATE was answered) and hold a prefix of
	// what was sent, or zeros where the data did not reach the disk, but
	// never bytes of anything else.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			name := fmt.Sprintf("r%02d-uns-%04d", round, i)
			fh, err := c.Create(root, name, 0o644)
			if err != nil {
				protocolError(t, name, "CREATE", err)
				return
			}
			l.create(name)
			n := 1 + rng2(round, i)%(16<<10)
			l.send(name, uint64(n))
			if _, err := c.Write(fh, 0, content(name, 0, n), testserver.Unstable); err != nil {
				protocolError(t, name, "WRITE", err)
				return
			}
			mu.Lock()
			stats.creates++
			stats.unstableWrites++
			mu.Unlock()
		}
	}()

	stats.killAfter = time.Duration(50+rng.IntN(451)) * time.Millisecond
	time.Sleep(stats.killAfter)
	p.Kill()
	wg.Wait()
	return verf, stats
}

// rng2 is a size for the i-th small file of a round, reproducible
// without sharing a generator between goroutines.
func rng2(round, i int) int {
	return int(mix(uint64(round)<<32|uint64(i)) >> 1)
}

// protocolError reports an error that is not the connection going away
// with the killed server: an NFS status or an RPC-level failure.
func protocolError(t *testing.T, name, op string, err error) {
	var nerr testserver.NFSError
	var rerr *testserver.RPCError
	if errors.As(err, &nerr) || errors.As(err, &rerr) || errors.Is(err, testserver.ErrTimeout) {
		t.Errorf("%s %s while streaming: %v", op, name, err)
	}
}

// verify reads back the files selected by want and checks every
// acknowledged range, and that every answered CREATE left its file.
func verify(t *testing.T, c *testserver.Conn, root []byte, l *ledger, want func(string) bool) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, name := range l.created {
		if !want(name) {
			continue
		}
		fh, err := c.Lookup(root, name)
		if err != nil {
			t.Errorf("%s: CREATE was answered before the crash, LOOKUP after it: %v", name, err)
			continue
		}
		got, err := c.ReadAll(fh, 1<<20)
		if err != nil {
			t.Errorf("%s: reading back: %v", name, err)
			continue
		}
		// Every byte, acknowledged or not, is what was sent there or
		// zero: a crash may lose unacknowledged data, never garble it.
		sent := l.sent[name]
		if uint64(len(got)) > sent {
			t.Errorf("%s: %d bytes long after the crash, but only %d were sent", name, len(got), sent)
		} else if want := content(name, 0, len(got)); !bytes.Equal(got, want) {
			for i := range got {
				if got[i] != want[i] && got[i] != 0 {
					t.Errorf("%s: byte %d is %#x, neither what was sent (%#x) nor zero", name, i, got[i], want[i])
					break
				}
			}
		}
		spans := l.acked[name]
		for _, s := range spans {
			if uint64(len(got)) < s.off+s.n {
				t.Errorf("%s: %d bytes long, but [%d, %d) was acknowledged as stable", name, len(got), s.off, s.off+s.n)
				break
			}
			if want := content(name, s.off, int(s.n)); !bytes.Equal(got[s.off:s.off+s.n], want) {
				i := 0
				for got[s.off+uint64(i)] == want[i] {
					i++
				}
				t.Errorf("%s: acknowledged range [%d, %d) differs from what was written, first at byte %d", name, s.off, s.off+s.n, s.off+uint64(i))
			}
		}
	}
}
