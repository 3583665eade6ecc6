package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tandemfs/tandem/test/pgtest"
	"github.com/tandemfs/tandem/test/s3test"
	"github.com/tandemfs/tandem/test/testserver"
)

// storesServer is Tandem with its metadata in PostgreSQL and its file
// contents in an S3 object store, measured against Tandem on its default
// stores (Pebble and the local disk) rather than against a peer: the rows
// say what the two backends cost.
const storesServer = "tandem-pgs3"

// storesWorkloads and storesClients are what the stores rows cover: the
// operations whose cost the backends change (a namespace change is a
// PostgreSQL transaction, data goes to S3 in blocks), through one NFS and
// one SMB client.
var (
	storesWorkloads = []string{"seqwrite", "seqread", "create", "stat"}
	storesClients   = []string{"libnfs", "go-smb2"}
)

const storesDB = "tandem"

// storesSizes are the stores rows' sizes: at most 128 MiB sequentially
// (32 of the S3 store's 4 MiB blocks: its pipeline of uploads is full after
// a few, and 1 GiB through S3 takes most of a minute per run) and 500
// files (each create is about ten PostgreSQL transactions and a PUT, 20 to
// 35 ms here). Rows report rates, so they compare with the default
// stores' rows at the full sizes.
func storesSizes(sz sizes) sizes {
	sz.SeqBytes = min(sz.SeqBytes, 128<<20)
	sz.Files = min(sz.Files, 500)
	return sz
}

// startTandemStores starts PostgreSQL 15 (test/pgtest: initdb in a
// temporary directory, run as an unprivileged user) and SeaweedFS
// (test/s3test, built once from the Go module proxy), both on this
// namespace's loopback, then `tandem serve` configured with
// [meta] backend = "postgres" and [content] backend = "s3". The CPU time of
// all three counts as the server's, and each one's share is recorded per
// run (with PostgreSQL's count of writing transactions) to say where the
// time goes.
func startTandemStores(cfg *config, procs *procSet) (*server, error) {
	data := filepath.Join(cfg.work, storesServer)
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	pg, err := pgtest.Start()
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	procs.add(&proc{name: "postgres", stop: func(time.Duration) { pg.Stop() }})
	weed, err := s3test.Start()
	if err != nil {
		return nil, fmt.Errorf("SeaweedFS: %w", err)
	}
	procs.add(&proc{name: "seaweedfs", stop: func(time.Duration) { weed.Stop() }})
	s3test.Env() // tandem inherits the S3 credentials
	if err := weed.Info().CreateBucket("tandem"); err != nil {
		return nil, fmt.Errorf("SeaweedFS bucket: %w", err)
	}
	dsn, err := pg.CreateDB(storesDB)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL database: %w", err)
	}
	conf := filepath.Join(data, "stores.toml")
	body := fmt.Sprintf("[meta]\nbackend = \"postgres\"\ndsn = %q\n\n[content]\nbackend = \"s3\"\nendpoint = %q\nbucket = \"tandem\"\nprefix = \"bench/\"\n",
		dsn, weed.Info().Endpoint)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return nil, err
	}
	pgPids, weedPids := childrenNamed("postgres"), childrenNamed("weed")
	if len(pgPids) == 0 || len(weedPids) == 0 {
		return nil, fmt.Errorf("cannot find the postgres (%v) and weed (%v) processes started", pgPids, weedPids)
	}

	s := &server{Name: storesServer, version: tandemVersion(cfg.tandemBin) + " on " + pgVersion(pg) + " and SeaweedFS " + s3test.Version}
	smbPort, err := freePort()
	if err != nil {
		return nil, err
	}
	s.SMB = &smbTarget{Host: "127.0.0.1", Port: smbPort, Share: shareName, User: smbUser, Password: smbPassword}
	if out, err := runCmd(60*time.Second, []byte(smbPassword+"\n"), cfg.tandemBin, "user", "add", smbUser, "--password-stdin", "--config", conf); err != nil {
		return nil, fmt.Errorf("tandem user add --config: %s", firstLine(out, err))
	}
	p, err := testserver.Start(cfg.tandemBin, data, "--smb-port", strconv.Itoa(smbPort), "--config", conf)
	if err != nil {
		return nil, err
	}
	procs.add(&proc{name: storesServer, stop: func(timeout time.Duration) {
		if err := p.Stop(timeout); err != nil {
			fmt.Fprintf(os.Stderr, "%s stop: %v\n", storesServer, err)
		}
	}})
	if !strings.Contains(p.Log(), "meta=postgres content=s3") {
		return nil, fmt.Errorf("tandem serve did not open PostgreSQL and S3 as configured; log:\n%s", p.Log())
	}
	s.NFS = &nfsTarget{Host: "127.0.0.1", NFSPort: p.Port, MountPort: p.Port, NLMPort: p.Port, Export: "/export"}
	if err := probeSMB(s.SMB); err != nil {
		return nil, err
	}
	s.cpuRoots = append(append([]int{p.Pid()}, pgPids...), weedPids...)
	s.parts = []cpuPart{{"tandem", []int{p.Pid()}}, {"postgres", pgPids}, {"seaweedfs", weedPids}}
	s.counters = func() map[string]float64 { return pgCounters(pg) }
	s.only = map[string]bool{}
	for _, w := range storesWorkloads {
		s.only[w] = true
	}
	s.sizes = storesSizes
	s.clients = map[string]bool{}
	for _, c := range storesClients {
		s.clients[c] = true
	}
	return s, nil
}

// childrenNamed lists this process's children whose command is name.
func childrenNamed(name string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		st, err := parseProcStat(b)
		if err != nil || st.ppid != os.Getpid() {
			continue
		}
		if comm, _ := os.ReadFile("/proc/" + e.Name() + "/comm"); strings.TrimSpace(string(comm)) == name {
			out = append(out, pid)
		}
	}
	return out
}

func pgVersion(pg *pgtest.Server) string {
	out, err := pgQuery(pg, "SHOW server_version")
	f := strings.Fields(out)
	if err != nil || len(f) == 0 {
		return "PostgreSQL"
	}
	return "PostgreSQL " + f[0]
}

// pgCounters reads how many transaction ids PostgreSQL has handed out:
// one per transaction that writes (a read-only one gets none), counted at
// once, where pg_stat_database's counters reach the view up to ten seconds
// after a busy backend goes idle.
func pgCounters(pg *pgtest.Server) map[string]float64 {
	out, err := pgQuery(pg, "SELECT pg_snapshot_xmax(pg_current_snapshot())::text")
	if err != nil {
		return nil
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(out), 64)
	if err != nil {
		return nil
	}
	return map[string]float64{"pg_xids": v}
}

// pgQuery runs one query in the postgres database (not Tandem's, so that it
// does not count itself) and returns the first row's columns, space
// separated.
func pgQuery(pg *pgtest.Server, q string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pg.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, q)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	if !rows.Next() {
		return "", fmt.Errorf("no row: %v", rows.Err())
	}
	vals, err := rows.Values()
	if err != nil {
		return "", err
	}
	var parts []string
	for _, v := range vals {
		parts = append(parts, fmt.Sprint(v))
	}
	return strings.Join(parts, " "), nil
}
