// Package postgres is the metadata store on PostgreSQL, for several Tandem
// nodes sharing one namespace (one serving, others standing by) or for
// operators who want their metadata in a database they already run.
//
// # Tables
//
// The records of package meta are rows (schema.go): inodes with a column
// per field, directory entries keyed by name and, uniquely, by cookie, each
// directory's cookie counter, blobs, and the bucket records of the other
// subsystems. The schema is versioned; Open applies what is missing and
// refuses a database migrated by a newer binary.
//
// # Transactions
//
// An Update runs at READ COMMITTED after taking a transaction-scoped
// advisory lock, so Updates are serialized across every process that
// shares the database, and each statement sees everything committed before
// the lock was granted: the isolation of the embedded store, whose Updates
// are serialized too. SERIALIZABLE with retries would let Updates run side
// by side, but it would run fn more than once, and callers count on fn
// running once (its side effects, such as ids it hands out, escape). A
// process-local semaphore queues local Updates before they take a
// connection. A View is a REPEATABLE READ READ ONLY transaction: one
// snapshot, never waiting for an Update.
//
// Callbacks of ReadDir, Scan and Xattrs may call back into the transaction
// (one connection cannot run a query while another's rows are open), so
// listings are read in bounded chunks and each chunk is handed over after
// its rows are closed; the next chunk starts after the last key handed
// over.
//
// # Durability and group commit
//
// Every Update commits with synchronous_commit off, which makes it visible
// at once and lets the next Update take the lock, and then, outside the
// lock, a durable Update waits for a flush: a synchronous one-row write
// (Sync) whose commit record follows its own in the write-ahead log, so
// flushing up to it flushes everything before. PostgreSQL merges
// concurrent flushes into one, so N concurrent Updates cost far fewer than
// N disk flushes. UpdateLazy skips the flush. After a kill -9 of Tandem,
// or of PostgreSQL, the database holds every Update that returned.
//
// # One server at a time
//
// Like the embedded store, which one process at a time may open, a
// database serves one Tandem at a time: Open takes a session advisory lock
// on a connection of its own and keeps it until Close, so a second server
// started on the same database (a standby started too early, a typo in a
// configuration) fails instead of serving the same files beside the first.
// When a server dies, PostgreSQL ends its session and the lock goes with
// it; Open waits up to OpenWait for that before it gives up.
//
// # File ids
//
// AllocID hands out ids from blocks reserved by raising a shared
// high-water mark in a transaction of its own, committed synchronously
// before an id of the block is used: ids are unique across the processes
// sharing the database and are never handed out twice, whatever fails.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tandemfs/tandem/internal/meta"
)

// idBlock is how many ids one reservation of the high-water mark covers.
const idBlock = 1024

// OpenWait is how long Open waits for another server to let go of the
// database.
var OpenWait = 15 * time.Second

// Store is a meta.Store on PostgreSQL.
type Store struct {
	pool   *pgxpool.Pool
	owner  *pgx.Conn     // holds the lock that makes this store the database's one server
	writer chan struct{} // one-slot semaphore: one local Update at a time
	slot   atomic.Uint32 // round-robin over tandem_sync rows

	idMu          sync.Mutex
	idNext, idEnd uint64

	mu       sync.RWMutex // guards closed and the Add of inflight
	closed   bool
	inflight sync.WaitGroup
}

var _ meta.Store = (*Store)(nil)

// Open connects to the database named by dsn (a libpq connection string or
// a postgres:// URL), applies schema migrations and returns the store.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres dsn: %w", err)
	}
	// Durable commits are the default the store relies on, whatever the
	// server's configuration says; lazy updates turn it off per
	// transaction.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "tandem"
	}
	if !strings.Contains(dsn, "pool_max_conns") {
		// Views run side by side with each other and with the Update
		// in progress; the library's default of one per core is thin.
		cfg.MaxConns = int32(max(8, 4*runtime.NumCPU()))
	}
	where := net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres at %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("postgres at %s refused the connection: %w", where, err)
		}
		return nil, fmt.Errorf("cannot reach postgres at %s: %w", where, err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres at %s: %w", where, err)
	}
	owner, err := own(ctx, cfg.ConnConfig)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres at %s, database %s: %w", where, cfg.ConnConfig.Database, err)
	}
	return &Store{pool: pool, owner: owner, writer: make(chan struct{}, 1)}, nil
}

