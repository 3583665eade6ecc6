package fs

import (
	"context"
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"strings"

	"github.com/tandemfs/tandem/internal/meta"
)

// defaultAnonID is the anonymous uid and gid when a share names none
// (nobody/nogroup).
const defaultAnonID = 65534

// share is one loaded share. It is immutable: AddShare publishes a new one.
type share struct {
	id   uint32
	root Handle
	cfg  ShareConfig
}

// shareTable is the set of shares, replaced as a whole so that the hot path
// reads it without a lock.
type shareTable struct {
	byID   map[uint32]*share
	byName map[string]*share
}

// The share record, in bucket "share" under the share's name:
//
//	version u8 | id u32 | root id u64 | root gen u64 | readonly u8 |
//	squash u8 | anon uid u32 | anon gid u32 | n u16 | n × (len u8, prefix)
const shareRecordVersion = 1

func encodeShare(s *share) []byte {
	b := make([]byte, 0, 40+len(s.cfg.Clients)*18)
	b = append(b, shareRecordVersion)
	b = binary.BigEndian.AppendUint32(b, s.id)
	b = binary.BigEndian.AppendUint64(b, s.root.ID)
	b = binary.BigEndian.AppendUint64(b, s.root.Gen)
	ro := byte(0)
	if s.cfg.ReadOnly {
		ro = 1
	}
	b = append(b, ro, byte(s.cfg.Squash))
	b = binary.BigEndian.AppendUint32(b, s.cfg.AnonUID)
	b = binary.BigEndian.AppendUint32(b, s.cfg.AnonGID)
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.cfg.Clients)))
	for _, p := range s.cfg.Clients {
		pb, _ := p.MarshalBinary() // never fails
		b = append(b, byte(len(pb)))
		b = append(b, pb...)
	}
	return b
}

var errShareRecord = errors.New("fs: bad share record")

func decodeShare(name string, b []byte) (*share, error) {
	if len(b) < 33 || b[0] != shareRecordVersion {
		return nil, errShareRecord
	}
	s := &share{id: binary.BigEndian.Uint32(b[1:])}
	s.root = Handle{Share: s.id, ID: binary.BigEndian.Uint64(b[5:]), Gen: binary.BigEndian.Uint64(b[13:])}
	s.cfg = ShareConfig{
		Name:     name,
		ReadOnly: b[21] == 1,
		Squash:   Squash(b[22]),
		AnonUID:  binary.BigEndian.Uint32(b[23:]),
		AnonGID:  binary.BigEndian.Uint32(b[27:]),
	}
	n := int(binary.BigEndian.Uint16(b[31:]))
	b = b[33:]
	for range n {
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return nil, errShareRecord
		}
		var p netip.Prefix
		if err := p.UnmarshalBinary(b[1 : 1+int(b[0])]); err != nil {
			return nil, errShareRecord
		}
		s.cfg.Clients = append(s.cfg.Clients, p)
		b = b[1+int(b[0]):]
	}
	if len(b) != 0 {
		return nil, errShareRecord
	}
	return s, nil
}

// loadShares reads every share record into the table.
func (f *FS) loadShares() error {
	t := &shareTable{byID: map[uint32]*share{}, byName: map[string]*share{}}
	err := f.meta.View(context.Background(), func(tx meta.Tx) error {
		var derr error
		err := tx.Scan(bucketShare, nil, func(k, v []byte) bool {
			s, err := decodeShare(string(k), v)
			if err != nil {
				derr = err
				return false
			}
			t.byID[s.id] = s
			t.byName[s.cfg.Name] = s
			return true
		})
		if err != nil {
			return err
		}
		return derr
	})
	if err != nil {
		return err
	}
	f.shares.Store(t)
	return nil
}

// normalize checks a share's configuration and fills its defaults. A zero
// anonymous id means the default (65534): squashing to root is what
// NoSquash is for.
func normalize(cfg ShareConfig) (ShareConfig, error) {
	if cfg.Name == "" || len(cfg.Name) > MaxNameLen || strings.ContainsAny(cfg.Name, "/\x00") || cfg.Squash > AllSquash {
		return cfg, ErrInval
	}
	if cfg.AnonUID == 0 {
		cfg.AnonUID = defaultAnonID
	}
	if cfg.AnonGID == 0 {
		cfg.AnonGID = defaultAnonID
	}
	if len(cfg.Clients) > 0xffff {
		return cfg, ErrInval
	}
	var clients []netip.Prefix
	for _, p := range cfg.Clients {
		if !p.IsValid() {
			return cfg, ErrInval
		}
		clients = append(clients, p.Masked())
	}
	cfg.Clients = clients
	return cfg, nil
}

