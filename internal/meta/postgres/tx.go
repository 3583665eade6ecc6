package postgres

import (
	"context"
	"errors"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tandemfs/tandem/internal/meta"
	"github.com/tandemfs/tandem/internal/meta/kv"
)

// chunk is how many rows a listing reads before handing them to the
// callback (see "Transactions" in the package comment).
const chunk = 512

// tx is the meta.Tx of one View or Update, on the connection that runs it.
type tx struct {
	ctx      context.Context
	c        *pgxpool.Conn
	store    *Store // nil in a View
	readOnly bool
	done     bool // set when the transaction's function returned
	wrote    bool // a write statement ran: the Update must commit
}

var _ meta.Tx = (*tx)(nil)

var errXattrName = errors.New("meta: empty or oversized blob name")

func (t *tx) readable() error {
	if t.done {
		return kv.ErrTxDone
	}
	return nil
}

func (t *tx) writable() error {
	if t.done {
		return kv.ErrTxDone
	}
	if t.readOnly {
		return kv.ErrReadOnly
	}
	t.wrote = true
	return nil
}

// nonNil turns a nil slice into an empty one: pgx sends nil as NULL, and an
// empty value is a value.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// notFound maps "no rows" to meta.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return meta.ErrNotFound
	}
	return err
}

// AllocID implements meta.Tx.
func (t *tx) AllocID() (uint64, error) {
	if err := t.writable(); err != nil {
		return 0, err
	}
	return t.store.allocID(t.ctx)
}

// Inode implements meta.Tx.
func (t *tx) Inode(id uint64) (meta.Inode, error) {
	var ino meta.Inode
	if err := t.readable(); err != nil {
		return ino, err
	}
	var gen, mode, nlink, uid, gid, size, major, minor, parent, dos int64
	var typ int16
	var verf, target []byte
	err := t.c.QueryRow(t.ctx, `SELECT gen, type, mode, nlink, uid, gid, size, major, minor, parent,
		atime, mtime, ctime, btime, dosattrs, createverf, target FROM tandem_inodes WHERE id = $1`, int64(id)).
		Scan(&gen, &typ, &mode, &nlink, &uid, &gid, &size, &major, &minor, &parent,
			&ino.Atime, &ino.Mtime, &ino.Ctime, &ino.Btime, &dos, &verf, &target)
	if err != nil {
		return meta.Inode{}, notFound(err)
	}
	ino.ID = id
	ino.Gen = uint64(gen)
	ino.Type = meta.FileType(typ)
	ino.Mode, ino.Nlink = uint32(mode), uint32(nlink)
	ino.UID, ino.GID = uint32(uid), uint32(gid)
	ino.Size = uint64(size)
	ino.Major, ino.Minor = uint32(major), uint32(minor)
	ino.Parent = uint64(parent)
	ino.DOSAttrs = uint32(dos)
	if len(verf) != len(ino.CreateVerf) {
		return meta.Inode{}, kv.ErrCorrupt
	}
	copy(ino.CreateVerf[:], verf)
	ino.Target = string(target)
	return ino, nil
}

// PutInode implements meta.Tx.
func (t *tx) PutInode(ino *meta.Inode) error {
	if err := t.writable(); err != nil {
		return err
	}
	_, err := t.c.Exec(t.ctx, `INSERT INTO tandem_inodes (id, gen, type, mode, nlink, uid, gid, size, major, minor,
		parent, atime, mtime, ctime, btime, dosattrs, createverf, target)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
		ON CONFLICT (id) DO UPDATE SET gen = EXCLUDED.gen, type = EXCLUDED.type, mode = EXCLUDED.mode,
		nlink = EXCLUDED.nlink, uid = EXCLUDED.uid, gid = EXCLUDED.gid, size = EXCLUDED.size,
		major = EXCLUDED.major, minor = EXCLUDED.minor, parent = EXCLUDED.parent, atime = EXCLUDED.atime,
		mtime = EXCLUDED.mtime, ctime = EXCLUDED.ctime, btime = EXCLUDED.btime, dosattrs = EXCLUDED.dosattrs,
		createverf = EXCLUDED.createverf, target = EXCLUDED.target`,
		int64(ino.ID), int64(ino.Gen), int16(ino.Type), int64(ino.Mode), int64(ino.Nlink),
		int64(ino.UID), int64(ino.GID), int64(ino.Size), int64(ino.Major), int64(ino.Minor),
		int64(ino.Parent), ino.Atime, ino.Mtime, ino.Ctime, ino.Btime, int64(ino.DOSAttrs),
		ino.CreateVerf[:], []byte(ino.Target))
	return err
}