// own connects and takes the lock that makes this process the database's
// one server, waiting up to OpenWait for another holder to go.
func own(ctx context.Context, cc *pgx.ConnConfig) (*pgx.Conn, error) {
	c, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(OpenWait)
	for {
		var ok bool
		if err := c.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", lockOwner).Scan(&ok); err != nil {
			c.Close(ctx)
			return nil, err
		}
		if ok {
			return c, nil
		}
		if time.Now().After(deadline) {
			var who string
			k := lockOwner
			c.QueryRow(ctx, `SELECT coalesce(a.application_name, '') || ' from ' || coalesce(host(a.client_addr), 'a local socket') ||
				' (backend pid ' || a.pid || ')' FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
				WHERE l.locktype = 'advisory' AND l.granted AND l.objid = $1 AND l.classid = $2 LIMIT 1`,
				uint32(k), uint32(k>>32)).Scan(&who)
			c.Close(ctx)
			return nil, fmt.Errorf("another server has this database open (%s); one Tandem serves a database at a time", who)
		}
		select {
		case <-ctx.Done():
			c.Close(context.Background())
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// enter registers a call that Close must wait for.
func (s *Store) enter() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return meta.ErrClosed
	}
	s.inflight.Add(1)
	return nil
}

// View implements meta.Store.
func (s *Store) View(ctx context.Context, fn func(meta.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.inflight.Done()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return err
	}
	t := &tx{ctx: ctx, c: conn, readOnly: true}
	defer func() {
		t.done = true
		// A failed rollback leaves the connection in a transaction, and
		// Release then drops it from the pool.
		conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
	}()
	return fn(t)
}

// Update implements meta.Store.
func (s *Store) Update(ctx context.Context, fn func(meta.Tx) error) error {
	return s.update(ctx, fn, true)
}

// UpdateLazy implements meta.Store.
func (s *Store) UpdateLazy(ctx context.Context, fn func(meta.Tx) error) error {
	return s.update(ctx, fn, false)
}

func (s *Store) update(ctx context.Context, fn func(meta.Tx) error, durable bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.inflight.Done()
	wrote, err := s.apply(ctx, fn)
	if err != nil || !wrote || !durable {
		return err
	}
	// Outside the lock: the next Update runs while this flush waits, and
	// PostgreSQL lets one flush cover both.
	return s.flush(ctx)
}

// apply runs fn in a transaction holding both the local semaphore and the
// shared advisory lock, and commits it without waiting for the disk. It
// reports whether fn wrote anything.
func (s *Store) apply(ctx context.Context, fn func(meta.Tx) error) (wrote bool, err error) {
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-s.writer }()
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Release()
	// One round trip: simple protocol runs the three statements in one
	// message, in one transaction.
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL synchronous_commit = off; "+
		"SELECT pg_advisory_xact_lock("+strconv.FormatInt(lockWriter, 10)+")"); err != nil {
		return false, err
	}
	t := &tx{ctx: ctx, c: conn, store: s}
	committed := false
	defer func() {
		t.done = true
		if !committed {
			conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	if err := fn(t); err != nil {
		return false, err
	}
	if !t.wrote {
		return false, nil
	}
	tag, err := conn.Exec(ctx, "COMMIT")
	if err != nil {
		return false, err
	}
	committed = true
	if tag.String() == "ROLLBACK" {
		// A statement failed and fn carried on regardless.
		return false, errors.New("postgres: transaction aborted by an earlier error; nothing was written")
	}
	return true, nil
}

// flush makes every commit so far durable: see "Durability" above.
func (s *Store) flush(ctx context.Context) error {
	slot := int32(s.slot.Add(1) % syncSlots)
	_, err := s.pool.Exec(ctx, "UPDATE tandem_sync SET n = n + 1 WHERE slot = $1", slot)
	return err
}

// Sync implements meta.Store.
func (s *Store) Sync() error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.inflight.Done()
	return s.flush(context.Background())
}

// Close implements meta.Store: it waits for calls in progress, makes every
// change durable and closes the pool. Later calls return meta.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return meta.ErrClosed
	}
	s.closed = true
	s.mu.Unlock()
	s.inflight.Wait()
	err := s.flush(context.Background())
	s.pool.Close()
	s.owner.Close(context.Background())
	return err
}

// allocID hands out the next id of the reserved block, reserving a new
// block when it runs out.
func (s *Store) allocID(ctx context.Context) (uint64, error) {
	s.idMu.Lock()
	defer s.idMu.Unlock()
	if s.idNext == s.idEnd {
		// Its own autocommitted statement on another connection, with
		// the session's synchronous commit: durable before it returns,
		// and never undone by the caller's transaction failing.
		var mark int64
		err := s.pool.QueryRow(ctx, "UPDATE tandem_ids SET mark = mark + $1 RETURNING mark", idBlock).Scan(&mark)
		if err != nil {
			return 0, fmt.Errorf("reserve file ids: %w", err)
		}
		s.idEnd = uint64(mark)
		s.idNext = s.idEnd - idBlock
	}
	id := s.idNext
	s.idNext++
	return id, nil
}
