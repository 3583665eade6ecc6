package server

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
)

// Config is everything `tandem serve` can be told. Each key of the config
// file has a flag of the same name with dashes (nfs_port -> --nfs-port).
type Config struct {
	Data        string `toml:"data"`
	Listen      string `toml:"listen"`
	NFSPort     int    `toml:"nfs_port"`
	SMBPort     int    `toml:"smb_port"`
	PortmapPort int    `toml:"portmap_port"`
	MetricsAddr string `toml:"metrics_addr"`
	LogLevel    string `toml:"log_level"`
	// GracePeriod is how long, after a start that found lock state of an
	// earlier run, clients have to reclaim it before it is released; it
	// ends early once everything is reclaimed.
	GracePeriod Duration `toml:"grace_period"`
	// BreakTimeout is how long a lease or oplock break waits for the SMB
	// client's acknowledgment before the grant is revoked.
	BreakTimeout Duration      `toml:"break_timeout"`
	Shares       []ShareConfig `toml:"share"`
	// Meta and Content choose the stores (config file only: [meta] and
	// [content] tables); the defaults keep both in Data.
	Meta    MetaConfig    `toml:"meta"`
	Content ContentConfig `toml:"content"`
	// Limits is the [limits] table (limits.go).
	Limits LimitsConfig `toml:"limits"`
}

// MetaConfig is the [meta] table: where metadata lives.
type MetaConfig struct {
	Backend string `toml:"backend"` // "pebble" (default: in Data) or "postgres"
	DSN     string `toml:"dsn"`     // postgres: a libpq connection string or postgres:// URL
}

// ContentConfig is the [content] table: where file contents live.
// Credentials for S3 come from the usual AWS environment variables
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE), never from the
// file.
type ContentConfig struct {
	Backend    string `toml:"backend"`     // "localfs" (default: in Data) or "s3"
	Endpoint   string `toml:"endpoint"`    // s3: e.g. "http://10.0.0.5:8333"; empty: AWS
	Bucket     string `toml:"bucket"`      // s3: an existing bucket
	Region     string `toml:"region"`      // s3: default us-east-1
	Prefix     string `toml:"prefix"`      // s3: put before every object key; default "tandem/"
	BlockSize  int    `toml:"block_size"`  // s3: bytes per object, default 4 MiB
	BufferSize int64  `toml:"buffer_size"` // s3: write-back buffer bound in bytes, default 256 MiB
}

// checkStores validates the [meta] and [content] tables.
func (c *Config) checkStores() error {
	switch c.Meta.Backend {
	case "", "pebble":
		if c.Meta.DSN != "" {
			return fmt.Errorf("[meta] dsn is for backend \"postgres\"")
		}
	case "postgres":
		if c.Meta.DSN == "" {
			return fmt.Errorf("[meta] backend \"postgres\" needs dsn")
		}
	default:
		return fmt.Errorf("[meta] backend must be \"pebble\" or \"postgres\", not %q", c.Meta.Backend)
	}
	switch c.Content.Backend {
	case "", "localfs":
		if c.Content != (ContentConfig{Backend: c.Content.Backend}) {
			return fmt.Errorf("[content] endpoint, bucket and the other keys are for backend \"s3\"")
		}
	case "s3":
		if c.Content.Bucket == "" {
			return fmt.Errorf("[content] backend \"s3\" needs bucket")
		}
	default:
		return fmt.Errorf("[content] backend must be \"localfs\" or \"s3\", not %q", c.Content.Backend)
	}
	return nil
}