// AddShare exports cfg, creating the share's root directory (mode 0777
// root-owned on first creation, so that any user can create files) if the
// share is new. Shares persist in the metadata store; calling AddShare
// again with the same name updates the options.
func (f *FS) AddShare(ctx context.Context, cfg ShareConfig) (Handle, error) {
	cfg, err := normalize(cfg)
	if err != nil {
		return Handle{}, err
	}
	f.shareMu.Lock()
	defer f.shareMu.Unlock()
	var s *share
	err = f.meta.Update(ctx, func(tx meta.Tx) error {
		s = nil
		v, err := tx.Get(bucketShare, []byte(cfg.Name))
		switch {
		case err == nil:
			old, err := decodeShare(cfg.Name, v)
			if err != nil {
				return err
			}
			s = &share{id: old.id, root: old.root, cfg: cfg}
		case errors.Is(err, meta.ErrNotFound):
			s, err = reviveShare(tx, cfg)
			if err == nil && s == nil {
				s, err = newShare(tx, cfg, f.now())
			}
			if err != nil {
				return err
			}
		default:
			return err
		}
		return tx.Put(bucketShare, []byte(cfg.Name), encodeShare(s))
	})
	if err != nil {
		return Handle{}, f.result("addshare", err)
	}
	old := f.shares.Load()
	t := &shareTable{byID: make(map[uint32]*share, len(old.byID)+1), byName: make(map[string]*share, len(old.byName)+1)}
	for id, o := range old.byID {
		t.byID[id] = o
		t.byName[o.cfg.Name] = o
	}
	t.byID[s.id] = s
	t.byName[s.cfg.Name] = s
	f.shares.Store(t)
	return s.root, nil
}

// newShare allocates a share id and makes the share's root directory.
func newShare(tx meta.Tx, cfg ShareConfig, now int64) (*share, error) {
	id := uint32(1)
	v, err := tx.Get(bucketFS, keyNextShare)
	switch {
	case err == nil && len(v) == 4:
		id = binary.BigEndian.Uint32(v)
	case err == nil:
		return nil, errShareRecord
	case !errors.Is(err, meta.ErrNotFound):
		return nil, err
	}
	if id == 0 { // wrapped: four billion shares were made
		return nil, ErrNoSpace
	}
	if err := tx.Put(bucketFS, keyNextShare, binary.BigEndian.AppendUint32(nil, id+1)); err != nil {
		return nil, err
	}
	ino, err := tx.AllocID()
	if err != nil {
		return nil, err
	}
	root := meta.Inode{
		ID:     ino,
		Gen:    newGen(id),
		Type:   meta.TypeDir,
		Mode:   0o777,
		Nlink:  2,
		Size:   dirSize,
		Parent: ino,
		Atime:  now, Mtime: now, Ctime: now, Btime: now,
	}
	if err := tx.PutInode(&root); err != nil {
		return nil, err
	}
	if err := addFiles(tx, 1); err != nil {
		return nil, err
	}
	return &share{id: id, root: Handle{Share: id, ID: root.ID, Gen: root.Gen}, cfg: cfg}, nil
}

// Share returns the root handle and options of the named share.
func (f *FS) Share(name string) (Handle, ShareConfig, bool) {
	s, ok := f.shares.Load().byName[name]
	if !ok {
		return Handle{}, ShareConfig{}, false
	}
	return s.root, s.config(), true
}

// Shares lists every share, by name.
func (f *FS) Shares() []ShareConfig {
	t := f.shares.Load()
	out := make([]ShareConfig, 0, len(t.byName))
	for _, s := range t.byName {
		out = append(out, s.config())
	}
	slices.SortFunc(out, func(a, b ShareConfig) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// config is a copy of s's configuration the caller may keep and change.
func (s *share) config() ShareConfig {
	c := s.cfg
	c.Clients = slices.Clone(s.cfg.Clients)
	return c
}

// CheckClient reports whether c may use the share of h at all (ErrAccess if
// its address is outside the share's networks).
func (f *FS) CheckClient(h Handle, c *Caller) error {
	s, err := f.shareOf(h)
	if err != nil {
		return err
	}
	if !s.admits(c) {
		return ErrAccess
	}
	return nil
}

// shareOf is the share h belongs to: ErrStale if there is none, or if the
// handle's generation is not of that share (a forged share field).
func (f *FS) shareOf(h Handle) (*share, error) {
	s, ok := f.shares.Load().byID[h.Share]
	if !ok || shareOfGen(h.Gen) != h.Share {
		return nil, ErrStale
	}
	return s, nil
}

// admits reports whether c's address is in the share's networks. A caller
// without an address is admitted only by a share open to all.
func (s *share) admits(c *Caller) bool {
	if len(s.cfg.Clients) == 0 {
		return true
	}
	if c == nil || !c.Addr.IsValid() {
		return false
	}
	a := c.Addr.Unmap().WithZone("")
	for _, p := range s.cfg.Clients {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
