// Package identity holds Tandem's users: their names, the uid and gid NFS
// sees them as, the NT hash SMB authenticates them with, and the mapping
// between uids/gids and Windows SIDs.
//
// # Users
//
// A user is a name, a uid, a primary gid and the NT hash of a password
// (MD4 of its UTF-16LE encoding). NTLM, the authentication inside SMB
// SESSION_SETUP, proves knowledge of that hash and never of the password
// itself, so the hash is all that is stored: it is password-equivalent for
// NTLM and must be protected like a password, but a leaked store does not
// reveal the passwords to other systems.
//
// Names are compared without regard to case, as Windows does: "Alice" and
// "alice" are one user, shown as first spelled. Several users may share a
// uid; they are then one owner for the file system.
//
// # SIDs
//
// SMB clients see owners and groups as SIDs. Each server has a machine SID
// S-1-5-21-a-b-c, random, made the first time it is needed and kept in the
// store, so that the SIDs a client cached stay valid across restarts. Ids
// map into it by relative id (see Mapper): uid u is RID 1000+2u and gid g is
// RID 1001+2g, so users and groups never collide and both come back
// unchanged.
//
// Records live in the metadata store: bucket "user" keyed by the folded
// name, and the machine SID in bucket "identity".
package identity

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"unicode"

	"github.com/tandemfs/tandem/internal/meta"
)

// Errors of the Store.
var (
	ErrExists   = errors.New("identity: user exists")
	ErrNotFound = errors.New("identity: no such user")
	ErrBadName  = errors.New("identity: invalid user name")
)

// MaxNameLen bounds a user name, in bytes.
const MaxNameLen = 64

// User is one account.
type User struct {
	Name   string // as first spelled
	UID    uint32
	GID    uint32
	NTHash [16]byte
}

// Store reads and changes users in a metadata store. It is safe for
// concurrent use and keeps no copy of the users: every call reads the
// store, so a change made through another Store on the same metadata (an
// admin command) is seen at once.
type Store struct {
	meta meta.Store

	mu     sync.Mutex // guards mapper
	mapper *Mapper
}

const (
	bucketUser     = "user"
	bucketIdentity = "identity"
	userVersion    = 1
)

var keyMachineSID = []byte("machinesid")

// New returns the Store of the users in m.
func New(m meta.Store) *Store { return &Store{meta: m} }

// fold is the key of a name: names differ only if they differ ignoring case.
func fold(name string) []byte { return []byte(strings.ToLower(name)) }

// validName accepts what Windows accepts as an account name: 1 to 64 bytes,
// no control characters and none of "/\[]:;|=,+*?<>@ , not only dots or
// spaces.
func validName(name string) bool {
	if name == "" || len(name) > MaxNameLen || strings.Trim(name, ". ") == "" {
		return false
	}
	for _, r := range name {
		if unicode.IsControl(r) || r == unicode.ReplacementChar || strings.ContainsRune(`"/\[]:;|=,+*?<>@`, r) {
			return false
		}
	}
	return true
}

// The user record: version u8 | uid u32 | gid u32 | nthash [16] | name.
func encodeUser(u *User) []byte {
	b := make([]byte, 0, 25+len(u.Name))
	b = append(b, userVersion)
	b = binary.BigEndian.AppendUint32(b, u.UID)
	b = binary.BigEndian.AppendUint32(b, u.GID)
	b = append(b, u.NTHash[:]...)
	return append(b, u.Name...)
}

var errRecord = errors.New("identity: bad user record")

func decodeUser(b []byte) (User, error) {
	if len(b) < 25 || b[0] != userVersion {
		return User{}, errRecord
	}
	u := User{
		UID:  binary.BigEndian.Uint32(b[1:]),
		GID:  binary.BigEndian.Uint32(b[5:]),
		Name: string(b[25:]),
	}
	copy(u.NTHash[:], b[9:25])
	return u, nil
}

// AddUser adds a user with password (ErrExists if the name is taken in any
// case, ErrBadName if it is not a valid account name).
func (s *Store) AddUser(ctx context.Context, name, password string, uid, gid uint32) error {
	if !validName(name) {
		return ErrBadName
	}
	u := User{Name: name, UID: uid, GID: gid, NTHash: NTHash(password)}
	return s.meta.Update(ctx, func(tx meta.Tx) error {
		_, err := tx.Get(bucketUser, fold(name))
		switch {
		case err == nil:
			return ErrExists
		case !errors.Is(err, meta.ErrNotFound):
			return err
		}
		return tx.Put(bucketUser, fold(name), encodeUser(&u))
	})
}

// SetPassword replaces a user's password (ErrNotFound).
func (s *Store) SetPassword(ctx context.Context, name, password string) error {
	h := NTHash(password)
	return s.meta.Update(ctx, func(tx meta.Tx) error {
		u, err := lookup(tx, name)
		if err != nil {
			return err
		}
		u.NTHash = h
		return tx.Put(bucketUser, fold(name), encodeUser(&u))
	})
}

// DelUser removes a user (ErrNotFound).
func (s *Store) DelUser(ctx context.Context, name string) error {
	return s.meta.Update(ctx, func(tx meta.Tx) error {
		if _, err := lookup(tx, name); err != nil {
			return err
		}
		return tx.Delete(bucketUser, fold(name))
	})
}

// Lookup finds a user by name, in any case (ErrNotFound).
func (s *Store) Lookup(ctx context.Context, name string) (User, error) {
	var u User
	err := s.meta.View(ctx, func(tx meta.Tx) error {
		var err error
		u, err = lookup(tx, name)
		return err
	})
	return u, err
}

func lookup(tx meta.Tx, name string) (User, error) {
	if !validName(name) {
		return User{}, ErrNotFound
	}
	v, err := tx.Get(bucketUser, fold(name))
	if errors.Is(err, meta.ErrNotFound) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, err
	}
	return decodeUser(v)
}

// List returns every user, ordered by folded name.
func (s *Store) List(ctx context.Context) ([]User, error) {
	var out []User
	err := s.meta.View(ctx, func(tx meta.Tx) error {
		out = out[:0]
		var derr error
		err := tx.Scan(bucketUser, nil, func(_, v []byte) bool {
			u, err := decodeUser(v)
			if err != nil {
				derr = err
				return false
			}
			out = append(out, u)
			return true
		})
		if err != nil {
			return err
		}
		return derr
	})
	return out, err
}

// Mapper returns the SID mapping of this server, making and storing the
// machine SID the first time.
func (s *Store) Mapper(ctx context.Context) (Mapper, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mapper != nil {
		return *s.mapper, nil
	}
	var dom SID
	err := s.meta.Update(ctx, func(tx meta.Tx) error {
		v, err := tx.Get(bucketIdentity, keyMachineSID)
		switch {
		case err == nil:
			if len(v) != 12 {
				return errors.New("identity: bad machine SID record")
			}
		case errors.Is(err, meta.ErrNotFound):
			v = make([]byte, 12)
			if _, err := rand.Read(v); err != nil {
				return err
			}
			if err := tx.Put(bucketIdentity, keyMachineSID, v); err != nil {
				return err
			}
		default:
			return err
		}
		dom = sidNTDomain
		for i := range 3 {
			dom = dom.Child(binary.BigEndian.Uint32(v[4*i:]))
		}
		return nil
	})
	if err != nil {
		return Mapper{}, err
	}
	m := NewMapper(dom)
	s.mapper = &m
	return m, nil
}
