package storetest

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/meta"
)

// crashEnv tells a re-executed test binary to be the crash writer, and
// where its store is.
const crashEnv = "TANDEM_STORETEST_CRASH_DIR"

const (
	crashRounds  = 5
	crashDir     = 1 // the directory the writer fills
	crashBucket  = "crash"
	crashWriters = 2 // concurrent writers, so syncs are shared
)

// crashName is the entry written by update n.
func crashName(n uint64) string { return fmt.Sprintf("n%08d", n) }

// testCrash runs a writer in a child process, kills it with SIGKILL after
// a random number of acknowledged Updates, reopens the store and checks
// that every acknowledged Update is there, and that every Update is there
// whole or not at all. Each round continues the store of the last.
func testCrash(t *testing.T, open func(*testing.T, string) meta.Store) {
	dir := t.TempDir()
	top, _, _ := strings.Cut(t.Name(), "/")
	acked := make(map[uint64]uint64) // n -> id
	for round := range crashRounds {
		killAfter := 1 + rand.IntN(60)
		cmd := exec.Command(os.Args[0], "-test.run=^"+top+"$", "-test.count=1", "-test.timeout=60s")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		got, killed := 0, false
		for sc.Scan() {
			var n, id uint64
			if _, err := fmt.Sscanf(sc.Text(), "ack %d %d", &n, &id); err != nil {
				continue // test framework chatter
			}
			acked[n] = id
			got++
			if got == killAfter && !killed {
				// Lines already written are still read below: they were
				// printed after their Update returned.
				cmd.Process.Kill()
				killed = true
			}
		}
		cmd.Wait()
		if !killed {
			t.Fatalf("round %d: writer exited after %d acks (wanted %d):\n%s", round, got, killAfter, stderr.String())
		}
		verifyCrash(t, open, dir, acked)
	}
}

// verifyCrash checks the store in dir against the acknowledged updates.
func verifyCrash(t *testing.T, open func(*testing.T, string) meta.Store, dir string, acked map[uint64]uint64) {
	t.Helper()
	s := open(t, dir)
	defer closeStore(t, s)
	view(t, s, func(tx meta.Tx) error {
		present := make(map[uint64]uint64)
		err := tx.Scan(crashBucket, nil, func(k, v []byte) bool {
			present[binary.BigEndian.Uint64(k)] = binary.BigEndian.Uint64(v)
			return true
		})
		if err != nil {
			return err
		}
		for n, id := range acked {
			if present[n] != id {
				t.Fatalf("acknowledged update %d (id %d) lost after kill -9: found id %d", n, id, present[n])
			}
		}
		// Every update present is whole: its inode and its entry too.
		ids := make(map[uint64]uint64)
		for n, id := range present {
			if other, dup := ids[id]; dup {
				t.Fatalf("id %d allocated to updates %d and %d", id, other, n)
			}
			ids[id] = n
			ino, err := tx.Inode(id)
			if err != nil || ino.Size != n {
				t.Fatalf("update %d: inode %d = %+v, %v", n, id, ino, err)
			}
			e, err := tx.Lookup(crashDir, crashName(n))
			if err != nil || e.ID != id {
				t.Fatalf("update %d: entry = %+v, %v", n, e, err)
			}
		}
		entries := 0
		last := uint64(0)
		err = tx.ReadDir(crashDir, 0, func(e meta.Dirent) bool {
			if e.Cookie <= last {
				t.Fatalf("cookie %d after %d", e.Cookie, last)
			}
			last = e.Cookie
			entries++
			return true
		})
		if entries != len(present) {
			t.Fatalf("%d entries for %d updates: half-applied updates", entries, len(present))
		}
		return err
	})
}

// crashChild is the writer: it runs Updates until killed (or, should the
// parent vanish, for a bounded time), printing "ack n id" after each one
// returns.
func crashChild(t *testing.T, open func(*testing.T, string) meta.Store, dir string) {
	s := open(t, dir)
	var next atomic.Uint64
	view(t, s, func(tx meta.Tx) error {
		return tx.Scan(crashBucket, nil, func(k, v []byte) bool {
			if n := binary.BigEndian.Uint64(k); n >= next.Load() {
				next.Store(n + 1)
			}
			return true
		})
	})
	stop := time.Now().Add(20 * time.Second)
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for range crashWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				n := next.Add(1) - 1
				var id uint64
				fn := func(tx meta.Tx) error {
					var err error
					if id, err = tx.AllocID(); err != nil {
						return err
					}
					ino := meta.Inode{ID: id, Type: meta.TypeRegular, Size: n, Nlink: 1}
					if err := tx.PutInode(&ino); err != nil {
						return err
					}
					if _, err := tx.AddEntry(crashDir, crashName(n), id); err != nil {
						return err
					}
					return tx.Put(crashBucket, binary.BigEndian.AppendUint64(nil, n), binary.BigEndian.AppendUint64(nil, id))
				}
				var err error
				if n%5 == 0 {
					// A lazy update is acknowledged only after Sync.
					if err = s.UpdateLazy(ctx, fn); err == nil {
						err = s.Sync()
					}
				} else {
					err = s.Update(ctx, fn)
				}
				if err != nil {
					fmt.Fprintln(os.Stderr, "update:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(w, "ack %d %d\n", n, id)
				w.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	s.Close()
}