// DeleteInode implements meta.Tx: the inode, its blobs and, for a
// directory, its cookie counter, in one statement.
func (t *tx) DeleteInode(id uint64) error {
	if err := t.writable(); err != nil {
		return err
	}
	var typ int16
	err := t.c.QueryRow(t.ctx, `WITH d AS (DELETE FROM tandem_inodes WHERE id = $1 RETURNING type),
		x AS (DELETE FROM tandem_xattrs WHERE id = $1 AND EXISTS (SELECT 1 FROM d)),
		c AS (DELETE FROM tandem_dircookies WHERE dir = $1 AND EXISTS (SELECT 1 FROM d WHERE type = $2))
		SELECT type FROM d`, int64(id), int16(meta.TypeDir)).Scan(&typ)
	return notFound(err)
}

// Lookup implements meta.Tx.
func (t *tx) Lookup(dir uint64, name string) (meta.Dirent, error) {
	if err := t.readable(); err != nil {
		return meta.Dirent{}, err
	}
	var id, cookie int64
	err := t.c.QueryRow(t.ctx, "SELECT id, cookie FROM tandem_dirents WHERE dir = $1 AND name = $2",
		int64(dir), []byte(name)).Scan(&id, &cookie)
	if err != nil {
		return meta.Dirent{}, notFound(err)
	}
	return meta.Dirent{Name: name, ID: uint64(id), Cookie: uint64(cookie)}, nil
}

// AddEntry implements meta.Tx. One statement takes the directory's next
// cookie (creating its counter at 3) and inserts the entry, unless the
// name exists, in which case it changes nothing and returns no row.
func (t *tx) AddEntry(dir uint64, name string, id uint64) (uint64, error) {
	if err := t.writable(); err != nil {
		return 0, err
	}
	var cookie int64
	err := t.c.QueryRow(t.ctx, `WITH c AS (
		INSERT INTO tandem_dircookies AS k (dir, next)
		SELECT $1, 4 WHERE NOT EXISTS (SELECT 1 FROM tandem_dirents WHERE dir = $1 AND name = $2)
		ON CONFLICT (dir) DO UPDATE SET next = k.next + 1
		RETURNING next - 1 AS cookie)
		INSERT INTO tandem_dirents (dir, name, id, cookie) SELECT $1, $2, $3, cookie FROM c
		RETURNING cookie`, int64(dir), []byte(name), int64(id)).Scan(&cookie)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, meta.ErrExists
	}
	if err != nil {
		return 0, err
	}
	return uint64(cookie), nil
}

// RemoveEntry implements meta.Tx.
func (t *tx) RemoveEntry(dir uint64, name string) error {
	if err := t.writable(); err != nil {
		return err
	}
	tag, err := t.c.Exec(t.ctx, "DELETE FROM tandem_dirents WHERE dir = $1 AND name = $2", int64(dir), []byte(name))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return meta.ErrNotFound
	}
	return nil
}

// ReadDir implements meta.Tx.
func (t *tx) ReadDir(dir uint64, after uint64, fn func(meta.Dirent) bool) error {
	if err := t.readable(); err != nil {
		return err
	}
	if after >= math.MaxInt64 {
		return nil // cookies count up from 3 and never get there
	}
	next := int64(after)
	for {
		rows, err := t.c.Query(t.ctx, `SELECT cookie, id, name FROM tandem_dirents
			WHERE dir = $1 AND cookie > $2 ORDER BY cookie LIMIT $3`, int64(dir), next, chunk)
		if err != nil {
			return err
		}
		var buf []meta.Dirent
		for rows.Next() {
			var cookie, id int64
			var name []byte
			if err := rows.Scan(&cookie, &id, &name); err != nil {
				rows.Close()
				return err
			}
			buf = append(buf, meta.Dirent{Name: string(name), ID: uint64(id), Cookie: uint64(cookie)})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, e := range buf {
			if !fn(e) {
				return nil
			}
		}
		if len(buf) < chunk {
			return nil
		}
		next = int64(buf[len(buf)-1].Cookie)
	}
}

// DirEmpty implements meta.Tx.
func (t *tx) DirEmpty(dir uint64) (bool, error) {
	if err := t.readable(); err != nil {
		return false, err
	}
	var empty bool
	err := t.c.QueryRow(t.ctx, "SELECT NOT EXISTS (SELECT 1 FROM tandem_dirents WHERE dir = $1)", int64(dir)).Scan(&empty)
	return empty, err
}

func checkXattrName(name string) error {
	if name == "" || len(name) > kv.MaxXattrName {
		return errXattrName
	}
	return nil
}

// Xattr implements meta.Tx.
func (t *tx) Xattr(id uint64, name string) ([]byte, error) {
	if err := t.readable(); err != nil {
		return nil, err
	}
	if err := checkXattrName(name); err != nil {
		return nil, err
	}
	var v []byte
	err := t.c.QueryRow(t.ctx, "SELECT value FROM tandem_xattrs WHERE id = $1 AND name = $2",
		int64(id), []byte(name)).Scan(&v)
	if err != nil {
		return nil, notFound(err)
	}
	return nonNil(v), nil
}

// PutXattr implements meta.Tx.
func (t *tx) PutXattr(id uint64, name string, value []byte) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := checkXattrName(name); err != nil {
		return err
	}
	_, err := t.c.Exec(t.ctx, `INSERT INTO tandem_xattrs (id, name, value) VALUES ($1, $2, $3)
		ON CONFLICT (id, name) DO UPDATE SET value = EXCLUDED.value`, int64(id), []byte(name), nonNil(value))
	return err
}

