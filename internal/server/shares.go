package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/meta"
)

// bucketShareOpts keeps, by share name, the share options the file system
// does not know (SMB encryption, guest, comment, the locking mode) as the
// JSON of a ShareConfig. The file system's own share record stays the
// authority on the rest.
const bucketShareOpts = "server.share"

// ShareRequest is the parameter of the admin share methods. For
// share.set, the fields left nil keep their value.
type ShareRequest struct {
	Name     string    `json:"name"`
	ReadOnly *bool     `json:"read_only,omitempty"`
	Squash   *string   `json:"squash,omitempty"`
	AnonUID  *uint32   `json:"anon_uid,omitempty"`
	AnonGID  *uint32   `json:"anon_gid,omitempty"`
	Clients  *[]string `json:"clients,omitempty"`
	Encrypt  *bool     `json:"encrypt,omitempty"`
	Guest    *bool     `json:"guest,omitempty"`
	Comment  *string   `json:"comment,omitempty"`
	Locking  *string   `json:"locking,omitempty"`
}

// apply sets the fields r carries on c.
func (r *ShareRequest) apply(c *ShareConfig) {
	c.Name = r.Name
	set := func(dst *bool, src *bool) {
		if src != nil {
			*dst = *src
		}
	}
	set(&c.ReadOnly, r.ReadOnly)
	set(&c.Encrypt, r.Encrypt)
	set(&c.Guest, r.Guest)
	if r.Squash != nil {
		c.Squash = *r.Squash
	}
	if r.AnonUID != nil {
		c.AnonUID = r.AnonUID
	}
	if r.AnonGID != nil {
		c.AnonGID = r.AnonGID
	}
	if r.Clients != nil {
		c.Clients = *r.Clients
	}
	if r.Comment != nil {
		c.Comment = *r.Comment
	}
	if r.Locking != nil {
		c.Locking = *r.Locking
	}
}

// ShareInfo is one share as `tandem share list|show` prints it.
type ShareInfo struct {
	ShareConfig
	// InConfig: the server's config file lists the share, and sets it
	// again as the file says at every start.
	InConfig bool `json:"in_config"`
}

// ShareReply is the result of the admin share methods.
type ShareReply struct {
	Shares  []ShareInfo `json:"shares"`
	Warning string      `json:"warning,omitempty"`
}

// shareSet is the server's shares with every option, read by SMB at each
// tree connect and by the lock manager's share settings; changes go
// through ShareOp, one at a time.
type shareSet struct {
	fs       *fs.FS
	meta     meta.Store
	inConfig map[string]bool
	// applied, if set, makes a change take effect on what is running.
	applied func(root fs.Handle, c ShareConfig, removed bool)

	mu     sync.Mutex // serialises changes
	byName atomic.Pointer[map[string]ShareConfig]
}

func newShareSet(f *fs.FS, m meta.Store, cfg *Config) *shareSet {
	s := &shareSet{fs: f, meta: m, inConfig: map[string]bool{}}
	for _, sh := range cfg.Shares {
		s.inConfig[sh.Name] = true
	}
	empty := map[string]ShareConfig{}
	s.byName.Store(&empty)
	return s
}

// get returns the named share's options (the zero ShareConfig if none).
func (s *shareSet) get(name string) ShareConfig { return (*s.byName.Load())[name] }

