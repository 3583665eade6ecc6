package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
)

type report struct {
	Meta    runMeta       `json:"meta"`
	Ceiling summary       `json:"tcp_ceiling_mb_s"`
	Servers []serverBrief `json:"servers"`
	Rows    []row         `json:"rows"`
	Runs    []runRecord   `json:"runs"`
}

type serverBrief struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Serves  string `json:"serves"`
}

// summary is the spread of a set of repetitions.
type summary struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
}

func summarize(v []float64) summary {
	if len(v) == 0 {
		return summary{}
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return summary{Median: med, Min: s[0], Max: s[len(s)-1], Runs: v}
}

// cell is one server's result on one row.
type cell struct {
	Server string  `json:"server"`
	Status string  `json:"status"`
	Value  summary `json:"value"`
	// CPUPerOp is the server's CPU time per CPUOp in microseconds, the
	// median over the repetitions.
	CPUPerOp float64 `json:"cpu_us_per_op"`
	Note     string  `json:"note,omitempty"`
}

func (c cell) ok() bool { return c.Status == statusOK }

// row is one workload through one client: Tandem and the peer of that
// client's protocol.
type row struct {
	Workload   string         `json:"workload"`
	Title      string         `json:"title"`
	Client     string         `json:"client"`
	Proto      string         `json:"proto"`
	Unit       string         `json:"unit"`
	CPUOp      string         `json:"cpu_op"`
	Durability string         `json:"durability"`
	Tandem     cell           `json:"tandem"`
	Peer       cell           `json:"peer"`
	Ratio      float64        `json:"ratio,omitempty"` // Tandem median / peer median
	Baseline   *baselineCheck `json:"baseline,omitempty"`
}

func buildCell(server, client, wl string, runs []runRecord, w workload) cell {
	c := cell{Server: server}
	var vals, cpus []float64
	var notServed, failed []string
	n := 0
	for _, r := range runs {
		if r.Server != server || r.Client != client || r.Workload != wl {
			continue
		}
		n++
		switch r.Status {
		case statusOK:
			vals = append(vals, r.Value)
			cpus = append(cpus, r.CPU/(r.Ops/w.CPUPer)*1e6)
		case statusNotServed:
			notServed = append(notServed, r.Err)
		default:
			failed = append(failed, r.Err)
		}
	}
	switch {
	case n == 0:
		c.Status = "not run"
	case len(notServed) > 0:
		c.Status, c.Note = statusNotServed, notServed[0]
	case len(vals) == 0:
		c.Status, c.Note = statusFailed, failed[0]
	default:
		c.Status = statusOK
		c.Value = summarize(vals)
		c.CPUPerOp = summarize(cpus).Median
		if len(failed) > 0 {
			c.Note = fmt.Sprintf("%d of %d runs failed: %s", len(failed), n, failed[0])
		}
	}
	return c
}

func buildReport(meta runMeta, srvs []*server, runs []runRecord, ceiling []float64, baselinePath string) *report {
	rep := &report{Meta: meta, Ceiling: summarize(ceiling), Runs: runs}
	for _, s := range srvs {
		rep.Servers = append(rep.Servers, serverBrief{Name: s.Name, Version: s.version, Serves: s.describe()})
	}
	base := loadBaseline(baselinePath)
	for _, w := range workloads {
		for _, c := range clients {
			if !clientDoes(c.Name, w.ID) {
				continue
			}
			r := row{Workload: w.ID, Title: w.Title, Client: c.Name, Proto: c.Proto, Unit: w.Unit, CPUOp: w.CPUOp,
				Durability: durability[c.Name][w.ID]}
			r.Tandem = buildCell("tandem", c.Name, w.ID, runs, w)
			r.Peer = buildCell(peerFor[c.Proto], c.Name, w.ID, runs, w)
			if r.Tandem.Status == "not run" && r.Peer.Status == "not run" {
				continue
			}
			if r.Tandem.ok() && r.Peer.ok() && r.Peer.Value.Median > 0 {
				r.Ratio = r.Tandem.Value.Median / r.Peer.Value.Median
			}
			if r.Peer.ok() {
				r.Baseline = base.check(r.Peer.Server, c.Name, w.ID, r.Peer.Value.Median)
			}
			rep.Rows = append(rep.Rows, r)
		}
	}
	return rep
}

func clientDoes(client, w string) bool {
	if slices.Contains(supported[client], w) {
		return true
	}
	for _, ds := range derived[client] {
		if slices.Contains(ds, w) {
			return true
		}
	}
	return false
}

// The peers' baseline: baseline-summary.tsv of ../shared/peers, medians
// of three runs per (server, tool, figure), taken with the same clients
// (or, for the Go ones, the same libraries) on a machine of this kind.

type baselineCheck struct {
	Tool      string  `json:"tool"`
	Figure    string  `json:"figure"`
	Median    float64 `json:"median"`
	Deviation float64 `json:"deviation"` // here / baseline - 1
	Within    bool    `json:"within_30pct"`
}

type baseline map[[3]string]float64 // (server, tool, figure) -> median

// baselineKeys maps our (client, workload) to the baseline's tool and
// figure names.
var baselineKeys = map[[2]string][2]string{
	{"smbclient", "seqwrite"}:   {"smbclient", "seqwrite"},
	{"smbclient", "seqread"}:    {"smbclient", "seqread"},
	{"smbclient", "create"}:     {"smbclient", "small-create4k"},
	{"smbclient", "list"}:       {"smbclient", "list(ls minus connect time)"},
	{"go-smb2", "seqwrite"}:     {"gobench/go-smb2", "seqwrite"},
	{"go-smb2", "seqread"}:      {"gobench/go-smb2", "seqread"},
	{"go-smb2", "create"}:       {"gobench/go-smb2", "small-create4k"},
	{"go-smb2", "list"}:         {"gobench/go-smb2", "list"},
	{"go-smb2", "stat"}:         {"gobench/go-smb2", "stat"},
	{"go-smb2", "lock"}:         {"gobench/go-smb2", "lock+unlock"},
	{"libnfs", "seqwrite"}:      {"libnfs-bench-v3", "seqwrite"},
	{"libnfs", "seqread"}:       {"libnfs-bench-v3", "seqread"},
	{"libnfs", "create"}:        {"libnfs-bench-v3", "small-create4k"},
	{"libnfs", "list"}:          {"libnfs-bench-v3", "list(readdir)"},
	{"libnfs", "stat"}:          {"libnfs-bench-v3", "stat(path)"},
	{"go-nfs", "seqwrite"}:      {"gobench/go-nfs-client", "seqwrite"},
	{"go-nfs", "seqread"}:       {"gobench/go-nfs-client", "seqread"},
	{"go-nfs", "create"}:        {"gobench/go-nfs-client", "small-create4k"},
	{"go-nfs", "list"}:          {"gobench/go-nfs-client", "list"},
	{"go-nfs", "stat"}:          {"gobench/go-nfs-client", "stat(LOOKUP)"},
	{"go-nfs", "lock"}:          {"gobench/go-nfs-client+NLM4", "lock+unlock(NLM4)"},
	{"go-nfs", "lock-anchored"}: {"gobench/go-nfs-client+NLM4-anchored", "lock+unlock(NLM4,anchored)"},
}

func loadBaseline(path string) baseline {
	b := baseline{}
	if path == "" {
		return b
	}
	f, err := os.Open(path)
	if err != nil {
		return b
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) < 4 || c[0] == "server" {
			continue
		}
		if v, err := strconv.ParseFloat(c[3], 64); err == nil {
			b[[3]string{c[0], c[1], c[2]}] = v
		}
	}
	return b
}