// DeleteXattr implements meta.Tx.
func (t *tx) DeleteXattr(id uint64, name string) error {
	if err := t.writable(); err != nil {
		return err
	}
	if err := checkXattrName(name); err != nil {
		return err
	}
	_, err := t.c.Exec(t.ctx, "DELETE FROM tandem_xattrs WHERE id = $1 AND name = $2", int64(id), []byte(name))
	return err
}

// Xattrs implements meta.Tx. An inode has few blobs: they are read in one
// query before fn sees the first.
func (t *tx) Xattrs(id uint64, fn func(name string, value []byte) bool) error {
	if err := t.readable(); err != nil {
		return err
	}
	rows, err := t.c.Query(t.ctx, "SELECT name, value FROM tandem_xattrs WHERE id = $1 ORDER BY name", int64(id))
	if err != nil {
		return err
	}
	type blob struct {
		name  string
		value []byte
	}
	var all []blob
	for rows.Next() {
		var name, value []byte
		if err := rows.Scan(&name, &value); err != nil {
			rows.Close()
			return err
		}
		all = append(all, blob{string(name), nonNil(value)})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, b := range all {
		if !fn(b.name, b.value) {
			break
		}
	}
	return nil
}

// Get implements meta.Tx.
func (t *tx) Get(bucket string, key []byte) ([]byte, error) {
	if err := t.readable(); err != nil {
		return nil, err
	}
	var v []byte
	err := t.c.QueryRow(t.ctx, "SELECT value FROM tandem_records WHERE bucket = $1 AND key = $2",
		[]byte(bucket), nonNil(key)).Scan(&v)
	if err != nil {
		return nil, notFound(err)
	}
	return nonNil(v), nil
}

// Put implements meta.Tx.
func (t *tx) Put(bucket string, key, value []byte) error {
	if err := t.writable(); err != nil {
		return err
	}
	_, err := t.c.Exec(t.ctx, `INSERT INTO tandem_records (bucket, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (bucket, key) DO UPDATE SET value = EXCLUDED.value`, []byte(bucket), nonNil(key), nonNil(value))
	return err
}

// Delete implements meta.Tx.
func (t *tx) Delete(bucket string, key []byte) error {
	if err := t.writable(); err != nil {
		return err
	}
	_, err := t.c.Exec(t.ctx, "DELETE FROM tandem_records WHERE bucket = $1 AND key = $2", []byte(bucket), nonNil(key))
	return err
}

// Scan implements meta.Tx. The range is [prefix, the smallest key above
// every key with the prefix); with no such key (an empty prefix, or one of
// only 0xff bytes) it is open above, a query of its own so the index bounds
// the scan at both ends whenever it can.
func (t *tx) Scan(bucket string, prefix []byte, fn func(key, value []byte) bool) error {
	if err := t.readable(); err != nil {
		return err
	}
	end := prefixEnd(prefix)
	lo := nonNil(append([]byte(nil), prefix...))
	op := ">="
	for {
		var rows pgx.Rows
		var err error
		if end != nil {
			rows, err = t.c.Query(t.ctx, `SELECT key, value FROM tandem_records
				WHERE bucket = $1 AND key `+op+` $2 AND key < $3 ORDER BY key LIMIT $4`, []byte(bucket), lo, end, chunk)
		} else {
			rows, err = t.c.Query(t.ctx, `SELECT key, value FROM tandem_records
				WHERE bucket = $1 AND key `+op+` $2 ORDER BY key LIMIT $3`, []byte(bucket), lo, chunk)
		}
		if err != nil {
			return err
		}
		var keys, values [][]byte
		for rows.Next() {
			var k, v []byte
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return err
			}
			keys, values = append(keys, nonNil(k)), append(values, nonNil(v))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range keys {
			if !fn(keys[i], values[i]) {
				return nil
			}
		}
		if len(keys) < chunk {
			return nil
		}
		lo, op = keys[len(keys)-1], ">"
	}
}

// prefixEnd returns the smallest key above every key with the prefix, or
// nil when there is none.
func prefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}
