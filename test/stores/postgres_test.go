//go:build e2e

package stores

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemfs/tandem/internal/meta"
	"github.com/tandemfs/tandem/internal/meta/postgres"
	"github.com/tandemfs/tandem/internal/meta/storetest"
)

var ctx = context.Background()

func openPG(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	return s
}

func TestPostgresConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) meta.Store { return openPG(t, freshDB(t)) })
}

func TestPostgresPersistent(t *testing.T) {
	storetest.RunPersistent(t, func(t *testing.T, dir string) meta.Store { return openPG(t, dirDB(t, dir)) })
}

// crashEnv is storetest's switch that makes a re-executed test binary its
// crash writer (the writer runs Updates and prints "ack n id" after each
// one returns).
const crashEnv = "TANDEM_STORETEST_CRASH_DIR"

// TestPostgresServerCrash is storetest's crash check with PostgreSQL as
// the process that dies: a writer in a child process runs Updates, and
// after a random number of acknowledged ones the whole PostgreSQL server
// gets SIGKILL (shared memory, with any write-ahead log not yet written
// out, is lost). After PostgreSQL recovers, every acknowledged Update must
// be there, and every Update there must be whole. This is what proves that
// Updates wait for their flush: storetest's own check kills the writer,
// which PostgreSQL survives with every commit.
func TestPostgresServerCrash(t *testing.T) {
	postgresAddr(t)
	if pgServer == nil {
		t.Fatal("the server crash check needs the server of its own process")
	}
	dir := t.TempDir()
	dsn := dirDB(t, dir)
	acked := map[uint64]uint64{}
	for round := range 4 {
		killAfter := 1 + rand.IntN(80)
		cmd := exec.Command(os.Args[0], "-test.run=^TestPostgresPersistent$", "-test.count=1", "-test.timeout=60s")
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
				continue
			}
			acked[n] = id
			got++
			if got == killAfter && !killed {
				pgServer.Kill()
				killed = true
			}
		}
		cmd.Wait()
		if !killed {
			t.Fatalf("round %d: writer stopped after %d acks (wanted %d):\n%s", round, got, killAfter, stderr.String())
		}
		if err := pgServer.Restart(); err != nil {
			t.Fatal(err)
		}
		verifyCrash(t, dsn, acked)
		t.Logf("round %d: killed PostgreSQL after %d acks; %d acknowledged updates all present", round, got, len(acked))
	}
}

// verifyCrash checks the store against the acknowledged updates, as
// storetest's crash check does.
func verifyCrash(t *testing.T, dsn string, acked map[uint64]uint64) {
	t.Helper()
	s := openPG(t, dsn)
	defer s.Close()
	err := s.View(ctx, func(tx meta.Tx) error {
		present := map[uint64]uint64{}
		if err := tx.Scan("crash", nil, func(k, v []byte) bool {
			present[binary.BigEndian.Uint64(k)] = binary.BigEndian.Uint64(v)
			return true
		}); err != nil {
			return err
		}
		for n, id := range acked {
			if present[n] != id {
				return fmt.Errorf("acknowledged update %d (id %d) lost: found id %d", n, id, present[n])
			}
		}
		ids := map[uint64]uint64{}
		for n, id := range present {
			if other, dup := ids[id]; dup {
				return fmt.Errorf("id %d allocated to updates %d and %d", id, other, n)
			}
			ids[id] = n
			ino, err := tx.Inode(id)
			if err != nil || ino.Size != n {
				return fmt.Errorf("update %d: inode %d = %+v, %v", n, id, ino, err)
			}
			if e, err := tx.Lookup(1, fmt.Sprintf("n%08d", n)); err != nil || e.ID != id {
				return fmt.Errorf("update %d: entry %+v, %v", n, e, err)
			}
		}
		entries := 0
		if err := tx.ReadDir(1, 0, func(meta.Dirent) bool { entries++; return true }); err != nil {
			return err
		}
		if entries != len(present) {
			return fmt.Errorf("%d entries for %d updates: half-applied updates", entries, len(present))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPostgresErrors checks the messages an operator sees for the two
// usual mistakes: a server that is not there, and a database a newer
// binary migrated.
func TestPostgresErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = postgres.Open(cctx, "postgres://postgres@"+addr+"/x?sslmode=disable&connect_timeout=5")
	if err == nil || !strings.Contains(err.Error(), "cannot reach postgres at "+addr+": ") {
		t.Fatalf("Open of a closed port = %v, want \"cannot reach postgres at %s: ...\"", err, addr)
	}

	dsn := freshDB(t)
	openPG(t, dsn).Close()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Exec(ctx, "UPDATE tandem_schema SET version = 99"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	_, err = postgres.Open(ctx, dsn)
	if err == nil || !strings.Contains(err.Error(), "schema version 99 is newer than this binary") {
		t.Fatalf("Open of a newer schema = %v", err)
	}
}

// TestPostgresOneServer checks that a second store on a database in use
// fails, naming the holder, and that a database whose server died is free
// again.
func TestPostgresOneServer(t *testing.T) {
	dsn := freshDB(t)
	s := openPG(t, dsn)
	old := postgres.OpenWait
	postgres.OpenWait = time.Second
	defer func() { postgres.OpenWait = old }()
	_, err := postgres.Open(ctx, dsn)
	if err == nil || !strings.Contains(err.Error(), "another server has this database open (tandem from 127.0.0.1") {
		t.Fatalf("second Open = %v", err)
	}
	s.Close()
	openPG(t, dsn).Close()
}