func (b baseline) check(server, client, w string, got float64) *baselineCheck {
	k, ok := baselineKeys[[2]string{client, w}]
	if !ok {
		return nil
	}
	med, ok := b[[3]string{server, k[0], k[1]}]
	if !ok || med == 0 {
		return nil
	}
	d := got/med - 1
	return &baselineCheck{Tool: k[0], Figure: k[1], Median: med, Deviation: d, Within: math.Abs(d) <= 0.30}
}

func writeReport(cfg *config, rep *report) error {
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfg.out, "results.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	png, err := renderChart(rep)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfg.out, "results.png"), png, 0o644); err != nil {
		return err
	}
	md := markdown(rep, "results.png")
	if err := os.WriteFile(filepath.Join(cfg.out, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	if cfg.readme == "" {
		return nil
	}
	rel, err := filepath.Rel(filepath.Dir(cfg.readme), filepath.Join(cfg.out, "results.png"))
	if err != nil {
		rel = filepath.Join(cfg.out, "results.png")
	}
	return updateReadme(cfg.readme, markdown(rep, filepath.ToSlash(rel)))
}

const (
	readmeBegin = "<!-- sidebyside results: begin (written by bench/cmd/sidebyside; do not edit by hand) -->"
	readmeEnd   = "<!-- sidebyside results: end -->"
)

// updateReadme replaces what is between the markers, or appends the
// markers and the results when there are none.
func updateReadme(path, body string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(old)
	block := readmeBegin + "\n\n" + body + "\n" + readmeEnd
	i, j := strings.Index(s, readmeBegin), strings.Index(s, readmeEnd)
	if i >= 0 && j > i {
		s = s[:i] + block + s[j+len(readmeEnd):]
	} else {
		s = strings.TrimRight(s, "\n") + "\n\n## Latest results\n\n" + block + "\n"
	}
	return os.WriteFile(path, []byte(s), 0o644)
}
