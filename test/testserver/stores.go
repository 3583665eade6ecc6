package testserver

import (
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sync"

	"github.com/tandemfs/tandem/test/pgtest"
	"github.com/tandemfs/tandem/test/s3test"
)

// StoresEnv chooses the stores of the servers Start runs. Unset (or
// "embedded"): the defaults, Pebble and the local file system in the data
// directory. "postgres+s3": metadata in PostgreSQL and contents in
// SeaweedFS, both started once per test binary (on first use, stopped by
// Main); each data directory gets a database and an object prefix of its
// own, the same ones again when a test restarts a server on it.
const StoresEnv = "TANDEM_TEST_STORES"

var stores struct {
	once sync.Once
	err  error
	pg   *pgtest.Server
	s3   *s3test.Server
}

const storesBucket = "tandem"

// StoresArgs returns the flags that point a server on data at the chosen
// stores (none for the embedded ones); `tandem user` takes them too.
func StoresArgs(data string) ([]string, error) {
	switch v := os.Getenv(StoresEnv); v {
	case "", "embedded":
		return nil, nil
	case "postgres+s3":
	default:
		return nil, fmt.Errorf("%s=%q: want embedded or postgres+s3", StoresEnv, v)
	}
	stores.once.Do(func() {
		if stores.pg, stores.err = pgtest.Start(); stores.err != nil {
			return
		}
		if stores.s3, stores.err = s3test.Start(); stores.err != nil {
			return
		}
		s3test.Env() // the server processes inherit the credentials
		stores.err = stores.s3.Info().CreateBucket(storesBucket)
	})
	if stores.err != nil {
		return nil, stores.err
	}
	abs, err := filepath.Abs(data)
	if err != nil {
		return nil, err
	}
	h := fnv.New64a()
	h.Write([]byte(abs))
	name := fmt.Sprintf("d%016x", h.Sum64())
	dsn, err := stores.pg.CreateDB(name)
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`[meta]
backend = "postgres"
dsn = %q

[content]
backend = "s3"
endpoint = %q
bucket = %q
prefix = "%s/"
`, dsn, stores.s3.Info().Endpoint, storesBucket, name)
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(data, "stores.toml")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	return []string{"--config", path}, nil
}

// StopStores stops the servers StoresArgs started, for test binaries
// whose TestMain is not Main.
func StopStores() { stopStores() }

// stopStores stops the servers StoresArgs started.
func stopStores() {
	if stores.pg != nil {
		stores.pg.Stop()
	}
	if stores.s3 != nil {
		stores.s3.Stop()
	}
}
