// Command sidebyside measures Tandem side by side with the file servers a
// user would otherwise run: Samba (smbd) for SMB and NFS-Ganesha (FSAL_VFS)
// for NFSv3. It starts all three on loopback ports, drives every workload
// through the same clients against each (two NFSv3 clients, libnfs and a Go
// one; two SMB clients, smbclient and a Go one), repeats everything, and
// writes the medians and Tandem's ratio to each peer as Markdown, JSON and a
// PNG chart.
//
// A ratio is only meaningful between two servers that answered the same
// client doing the same thing, so every row of the table is one workload
// through one client, and Tandem is compared with the peer that speaks that
// client's protocol (Ganesha for NFS, Samba for SMB). Rows Tandem cannot
// serve yet (its SMB front end or NLM while they are being written) are
// found by trying and shown as "not yet served"; they fill in by
// themselves once the server answers.
//
// bench/run.sh is the one command: it installs the peers from Debian,
// builds this program, Tandem and the libnfs client, and runs this inside a
// private network namespace (only a loopback interface) so that the peers'
// fixed ports, rpcbind on 111 among them, collide with nothing.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

type config struct {
	out          string // results directory
	readme       string // README whose table is replaced; empty: none
	work         string // scratch directory for data, configs and logs
	tandemBin    string
	tandemProf   string // bench/cmd/tandemprof binary, for -profile
	libnfsClient string
	reps         int
	files        int // overrides the number of files created; 0: the default
	seqMiB       int // overrides the sequential size; 0: the default
	servers      []string
	only         map[string]bool // workloads to run; empty: all
	netns        bool            // running in a private network namespace
	quick        bool            // small sizes, for trying the harness out
	keep         bool            // keep the work directory
	profile      bool            // capture Tandem CPU profiles per workload
	breakBench   string          // output of bench's BenchmarkCrossProtocolBreak; empty: none
	t0           int64           // when run.sh started (Unix seconds); 0: unknown
	commit       string
}

func main() {
	var cfg config
	var servers, only, render string
	flag.StringVar(&cfg.out, "out", "bench/results", "`directory` for results.md, results.json and results.png")
	flag.StringVar(&cfg.readme, "readme", "bench/README.md", "README whose results section is replaced (empty: leave it)")
	flag.StringVar(&cfg.work, "work", "", "scratch `directory` (default: a new one under $TMPDIR, removed at the end)")
	flag.StringVar(&cfg.tandemBin, "tandem", "", "tandem binary (required)")
	flag.StringVar(&cfg.tandemProf, "tandemprof", "", "tandemprof binary (bench/cmd/tandemprof), needed by -profile")
	flag.StringVar(&cfg.libnfsClient, "libnfsclient", "", "libnfsclient binary built from bench/libnfsclient (empty: skip that client)")
	flag.IntVar(&cfg.reps, "reps", 3, "repetitions of every measurement")
	flag.IntVar(&cfg.files, "files", 0, "files each create makes (0: the default size)")
	flag.IntVar(&cfg.seqMiB, "seq-mib", 0, "MiB of each sequential write and read (0: the default size)")
	flag.StringVar(&servers, "servers", "tandem,samba,ganesha,"+storesServer, "servers to start ("+storesServer+": Tandem on PostgreSQL and S3)")
	flag.StringVar(&only, "workloads", "", "comma-separated workload ids to run (default: all)")
	flag.BoolVar(&cfg.netns, "netns", false, "we run in a private network namespace: peers may bind the wildcard address")
	flag.BoolVar(&cfg.quick, "quick", false, "small sizes (a harness check, not a measurement)")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the work directory")
	flag.BoolVar(&cfg.profile, "profile", false, "serve Tandem with tandemprof and keep a CPU profile of each workload's first run in OUT/profiles (slows Tandem a little: for finding out why, not for the table)")
	flag.StringVar(&cfg.commit, "commit", "", "commit measured (default: git rev-parse HEAD)")
	flag.Int64Var(&cfg.t0, "t0", 0, "when the whole run (run.sh) started, in Unix `seconds`, for the report's total time")
	flag.StringVar(&cfg.breakBench, "break", "", "`file` with the output of go test -bench CrossProtocolBreak ./bench/, reported beside the table")
	flag.StringVar(&render, "render", "", "only write the Markdown, chart and README again from this `results.json`")
	flag.Parse()
	log.SetFlags(log.Ltime)
	log.SetPrefix("sidebyside: ")
	if render != "" {
		if err := rerender(&cfg, render); err != nil {
			log.Fatal(err)
		}
		return
	}
	if cfg.tandemBin == "" {
		log.Fatal("-tandem is required")
	}
	if cfg.profile && cfg.tandemProf == "" {
		log.Fatal("-profile needs -tandemprof")
	}
	cfg.servers = strings.Split(servers, ",")
	if only != "" {
		cfg.only = map[string]bool{}
		for _, w := range strings.Split(only, ",") {
			cfg.only[w] = true
		}
	}
	if err := run(&cfg); err != nil {
		log.Fatal(err)
	}
}