// load reads every share of the file system with its stored options.
func (s *shareSet) load(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := map[string]ShareConfig{}
	err := s.meta.View(ctx, func(tx meta.Tx) error {
		clear(all)
		for _, fc := range s.fs.Shares() {
			c, err := s.stored(tx, fc.Name)
			if err != nil {
				return err
			}
			all[fc.Name] = merge(c, fc)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.byName.Store(&all)
	return nil
}

// stored reads the options record of name; none is the defaults.
func (s *shareSet) stored(tx meta.Tx, name string) (ShareConfig, error) {
	c := ShareConfig{Name: name}
	v, err := tx.Get(bucketShareOpts, []byte(name))
	if errors.Is(err, meta.ErrNotFound) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(v, &c); err != nil {
		return c, fmt.Errorf("share %q: bad options record: %w", name, err)
	}
	c.Name = name
	return c, nil
}

// merge takes the file system's part of a share from fc, the rest from c.
func merge(c ShareConfig, fc fs.ShareConfig) ShareConfig {
	c.Name, c.ReadOnly = fc.Name, fc.ReadOnly
	c.Squash = [...]string{fs.NoSquash: "none", fs.RootSquash: "root", fs.AllSquash: "all"}[fc.Squash]
	uid, gid := fc.AnonUID, fc.AnonGID
	c.AnonUID, c.AnonGID = &uid, &gid
	c.Clients = []string{}
	for _, p := range fc.Clients {
		if p.IsSingleIP() {
			c.Clients = append(c.Clients, p.Addr().String())
		} else {
			c.Clients = append(c.Clients, p.String())
		}
	}
	if c.Locking == "" {
		c.Locking = lock.Unified.String()
	}
	return c
}

// put stores c and exports it, replacing a share of the same name.
func (s *shareSet) put(ctx context.Context, c ShareConfig) (ShareConfig, error) {
	fc, err := c.fsConfig()
	if err != nil {
		return c, err
	}
	if c.Locking == "" {
		c.Locking = lock.Unified.String()
	}
	rec, err := json.Marshal(c)
	if err != nil {
		return c, err
	}
	// The options go first: a crash between the two leaves a record that
	// the next add of the name overwrites, never a share without options.
	if err := s.meta.Update(ctx, func(tx meta.Tx) error {
		return tx.Put(bucketShareOpts, []byte(c.Name), rec)
	}); err != nil {
		return c, err
	}
	root, err := s.fs.AddShare(ctx, fc)
	if err != nil {
		return c, fmt.Errorf("share %q: %w", c.Name, err)
	}
	_, fc, _ = s.fs.Share(c.Name)
	c = merge(c, fc)
	s.publish(c.Name, &c)
	if s.applied != nil {
		s.applied(root, c, false)
	}
	return c, nil
}

func (s *shareSet) publish(name string, c *ShareConfig) {
	next := map[string]ShareConfig{}
	for k, v := range *s.byName.Load() {
		next[k] = v
	}
	if c == nil {
		delete(next, name)
	} else {
		next[name] = *c
	}
	s.byName.Store(&next)
}

// list returns every share, by name.
func (s *shareSet) list() []ShareInfo {
	all := *s.byName.Load()
	out := make([]ShareInfo, 0, len(all))
	for _, c := range all {
		out = append(out, ShareInfo{ShareConfig: c, InConfig: s.inConfig[c.Name]})
	}
	slices.SortFunc(out, func(a, b ShareInfo) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// ShareOp runs one share administration method. The running server and
// the offline command share it, so both behave the same.
func (s *shareSet) op(ctx context.Context, method string, req ShareRequest) (*ShareReply, error) {
	if method != "share.list" {
		if err := checkShareName(req.Name); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, exists := (*s.byName.Load())[req.Name]
	reply := &ShareReply{}
	if s.inConfig[req.Name] && (method == "share.set" || method == "share.del") {
		reply.Warning = fmt.Sprintf("share %q is in the config file, which sets it again as the file says at the next start", req.Name)
	}
	switch method {
	case "share.list":
		reply.Shares = s.list()
		return reply, nil
	case "share.show":
		if !exists {
			return nil, fmt.Errorf("no share %q", req.Name)
		}
		reply.Shares = []ShareInfo{{ShareConfig: cur, InConfig: s.inConfig[req.Name]}}
		return reply, nil
	case "share.add", "share.set":
		if method == "share.add" && exists {
			return nil, fmt.Errorf("share %q already exists (tandem share set changes it)", req.Name)
		}
		if method == "share.set" && !exists {
			return nil, fmt.Errorf("no share %q", req.Name)
		}
		if method == "share.add" {
			cur = ShareConfig{}
		}
		req.apply(&cur)
		c, err := s.put(ctx, cur)
		if err != nil {
			return nil, err
		}
		reply.Shares = []ShareInfo{{ShareConfig: c, InConfig: s.inConfig[c.Name]}}
		return reply, nil
	case "share.del":
		if !exists {
			return nil, fmt.Errorf("no share %q", req.Name)
		}
		root, _, _ := s.fs.Share(req.Name)
		if err := s.fs.RemoveShare(ctx, req.Name); err != nil {
			return nil, fmt.Errorf("share %q: %w", req.Name, err)
		}
		s.publish(req.Name, nil)
		if s.applied != nil {
			s.applied(root, cur, true)
		}
		return reply, nil
	}
	return nil, fmt.Errorf("unknown share method %q", method)
}

// ShareMethods are the admin methods of `tandem share`.
var ShareMethods = []string{"share.add", "share.set", "share.del", "share.list", "share.show"}

func (s *Server) registerShareAdmin() {
	for _, m := range ShareMethods {
		s.admin.Handle(m, func(ctx context.Context, p json.RawMessage) (any, error) {
			var req ShareRequest
			if len(p) > 0 && string(p) != "null" {
				if err := json.Unmarshal(p, &req); err != nil {
					return nil, err
				}
			}
			return s.shares.op(ctx, m, req)
		})
	}
}

// setupShares exports the config file's shares as the file says (the
// file wins at start), the default share "export" on a store that has no
// share yet, and reads every share's options.
func (s *Server) setupShares(ctx context.Context) error {
	s.shares = newShareSet(s.FS, s.meta, &s.cfg)
	if _, err := s.cfg.FSShares(); err != nil { // checks them all first
		return err
	}
	in := s.cfg.Shares
	if len(in) == 0 && len(s.FS.Shares()) == 0 {
		in = []ShareConfig{{Name: "export"}}
	}
	for _, sh := range in {
		if _, err := s.shares.put(ctx, sh); err != nil {
			return err
		}
	}
	return s.shares.load(ctx)
}

// ShareOffline runs a share method on the stores of cfg when no server
// runs on them.
func ShareOffline(ctx context.Context, cfg Config, method string, req ShareRequest) (*ShareReply, error) {
	s := &Server{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	defer s.Close()
	if err := s.openStores(ctx); err != nil {
		return nil, err
	}
	var err error
	if s.FS, err = fs.New(s.meta, s.content, fs.Options{}); err != nil {
		return nil, fmt.Errorf("file system: %w", err)
	}
	set := newShareSet(s.FS, s.meta, &s.cfg)
	if err := set.load(ctx); err != nil {
		return nil, err
	}
	return set.op(ctx, method, req)
}
