package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tandemfs/tandem/internal/server"
)

func serve(args []string) error {
	cfg := server.Defaults()
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	fl.Usage = func() {
		fmt.Fprint(fl.Output(), `Usage: tandem serve [flags]

Runs the server in the foreground; logs go to stderr. SIGTERM or SIGINT
shuts it down cleanly (calls in progress finish, the stores are synced).

Every flag but --config is also a key of the TOML config file (dashes
become underscores: --nfs-port is nfs_port); a flag given on the command line
wins over the file. Shares are managed with "tandem share add|set|del" on the
running server; the file may list some as [[share]] tables, which are set as
written at every start:

  [[share]]
  name      = "export"   # NFS path /export
  read_only = false
  squash    = "none"     # none, root (root_squash) or all (all_squash)
  anon_uid  = 65534      # who squashed callers become
  anon_gid  = 65534
  clients   = []         # allowed networks, e.g. ["10.0.0.0/8"]; empty: all

Flags:
`)
		fl.PrintDefaults()
	}
	configPath := fl.String("config", "", "TOML config `file` (optional)")
	data := fl.String("data", cfg.Data, "data `directory`: metadata store and file contents")
	listen := fl.String("listen", cfg.Listen, "`address` to listen on (empty: all addresses)")
	nfsPort := fl.Int("nfs-port", cfg.NFSPort, "TCP/UDP `port` for NFSv3 and MOUNT")
	smbPort := fl.Int("smb-port", cfg.SMBPort, "TCP `port` for SMB2/3 (0: off)")
	pmPort := fl.Int("portmap-port", cfg.PortmapPort, "portmapper/rpcbind `port` (0: off; if it cannot be bound the server carries on)")
	metrics := fl.String("metrics-addr", cfg.MetricsAddr, "`address` of the Prometheus /metrics endpoint (empty: off)")
	logLevel := fl.String("log-level", cfg.LogLevel, "debug, info, warn or error")
	grace := fl.Duration("grace-period", time.Duration(cfg.GracePeriod),
		"after a restart, how long clients have to reclaim the locks, leases and durable handles they held\n(new locks wait meanwhile; ends early once all is reclaimed)")
	breakTimeout := fl.Duration("break-timeout", time.Duration(cfg.BreakTimeout),
		"how long an SMB lease or oplock break waits for the client's acknowledgment before it is revoked")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fl.Arg(0))
	}
	if *configPath != "" {
		if err := cfg.LoadFile(*configPath); err != nil {
			return err
		}
	}
	// Flags given explicitly override the file.
	fl.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "data":
			cfg.Data = *data
		case "listen":
			cfg.Listen = *listen
		case "nfs-port":
			cfg.NFSPort = *nfsPort
		case "smb-port":
			cfg.SMBPort = *smbPort
		case "portmap-port":
			cfg.PortmapPort = *pmPort
		case "metrics-addr":
			cfg.MetricsAddr = *metrics
		case "log-level":
			cfg.LogLevel = *logLevel
		case "grace-period":
			cfg.GracePeriod = server.Duration(*grace)
		case "break-timeout":
			cfg.BreakTimeout = server.Duration(*breakTimeout)
		}
	})
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("log level %q: %w", cfg.LogLevel, err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	log.Info("tandem starting", "version", version, "pid", os.Getpid())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	srv, err := server.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	log.Info("ready")
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped cleanly")
	return nil
}
