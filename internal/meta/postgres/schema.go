package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations are the schema versions in order: migrations[i] takes a
// database from version i to i+1. A released migration is never edited; a
// change of schema is a new entry at the end.
//
// Names, keys and values are bytea, not text: the store's names are byte
// strings that may hold NUL and invalid UTF-8, and bytea compares byte by
// byte, which is the order the interface promises for bucket keys and blob
// names. Ids and cookies are uint64 kept in bigint by bit pattern (ids above
// 2^63 become negative; only cookies are ever compared, and they count up
// from 3).
var migrations = []string{
	// 1: the records of package meta.
	`
CREATE TABLE tandem_inodes (
	id         bigint PRIMARY KEY,
	gen        bigint  NOT NULL,
	type       smallint NOT NULL,
	mode       bigint  NOT NULL,
	nlink      bigint  NOT NULL,
	uid        bigint  NOT NULL,
	gid        bigint  NOT NULL,
	size       bigint  NOT NULL,
	major      bigint  NOT NULL,
	minor      bigint  NOT NULL,
	parent     bigint  NOT NULL,
	atime      bigint  NOT NULL,
	mtime      bigint  NOT NULL,
	ctime      bigint  NOT NULL,
	btime      bigint  NOT NULL,
	dosattrs   bigint  NOT NULL,
	createverf bytea   NOT NULL,
	target     bytea   NOT NULL
);
CREATE TABLE tandem_dirents (
	dir    bigint NOT NULL,
	name   bytea  NOT NULL,
	id     bigint NOT NULL,
	cookie bigint NOT NULL,
	PRIMARY KEY (dir, name),
	UNIQUE (dir, cookie)
);
-- The next cookie of each directory that ever had an entry; it only grows,
-- and goes with the directory's inode.
CREATE TABLE tandem_dircookies (
	dir  bigint PRIMARY KEY,
	next bigint NOT NULL
);
CREATE TABLE tandem_xattrs (
	id    bigint NOT NULL,
	name  bytea  NOT NULL,
	value bytea  NOT NULL,
	PRIMARY KEY (id, name)
);
CREATE TABLE tandem_records (
	bucket bytea NOT NULL,
	key    bytea NOT NULL,
	value  bytea NOT NULL,
	PRIMARY KEY (bucket, key)
);
-- The file id high-water mark: every id below it may have been handed out.
CREATE TABLE tandem_ids (
	one  boolean PRIMARY KEY DEFAULT true CHECK (one),
	mark bigint NOT NULL
);
INSERT INTO tandem_ids (mark) VALUES (16);
-- Rows that Sync rewrites with a synchronous commit, which flushes the
-- write-ahead log up to it and so every commit before it. Several rows, so
-- that concurrent Syncs do not queue on one row lock.
CREATE TABLE tandem_sync (
	slot integer PRIMARY KEY,
	n    bigint NOT NULL
);
INSERT INTO tandem_sync SELECT g, 0 FROM generate_series(0, 15) g;
`,
}

// syncSlots is the number of rows in tandem_sync.
const syncSlots = 16

// Advisory lock keys (arbitrary constants; "tandem" in ASCII, plus one).
const (
	lockWriter  int64 = 0x74616e64656d00
	lockMigrate int64 = 0x74616e64656d01
	lockOwner   int64 = 0x74616e64656d02
)

// ErrSchemaNewer is wrapped by Open when the database was migrated by a
// newer binary.
var ErrSchemaNewer = errors.New("schema is newer than this binary")

// migrate brings the schema to the newest version, holding an advisory lock
// so that servers starting together on one database migrate it once.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockMigrate); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockMigrate)

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS tandem_schema (
		one boolean PRIMARY KEY DEFAULT true CHECK (one),
		version integer NOT NULL)`); err != nil {
		return fmt.Errorf("create schema version table: %w", err)
	}
	var version int
	err = conn.QueryRow(ctx, "SELECT version FROM tandem_schema").Scan(&version)
	if errors.Is(err, pgx.ErrNoRows) {
		version = 0
	} else if err != nil {
		return err
	}
	if version > len(migrations) {
		return fmt.Errorf("%w: schema version %d is newer than this binary, which knows versions up to %d; run a newer tandem",
			ErrSchemaNewer, version, len(migrations))
	}
	for v := version; v < len(migrations); v++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, migrations[v]); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO tandem_schema (version) VALUES ($1)
				ON CONFLICT (one) DO UPDATE SET version = EXCLUDED.version`, v+1)
			return err
		})
		if err != nil {
			return fmt.Errorf("schema migration to version %d: %w", v+1, err)
		}
	}
	return nil
}