// Duration is a time.Duration written as Go spells one ("90s", "1m30s")
// in the config file.
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	if v < 0 {
		return fmt.Errorf("negative duration %s", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// ShareConfig is one [[share]] table of the config file, and one share as
// `tandem share` shows and sets it.
type ShareConfig struct {
	Name     string   `toml:"name" json:"name"`
	ReadOnly bool     `toml:"read_only" json:"read_only"`
	Squash   string   `toml:"squash" json:"squash"` // none, root or all
	AnonUID  *uint32  `toml:"anon_uid" json:"anon_uid,omitempty"`
	AnonGID  *uint32  `toml:"anon_gid" json:"anon_gid,omitempty"`
	Clients  []string `toml:"clients" json:"clients"` // CIDR prefixes or addresses allowed; empty: all
	Encrypt  bool     `toml:"encrypt" json:"encrypt"` // SMB: require encryption (SMB 3.x) on this share
	Guest    bool     `toml:"guest" json:"guest"`     // SMB: allow guest sessions on this share
	Comment  string   `toml:"comment" json:"comment"` // SMB: shown by share listings
	// Locking is how the share's locks and share modes bind the other
	// protocol: "unified" (the default) or "unix" (see lock.Locking).
	Locking string `toml:"locking" json:"locking"`
	// Async answers namespace changes before they are on disk (see
	// fs.ShareConfig.Async).
	Async bool `toml:"async" json:"async,omitempty"`
}

// locking is the share's lock.Locking.
func (s ShareConfig) locking() (lock.Locking, error) {
	if s.Locking == "" {
		return lock.Unified, nil
	}
	return lock.ParseLocking(s.Locking)
}

// Defaults returns the embedded defaults: everything in ./tandem-data, one
// share named "export", NFS on 12049, SMB on 12445, the portmapper on 111.
func Defaults() Config {
	return Config{
		Data:         "./tandem-data",
		Listen:       "",
		NFSPort:      12049,
		SMBPort:      12445,
		PortmapPort:  111,
		MetricsAddr:  "127.0.0.1:12080",
		LogLevel:     "info",
		GracePeriod:  Duration(90 * time.Second),
		BreakTimeout: Duration(35 * time.Second),
	}
}

// LoadFile reads a TOML config file over c. Unknown keys are an error so
// that a typo does not silently fall back to a default.
func (c *Config) LoadFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	md, err := toml.Decode(string(b), c)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	if un := md.Undecoded(); len(un) > 0 {
		keys := make([]string, len(un))
		for i, k := range un {
			keys[i] = k.String()
		}
		return fmt.Errorf("config %s: unknown keys: %s", path, strings.Join(keys, ", "))
	}
	return nil
}

// FirstShare names the first configured share, the one the startup log
// uses in its example mount commands.
func (c *Config) FirstShare() string {
	if len(c.Shares) == 0 {
		return "export"
	}
	return c.Shares[0].Name
}

// FSShares converts the configured shares, adding the default "export"
// share when none is configured.
func (c *Config) FSShares() ([]fs.ShareConfig, error) {
	in := c.Shares
	if len(in) == 0 {
		in = []ShareConfig{{Name: "export"}}
	}
	out := make([]fs.ShareConfig, 0, len(in))
	seen := map[string]bool{}
	for _, s := range in {
		if seen[s.Name] {
			return nil, fmt.Errorf("share %q defined twice", s.Name)
		}
		seen[s.Name] = true
		fc, err := s.fsConfig()
		if err != nil {
			return nil, err
		}
		out = append(out, fc)
	}
	return out, nil
}

// checkShareName refuses names no protocol can carry.
func checkShareName(name string) error {
	if name == "" || strings.ContainsAny(name, "/\\\x00") || len(name) > 80 {
		return fmt.Errorf("share name %q: must be 1-80 characters without slashes", name)
	}
	return nil
}

// fsConfig checks s and converts the part of it the file system keeps.
func (s ShareConfig) fsConfig() (fs.ShareConfig, error) {
	if err := checkShareName(s.Name); err != nil {
		return fs.ShareConfig{}, err
	}
	fc := fs.ShareConfig{Name: s.Name, ReadOnly: s.ReadOnly, Async: s.Async, AnonUID: 65534, AnonGID: 65534}
	switch s.Squash {
	case "", "none":
		fc.Squash = fs.NoSquash
	case "root":
		fc.Squash = fs.RootSquash
	case "all":
		fc.Squash = fs.AllSquash
	default:
		return fc, fmt.Errorf("share %q: squash must be none, root or all, not %q", s.Name, s.Squash)
	}
	if _, err := s.locking(); err != nil {
		return fc, fmt.Errorf("share %q: %w", s.Name, err)
	}
	if s.AnonUID != nil {
		fc.AnonUID = *s.AnonUID
	}
	if s.AnonGID != nil {
		fc.AnonGID = *s.AnonGID
	}
	for _, cl := range s.Clients {
		p, err := parsePrefix(cl)
		if err != nil {
			return fc, fmt.Errorf("share %q: clients: %w", s.Name, err)
		}
		fc.Clients = append(fc.Clients, p)
	}
	return fc, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
