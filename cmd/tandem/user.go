package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tandemfs/tandem/internal/admin"
	"github.com/tandemfs/tandem/internal/identity"
	"github.com/tandemfs/tandem/internal/server"
)

const userUsage = `Usage:
  tandem user add NAME --password-stdin [--uid N --gid N] [--data D | --config F]
  tandem user passwd NAME --password-stdin [--data D | --config F]
  tandem user del NAME [--data D | --config F]
  tandem user list [--json] [--data D | --config F]

Users log on over SMB with NAME and the password; their uid and gid are who
they are on the file system (the same numbers NFS clients use). Without
--uid the lowest uid >= 1000 that no other Tandem user has is taken, with a
gid of the same number.

The command talks to the server running on the data directory; when none
runs it edits the metadata store itself: the one in the data directory, or
the one the [meta] table of the server's config file names (--config, which
also gives the data directory).
`

func user(args []string) error {
	if len(args) < 1 {
		fmt.Fprint(os.Stderr, userUsage)
		return errors.New("user: missing subcommand")
	}
	sub := args[0]
	fl := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fl.Usage = func() { fmt.Fprint(fl.Output(), userUsage) }
	data := fl.String("data", server.Defaults().Data, "data `directory`")
	config := fl.String("config", "", "the server's TOML config `file` (data directory and metadata store)")
	pwStdin := fl.Bool("password-stdin", false, "read the password from the first line of standard input")
	uid := fl.Int("uid", -1, "numeric user id (default: next free >= 1000)")
	gid := fl.Int("gid", -1, "numeric group id (default: the uid)")
	asJSON := fl.Bool("json", false, "list: print as JSON")
	// Accept flags before and after NAME.
	rest := args[1:]
	var names []string
	for len(rest) > 0 {
		if err := fl.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
		rest = fl.Args()
		if len(rest) > 0 {
			names = append(names, rest[0])
			rest = rest[1:]
		}
	}
	req := server.UserRequest{}
	method := "user." + sub
	switch sub {
	case "add", "passwd", "del":
		if len(names) != 1 {
			return fmt.Errorf("user %s: exactly one NAME, got %d", sub, len(names))
		}
		req.Name = names[0]
	case "list":
		if len(names) != 0 {
			return errors.New("user list: no NAME expected")
		}
	default:
		fmt.Fprint(os.Stderr, userUsage)
		return fmt.Errorf("user: unknown subcommand %q", sub)
	}
	if sub == "add" || sub == "passwd" {
		if !*pwStdin {
			return fmt.Errorf("user %s: --password-stdin is required (the password is never taken from the command line)", sub)
		}
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("reading password from stdin: %w", err)
		}
		req.Password = strings.TrimRight(line, "\r\n")
	}
	if sub == "add" {
		switch {
		case *uid < 0 && *gid < 0:
			req.AutoID = true
		case *uid < 0:
			return errors.New("user add: --gid needs --uid")
		default:
			req.UID = uint32(*uid)
			req.GID = uint32(*uid)
			if *gid >= 0 {
				req.GID = uint32(*gid)
			}
		}
	}

	cfg, err := offlineConfig(fl, *config, *data)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []server.UserInfo
	err = admin.Call(ctx, cfg.Data, method, req, &out)
	if errors.Is(err, admin.ErrNoServer) {
		out, err = userOffline(ctx, &cfg, method, req)
	}
	if err != nil {
		return err
	}
	switch sub {
	case "add":
		fmt.Printf("added user %s (uid %d, gid %d)\n", out[0].Name, out[0].UID, out[0].GID)
	case "passwd":
		fmt.Printf("password of %s changed\n", req.Name)
	case "del":
		fmt.Printf("deleted user %s\n", req.Name)
	case "list":
		if *asJSON {
			if out == nil {
				out = []server.UserInfo{}
			}
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		}
		fmt.Printf("%-20s %8s %8s\n", "NAME", "UID", "GID")
		for _, u := range out {
			fmt.Printf("%-20s %8d %8d\n", u.Name, u.UID, u.GID)
		}
	}
	return nil
}

// userOffline edits the metadata store directly when no server runs on it.
func userOffline(ctx context.Context, cfg *server.Config, method string, req server.UserRequest) ([]server.UserInfo, error) {
	if cfg.Meta.Backend == "" || cfg.Meta.Backend == "pebble" {
		metaDir := filepath.Join(cfg.Data, "meta")
		if _, err := os.Stat(metaDir); err != nil && method != "user.add" {
			return nil, fmt.Errorf("no Tandem data in %s", cfg.Data)
		}
		if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
			return nil, err
		}
	}
	st, err := server.OpenMeta(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w (is a server starting on it?)", err)
	}
	defer st.Close()
	return server.UserOp(ctx, identity.New(st), method, req)
}

// offlineConfig is the configuration an administration command works with:
// the defaults, the --config file if one is named, and --data if it was
// given (it wins over the file's), so that the command finds the running
// server's socket, or the stores to edit when none runs.
func offlineConfig(fl *flag.FlagSet, config, data string) (server.Config, error) {
	cfg := server.Defaults()
	cfg.Data = defaultData()
	if config != "" {
		if err := cfg.LoadFile(config); err != nil {
			return cfg, err
		}
	}
	fl.Visit(func(f *flag.Flag) {
		if f.Name == "data" {
			cfg.Data = data
		}
	})
	return cfg, nil
}
