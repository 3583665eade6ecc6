package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tandemfs/tandem/internal/admin"
	"github.com/tandemfs/tandem/internal/server"
)

const shareUsage = `Usage:
  tandem share add NAME [options] [--data D | --config F]
  tandem share set NAME [options] [--data D | --config F]
  tandem share del NAME [--data D | --config F]
  tandem share show NAME [--json] [--data D | --config F]
  tandem share list [--json] [--data D | --config F]

Options (add: unset ones take their default; set: only those given change):
  --read-only[=false]     refuse every change, over both protocols
  --squash none|root|all  NFS: map root (or everyone) to the anonymous ids
  --anon-uid N --anon-gid N   the ids squashed callers and guests get (65534)
  --clients LIST          comma-separated networks or addresses allowed to
                          mount or connect ("" : all)
  --encrypt[=false]       SMB: require SMB 3.x encryption
  --guest[=false]         SMB: allow guest sessions
  --comment TEXT          SMB: shown by share listings
  --locking unified|unix  how each protocol's locks bind the other's clients

A share is served at NFS path /NAME and SMB share NAME. Changes take effect
at once: for new mounts and tree connects, and read-only, squash and clients
for every request. "del" stops serving the share (clients using it see
stale handles) but keeps its files: "add" of the same name serves them again.

The command talks to the server running on the data directory; when none
runs it edits the metadata store itself. Shares in the server's config file
are set again as the file says at every start: the file wins over "set".
`

func share(args []string) error {
	if len(args) < 1 {
		fmt.Fprint(os.Stderr, shareUsage)
		return errors.New("share: missing subcommand")
	}
	sub := args[0]
	fl := flag.NewFlagSet("share "+sub, flag.ContinueOnError)
	fl.Usage = func() { fmt.Fprint(fl.Output(), shareUsage) }
	data := fl.String("data", server.Defaults().Data, "data `directory`")
	config := fl.String("config", "", "the server's TOML config `file`")
	asJSON := fl.Bool("json", false, "print as JSON")
	var req server.ShareRequest
	readOnly := fl.Bool("read-only", false, "")
	encrypt := fl.Bool("encrypt", false, "")
	guest := fl.Bool("guest", false, "")
	squash := fl.String("squash", "", "")
	anonUID := fl.Uint("anon-uid", 0, "")
	anonGID := fl.Uint("anon-gid", 0, "")
	clients := fl.String("clients", "", "")
	comment := fl.String("comment", "", "")
	locking := fl.String("locking", "", "")
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
	switch sub {
	case "add", "set", "del", "show":
		if len(names) != 1 {
			return fmt.Errorf("share %s: exactly one NAME, got %d", sub, len(names))
		}
		req.Name = names[0]
	case "list":
		if len(names) != 0 {
			return errors.New("share list: no NAME expected")
		}
	default:
		fmt.Fprint(os.Stderr, shareUsage)
		return fmt.Errorf("share: unknown subcommand %q", sub)
	}
	var badFlag error
	fl.Visit(func(f *flag.Flag) {
		if (sub != "add" && sub != "set") && !strings.Contains(" data config json ", " "+f.Name+" ") {
			badFlag = fmt.Errorf("share %s: --%s is for add and set", sub, f.Name)
		}
		switch f.Name {
		case "read-only":
			req.ReadOnly = readOnly
		case "encrypt":
			req.Encrypt = encrypt
		case "guest":
			req.Guest = guest
		case "squash":
			req.Squash = squash
		case "anon-uid":
			v := uint32(*anonUID)
			req.AnonUID = &v
		case "anon-gid":
			v := uint32(*anonGID)
			req.AnonGID = &v
		case "clients":
			list := []string{}
			for _, c := range strings.Split(*clients, ",") {
				if c = strings.TrimSpace(c); c != "" {
					list = append(list, c)
				}
			}
			req.Clients = &list
		case "comment":
			req.Comment = comment
		case "locking":
			req.Locking = locking
		}
	})
	if badFlag != nil {
		return badFlag
	}

	cfg, err := offlineConfig(fl, *config, *data)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	method := "share." + sub
	var out server.ShareReply
	err = admin.Call(ctx, cfg.Data, method, req, &out)
	if errors.Is(err, admin.ErrNoServer) {
		if cfg.Meta.Backend == "" || cfg.Meta.Backend == "pebble" {
			if _, serr := os.Stat(filepath.Join(cfg.Data, "meta")); serr != nil && sub != "add" {
				return fmt.Errorf("no Tandem data in %s", cfg.Data)
			}
			if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
				return err
			}
		}
		var r *server.ShareReply
		r, err = server.ShareOffline(ctx, cfg, method, req)
		if r != nil {
			out = *r
		}
	}
	if err != nil {
		return err
	}
	if out.Warning != "" {
		fmt.Fprintln(os.Stderr, "tandem: warning:", out.Warning)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if out.Shares == nil {
			out.Shares = []server.ShareInfo{}
		}
		if sub == "show" && len(out.Shares) == 1 {
			return enc.Encode(out.Shares[0])
		}
		return enc.Encode(out.Shares)
	}
	switch sub {
	case "add", "set":
		verb := map[string]string{"add": "added", "set": "changed"}[sub]
		fmt.Printf("%s share %s (NFS path /%s)\n", verb, req.Name, req.Name)
	case "del":
		fmt.Printf("deleted share %s (its files are kept; adding the name again serves them)\n", req.Name)
	case "show":
		sh := out.Shares[0]
		fmt.Printf("name       %s\nnfs path   /%s\nread_only  %t\nsquash     %s\nanon       %s\nclients    %s\nencrypt    %t\nguest      %t\ncomment    %s\nlocking    %s\nin config  %t\n",
			sh.Name, sh.Name, sh.ReadOnly, sh.Squash, anonText(sh.ShareConfig), clientsText(sh.Clients),
			sh.Encrypt, sh.Guest, sh.Comment, sh.Locking, sh.InConfig)
	case "list":
		tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tRO\tSQUASH\tANON\tCLIENTS\tENCRYPT\tGUEST\tLOCKING\tSOURCE")
		for _, sh := range out.Shares {
			src := "store"
			if sh.InConfig {
				src = "config"
			}
			fmt.Fprintf(tw, "%s\t%t\t%s\t%s\t%s\t%t\t%t\t%s\t%s\n", sh.Name, sh.ReadOnly, sh.Squash,
				anonText(sh.ShareConfig), clientsText(sh.Clients), sh.Encrypt, sh.Guest, sh.Locking, src)
		}
		return tw.Flush()
	}
	return nil
}

func anonText(c server.ShareConfig) string {
	id := func(p *uint32) string {
		if p == nil {
			return "65534"
		}
		return strconv.FormatUint(uint64(*p), 10)
	}
	return id(c.AnonUID) + ":" + id(c.AnonGID)
}

func clientsText(cs []string) string {
	if len(cs) == 0 {
		return "all"
	}
	return strings.Join(cs, ",")
}
