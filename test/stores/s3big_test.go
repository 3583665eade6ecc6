//go:build e2e

package stores

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/content/s3"
	"github.com/tandemfs/tandem/internal/meta"
)

// fill writes n pseudo-random bytes of stream seed, starting at stream
// offset off, into p (the same seed and offset give the same bytes).
func fill(p []byte, seed uint64, off int64) {
	for i := range p {
		x := uint64(off+int64(i)) * 0x9e3779b97f4a7c15
		x ^= seed * 0xbf58476d1ce4e5b9
		x ^= x >> 29
		p[i] = byte(x * 0x94d049bb133111eb >> 56)
	}
}

// referenced returns the object keys the block map of m names.
func referenced(t testing.TB, m meta.Store, prefix string) []string {
	t.Helper()
	var keys []string
	err := m.View(ctx, func(tx meta.Tx) error {
		return tx.Scan("s3.blocks", nil, func(k, v []byte) bool {
			keys = append(keys, fmt.Sprintf("%s%016x/%016x.%s", prefix,
				binary.BigEndian.Uint64(k), binary.BigEndian.Uint64(k[8:]), hex.EncodeToString(v[:16])))
			return true
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

// expectNoOrphans runs GC and checks that the bucket holds exactly the
// objects the block map names.
func expectNoOrphans(t *testing.T, s *s3.Store, m meta.Store, prefix string) {
	t.Helper()
	n, err := s.GC(ctx, 0)
	if err != nil {
		t.Fatalf("GC: %v", err)
	}
	got, want := listObjects(t, prefix), referenced(t, m, prefix)
	if !slices.Equal(got, want) {
		t.Fatalf("after GC (deleted %d) the bucket holds %d objects, the map names %d:\n bucket %q\n map    %q",
			n, len(got), len(want), got, want)
	}
	t.Logf("GC deleted %d objects; bucket holds exactly the %d objects the map names", n, len(got))
}

// TestS3Large writes 1 GiB sequentially in 1 MiB writes, syncs, and reads
// it back through a second store (nothing from the first one's buffer).
func TestS3Large(t *testing.T) {
	o := s3Options(t)
	dir := t.TempDir()
	m := pebbleMeta(t, dir)
	s := openS3(t, m, o)
	const size, chunk = 1 << 30, 1 << 20
	buf := make([]byte, chunk)
	t0 := time.Now()
	for off := int64(0); off < size; off += chunk {
		fill(buf, 1, off)
		if _, err := s.WriteAt(7, buf, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Sync(7); err != nil {
		t.Fatal(err)
	}
	wt := time.Since(t0)
	st := s.Stats()
	t.Logf("wrote 1 GiB in %v (%.0f MiB/s): %d PUTs, %d MiB up", wt.Round(time.Millisecond),
		float64(size>>20)/wt.Seconds(), st.Puts, st.BytesUp>>20)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openS3(t, m, o)
	defer func() { s.Close(); m.Close() }()
	want := make([]byte, chunk)
	h1, h2 := sha256.New(), sha256.New()
	t0 = time.Now()
	for off := int64(0); off < size; off += chunk {
		if _, err := s.ReadAt(7, buf, off); err != nil {
			t.Fatal(err)
		}
		fill(want, 1, off)
		if !bytes.Equal(buf, want) {
			t.Fatalf("bytes at %d differ after reading back", off)
		}
		h1.Write(buf)
		h2.Write(want)
	}
	rt := time.Since(t0)
	if !bytes.Equal(h1.Sum(nil), h2.Sum(nil)) {
		t.Fatal("digest differs")
	}
	st = s.Stats()
	t.Logf("read 1 GiB back equal in %v (%.0f MiB/s): %d ranged GETs", rt.Round(time.Millisecond),
		float64(size>>20)/rt.Seconds(), st.Gets)
	expectNoOrphans(t, s, m, o.Prefix)
}

// TestS3SmallOverwrites makes a 256 MiB file, then overwrites 4 KiB at
// random places: each sync uploads exactly the blocks written, and only
// those objects change in the bucket.
func TestS3SmallOverwrites(t *testing.T) {
	o := s3Options(t)
	m := pebbleMeta(t, t.TempDir())
	s := openS3(t, m, o)
	defer func() { s.Close(); m.Close() }()
	const size = 256 << 20
	bs := int64(s.BlockSize())
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; off += int64(len(buf)) {
		fill(buf, 2, off)
		if _, err := s.WriteAt(9, buf, off); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Sync(9); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GC(ctx, 0); err != nil {
		t.Fatal(err)
	}
	before := listObjects(t, o.Prefix)
	if len(before) != size/int(bs) {
		t.Fatalf("%d objects for a %d-block file", len(before), size/bs)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	model := map[int64][]byte{} // offset -> 4 KiB written there
	for round := range 5 {
		touched := map[int64]bool{}
		for range 8 {
			off := rng.Int64N(size/4096) * 4096
			p := make([]byte, 4096)
			fill(p, uint64(100+round), off)
			if _, err := s.WriteAt(9, p, off); err != nil {
				t.Fatal(err)
			}
			model[off] = p
			touched[off/bs] = true
		}
		puts := s.Stats().Puts
		if err := s.Sync(9); err != nil {
			t.Fatal(err)
		}
		if got := s.Stats().Puts - puts; got != uint64(len(touched)) {
			t.Fatalf("round %d: %d PUTs for 8 writes into %d blocks", round, got, len(touched))
		}
		if _, err := s.GC(ctx, 0); err != nil {
			t.Fatal(err)
		}
		after := listObjects(t, o.Prefix)
		changed := map[string]bool{}
		for _, k := range after {
			if !slices.Contains(before, k) {
				changed[blockOf(o.Prefix, k)] = true
			}
		}
		if len(after) != len(before) || len(changed) != len(touched) {
			t.Fatalf("round %d: %d objects (was %d), %d blocks changed, %d touched", round, len(after), len(before), len(changed), len(touched))
		}
		for b := range touched {
			if !changed[fmt.Sprintf("%016x/%016x", 9, b)] {
				t.Fatalf("round %d: block %d written but its object did not change", round, b)
			}
		}
		t.Logf("round %d: 8 random 4 KiB writes into %d blocks: %d PUTs, %d objects changed of %d", round, len(touched), len(touched), len(changed), len(after))
		before = after
	}
	// Everything reads back from the objects, in a store of its own.
	s2 := openS3(t, m, o)
	defer s2.Close()
	got := make([]byte, 4096)
	want := make([]byte, 4096)
	for off := int64(0); off < size; off += 4096 * 97 {
		s2.ReadAt(9, got, off)
		fill(want, 2, off)
		for o2, p := range model {
			if o2 == off {
				copy(want, p)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("bytes at %d differ", off)
		}
	}
	for off, p := range model {
		s2.ReadAt(9, got, off)
		if !bytes.Equal(got, p) && !overlapped(model, off) {
			t.Fatalf("overwrite at %d lost", off)
		}
	}
}

// overlapped reports whether another overwrite in the model overlaps the
// one at off (then the later one won, which the model does not track).
func overlapped(model map[int64][]byte, off int64) bool {
	for o := range model {
		if o != off && o < off+4096 && off < o+4096 {
			return true
		}
	}
	return false
}

// TestS3Garbage overwrites, truncates and removes files and checks that
// the bucket ends up holding only what the map names.
func TestS3Garbage(t *testing.T) {
	o := s3Options(t)
	o.BlockSize = 64 << 10
	m := pebbleMeta(t, t.TempDir())
	s := openS3(t, m, o)
	defer func() { s.Close(); m.Close() }()
	p := make([]byte, 1<<20)
	for id := uint64(1); id <= 3; id++ {
		fill(p, id, 0)
		s.WriteAt(id, p, 0)
		if err := s.Sync(id); err != nil {
			t.Fatal(err)
		}
	}
	fill(p, 9, 0)
	s.WriteAt(1, p[:300<<10], 100<<10) // overwrite
	s.Truncate(2, 200<<10+5)           // truncate into a block
	s.Remove(3)
	for id := uint64(1); id <= 3; id++ {
		if err := s.Sync(id); err != nil {
			t.Fatal(err)
		}
	}
	expectNoOrphans(t, s, m, o.Prefix)
	if n := len(listObjects(t, o.Prefix)); n != 16+4 {
		t.Fatalf("%d objects, want 16 (file 1) + 4 (file 2 truncated to 4 blocks)", n)
	}
}

// s3CrashEnv makes a re-executed test binary the crash writer of
// TestS3Crash; its value is the writer's metadata directory and prefix.
const s3CrashEnv = "TANDEM_S3_CRASH"

// TestS3Crash kills a writer process with SIGKILL in the middle of a
// stream of writes and syncs (uploads in flight, map switches pending),
// then checks that every synced write reads back, and that GC leaves the
// bucket holding only what the map names.
func TestS3Crash(t *testing.T) {
	if v := os.Getenv(s3CrashEnv); v != "" {
		dir, prefix, _ := strings.Cut(v, "|")
		s3CrashWriter(t, dir, prefix)
		return
	}
	o := s3Options(t)
	o.BlockSize = 256 << 10
	dir := t.TempDir()
	acked := -1
	for round := range 3 {
		killAfter := 5 + rand.IntN(40)
		cmd := exec.Command(os.Args[0], "-test.run=^TestS3Crash$", "-test.count=1", "-test.timeout=120s")
		cmd.Env = append(os.Environ(), s3CrashEnv+"="+filepath.Join(dir, "meta")+"|"+o.Prefix)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		got, killed := 0, false
		for sc.Scan() {
			var n int
			if _, err := fmt.Sscanf(sc.Text(), "synced %d", &n); err != nil {
				continue
			}
			acked = max(acked, n)
			if got++; got == killAfter && !killed {
				cmd.Process.Kill()
				killed = true
			}
		}
		cmd.Wait()
		if !killed {
			t.Fatalf("round %d: writer stopped after %d syncs:\n%s", round, got, stderr.String())
		}
		m := pebbleMeta(t, filepath.Join(dir, "meta"))
		s := openS3(t, m, o)
		objs := len(listObjects(t, o.Prefix))
		got2 := make([]byte, crashChunk)
		want := make([]byte, crashChunk)
		// Writes wrap every 37 (crashOffset) without overlapping each
		// other: the last 36 synced ones are what the file must hold (the
		// 37th back shares its place with the write in flight at the kill).
		for n := max(0, acked-35); n <= acked; n++ {
			off := crashOffset(n)
			if _, err := s.ReadAt(1, got2, off); err != nil {
				t.Fatal(err)
			}
			fill(want, uint64(n), off)
			if !bytes.Equal(got2, want) {
				t.Fatalf("round %d: synced write %d (offset %d) lost after kill -9", round, n, off)
			}
		}
		t.Logf("round %d: killed after %d syncs; the last synced writes (up to %d) read back; %d objects before GC", round, got, acked, objs)
		expectNoOrphans(t, s, m, o.Prefix)
		s.Close()
		m.Close()
	}
}

const crashChunk = 100 << 10

// crashOffset is where write n goes: forward through the file, wrapping
// over earlier writes so that blocks get overwritten too.
func crashOffset(n int) int64 { return int64(n%37) * 3 * crashChunk / 2 }

// s3CrashWriter writes chunk after chunk, syncing each and printing
// "synced n" once Sync returned, until killed.
func s3CrashWriter(t *testing.T, dir, prefix string) {
	o := s3Options(t)
	o.Prefix = prefix
	o.BlockSize = 256 << 10
	m := pebbleMeta(t, dir)
	s := openS3(t, m, o)
	// Carry on from the writes of earlier rounds.
	next := 0
	m.View(ctx, func(tx meta.Tx) error {
		v, err := tx.Get("crashtest", []byte("next"))
		if err == nil {
			next = int(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	// Meanwhile another file takes a stream of unsynced writes: its full
	// blocks upload in the background and their map switches commit
	// lazily, so the kill catches uploads whose switch never happens.
	go func() {
		q := make([]byte, 64<<10)
		for off := int64(0); ; off += int64(len(q)) {
			if _, err := s.WriteAt(2, q, off%(64<<20)); err != nil {
				return
			}
		}
	}()
	p := make([]byte, crashChunk)
	stop := time.Now().Add(60 * time.Second)
	for n := next; time.Now().Before(stop); n++ {
		fill(p, uint64(n), crashOffset(n))
		if _, err := s.WriteAt(1, p, crashOffset(n)); err != nil {
			t.Fatal(err)
		}
		if err := s.Sync(1); err != nil {
			t.Fatal(err)
		}
		m.Update(ctx, func(tx meta.Tx) error {
			return tx.Put("crashtest", []byte("next"), binary.BigEndian.AppendUint64(nil, uint64(n+1)))
		})
		fmt.Printf("synced %d\n", n)
	}
}
