//go:build e2e

package stores

import (
	"fmt"
	"hash/fnv"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tandemfs/tandem/test/pgtest"
	"github.com/tandemfs/tandem/test/s3test"
)

// pgAddrEnv and s3Env hand the servers of the parent test process to the
// writers it re-executes for crash tests.
const (
	pgAddrEnv = "TANDEM_STORES_PG_ADDR"
	s3Env     = "TANDEM_STORES_S3"
)

var (
	pgOnce   sync.Once
	pgServer *pgtest.Server // nil in a re-executed child
	pgAddr   string
	pgErr    error

	s3Once   sync.Once
	s3Server *s3test.Server
	s3Info   s3test.Info
	s3Err    error

	dbSeq atomic.Int64
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pgServer != nil {
		pgServer.Stop()
	}
	if s3Server != nil {
		s3Server.Stop()
	}
	os.Exit(code)
}

// postgresAddr starts the shared PostgreSQL server on first use, or finds
// the parent's.
func postgresAddr(t testing.TB) string {
	t.Helper()
	pgOnce.Do(func() {
		if a := os.Getenv(pgAddrEnv); a != "" {
			pgAddr = a
			return
		}
		pgServer, pgErr = pgtest.Start()
		if pgErr == nil {
			pgAddr = pgServer.Addr()
			os.Setenv(pgAddrEnv, pgAddr)
		}
	})
	if pgErr != nil {
		t.Fatal(pgErr)
	}
	return pgAddr
}

// freshDB creates a new empty database and returns its DSN.
func freshDB(t testing.TB) string {
	t.Helper()
	addr := postgresAddr(t)
	dsn, err := pgtest.CreateDB(addr, fmt.Sprintf("t%d_%d", os.Getpid(), dbSeq.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// dirDB returns the DSN of the database standing for directory dir, made
// on first use: the persistent checks name their stores by directory, and a
// re-executed writer must find the same one.
func dirDB(t testing.TB, dir string) string {
	t.Helper()
	addr := postgresAddr(t)
	h := fnv.New64a()
	h.Write([]byte(dir))
	dsn, err := pgtest.CreateDB(addr, fmt.Sprintf("d%016x", h.Sum64()))
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// seaweed starts the shared S3 server on first use, or finds the
// parent's.
func seaweed(t testing.TB) s3test.Info {
	t.Helper()
	s3Once.Do(func() {
		if v := os.Getenv(s3Env); v != "" {
			s3Info, s3Err = s3test.ParseInfo(v)
			return
		}
		s3Server, s3Err = s3test.Start()
		if s3Err == nil {
			s3Info = s3Server.Info()
			os.Setenv(s3Env, s3Info.String())
		}
	})
	if s3Err != nil {
		t.Fatal(s3Err)
	}
	return s3Info
}