// removeWork removes the work directory, each server's tree in parallel:
// the three hold some 100,000 files, and unlinking is mostly waiting.
func removeWork(dir string) {
	ents, _ := os.ReadDir(dir)
	var wg sync.WaitGroup
	for _, e := range ents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}()
	}
	wg.Wait()
	os.RemoveAll(dir)
}

// rerender writes the outputs of an earlier run again, for when the
// rendering changed or the README was edited meanwhile.
func rerender(cfg *config, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return err
	}
	return writeReport(cfg, &rep)
}

func run(cfg *config) error {
	start := time.Now()
	if cfg.work == "" {
		d, err := os.MkdirTemp("", "tandem-sidebyside-")
		if err != nil {
			return err
		}
		cfg.work = d
	}
	// Samba runs as the bench account, which must get through to its share.
	if err := os.Chmod(cfg.work, 0o755); err != nil {
		return err
	}
	if !cfg.keep {
		defer removeWork(cfg.work)
	}
	var err error
	if cfg.tandemBin, err = filepath.Abs(cfg.tandemBin); err != nil {
		return err
	}

	procs := &procSet{}
	defer procs.stopAll()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sig
		log.Printf("%v: stopping every process started", s)
		procs.stopAll()
		if !cfg.keep {
			removeWork(cfg.work)
		}
		os.Exit(1)
	}()

	sz := fullSizes
	if cfg.quick {
		sz = quickSizes
	}
	if cfg.files > 0 {
		sz.Files = cfg.files
	}
	if cfg.seqMiB > 0 {
		sz.SeqBytes = int64(cfg.seqMiB) << 20
	}
	meta := collectMeta(cfg)
	meta.Sizes = sz
	log.Printf("commit %s, load average %s", meta.Commit, meta.LoadStart)

	in, err := prepareInputs(filepath.Join(cfg.work, "inputs"), sz)
	if err != nil {
		return err
	}

	var srvs []*server
	for _, name := range cfg.servers {
		var s *server
		switch name {
		case "tandem":
			s, err = startTandem(cfg, procs)
		case "samba":
			s, err = startSamba(cfg, procs)
		case "ganesha":
			s, err = startGanesha(cfg, procs)
		case storesServer:
			s, err = startTandemStores(cfg, procs)
		default:
			err = fmt.Errorf("unknown server %q", name)
		}
		if err != nil {
			return fmt.Errorf("starting %s: %w", name, err)
		}
		log.Printf("%s up: %s", name, s.describe())
		srvs = append(srvs, s)
	}

	b := &bench{cfg: cfg, sz: sz, in: in, procs: procs}
	var ceiling []float64
	for rep := 1; rep <= cfg.reps; rep++ {
		if mbps, err := iperf(cfg.work, procs); err != nil {
			log.Printf("iperf3: %v", err)
		} else {
			ceiling = append(ceiling, mbps)
			log.Printf("rep %d: loopback TCP ceiling %.0f MB/s", rep, mbps)
		}
		// Rotate the order of the servers so that a drift in the machine's
		// load does not always fall on the same one.
		for i := range srvs {
			s := srvs[(i+rep-1)%len(srvs)]
			b.runServer(s, rep)
		}
	}
	procs.stopAll()
	if cfg.profile {
		summarizeProfiles(filepath.Join(cfg.out, "profiles"), cfg.tandemProf)
	}

	meta.LoadEnd = loadAvg()
	meta.WallSeconds = time.Since(start).Seconds()
	if cfg.t0 > 0 {
		meta.TotalSeconds = float64(time.Now().Unix() - cfg.t0)
	}
	rep := buildReport(meta, srvs, b.runs, ceiling)
	if cfg.breakBench != "" {
		if rep.Break, err = readBreakBench(cfg.breakBench); err != nil {
			log.Printf("break latency: %v", err)
			rep.BreakErr = err.Error()
		}
	}
	if err := writeReport(cfg, rep); err != nil {
		return err
	}
	log.Printf("done in %s; results in %s", time.Since(start).Round(time.Second), cfg.out)
	return nil
}
