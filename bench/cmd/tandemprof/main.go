// Command tandemprof is `tandem serve` with CPU profiling that can be
// switched on and off over HTTP, so that the side-by-side benchmark
// (bench/cmd/sidebyside -profile) can keep one profile per workload and
// show where Tandem spends its time where it is slower than a peer.
//
// It takes the serve flags the benchmark passes and one more, and answers
// on --pprof-addr:
//
//	GET /start?file=PATH   start a CPU profile into PATH
//	GET /stop              stop it and close PATH
//
// plus the usual /debug/pprof/ pages. It logs the address it listens on
// as `msg=listening service=pprof addr=...`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	rpprof "runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/tandemfs/tandem/internal/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "tandemprof:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	cfg := server.Defaults()
	fl := flag.NewFlagSet("tandemprof", flag.ContinueOnError)
	fl.StringVar(&cfg.Data, "data", cfg.Data, "data directory")
	fl.StringVar(&cfg.Listen, "listen", cfg.Listen, "address to listen on")
	fl.IntVar(&cfg.NFSPort, "nfs-port", cfg.NFSPort, "NFS and MOUNT port")
	fl.IntVar(&cfg.SMBPort, "smb-port", cfg.SMBPort, "SMB port (0: off)")
	fl.IntVar(&cfg.PortmapPort, "portmap-port", cfg.PortmapPort, "portmapper port (0: off)")
	fl.StringVar(&cfg.MetricsAddr, "metrics-addr", cfg.MetricsAddr, "metrics address (empty: off)")
	fl.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "log level")
	pprofAddr := fl.String("pprof-addr", "127.0.0.1:0", "profiling endpoint address")
	if err := fl.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	l, err := net.Listen("tcp", *pprofAddr)
	if err != nil {
		return err
	}
	p := &profiler{}
	mux := http.NewServeMux()
	mux.HandleFunc("/start", p.start)
	mux.HandleFunc("/stop", p.stop)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	go http.Serve(l, mux)
	log.Info("listening", "service", "pprof", "addr", l.Addr().String())
	// Where goroutines wait (locks, channels) says as much as where CPU
	// goes for a server bound by synchronous disk writes.
	runtime.SetBlockProfileRate(int(100 * time.Microsecond))
	runtime.SetMutexProfileFraction(10)

	srv, err := server.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	log.Info("ready")
	<-ctx.Done()
	p.finish()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

type profiler struct {
	mu sync.Mutex
	f  *os.File
}

func (p *profiler) start(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f != nil {
		http.Error(w, "a profile is already running", http.StatusConflict)
		return
	}
	f, err := os.Create(r.URL.Query().Get("file"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := rpprof.StartCPUProfile(f); err != nil {
		f.Close()
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	p.f = f
}

func (p *profiler) stop(w http.ResponseWriter, _ *http.Request) {
	if err := p.finish(); err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
	}
}

func (p *profiler) finish() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f == nil {
		return errors.New("no profile running")
	}
	rpprof.StopCPUProfile()
	err := p.f.Close()
	p.f = nil
	return err
}
