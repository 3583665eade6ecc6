package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

type report struct {
	Meta    runMeta       `json:"meta"`
	Ceiling summary       `json:"tcp_ceiling_mb_s"`
	Servers []serverBrief `json:"servers"`
	Rows    []row         `json:"rows"`
	Runs    []runRecord   `json:"runs"`
	Break   []breakRow    `json:"break_latency,omitempty"`
	// BreakErr says why there are no break latency rows when some were
	// asked for.
	BreakErr string `json:"break_latency_error,omitempty"`
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
	Workload   string  `json:"workload"`
	Title      string  `json:"title"`
	Client     string  `json:"client"`
	Proto      string  `json:"proto"`
	Unit       string  `json:"unit"`
	CPUOp      string  `json:"cpu_op"`
	Durability string  `json:"durability"`
	Tandem     cell    `json:"tandem"`
	Peer       cell    `json:"peer"`
	Ratio      float64 `json:"ratio,omitempty"` // Tandem median / peer median
	// Stores marks a row of Tandem on PostgreSQL + S3 (in Tandem's cell)
	// against Tandem on its default stores (in Peer's).
	Stores bool `json:"stores,omitempty"`
	// Detail is the median per operation (per CPUOp) of each key of the
	// runs' Detail, for Tandem's cell.
	Detail map[string]float64 `json:"detail,omitempty"`
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

func buildReport(meta runMeta, srvs []*server, runs []runRecord, ceiling []float64) *report {
	rep := &report{Meta: meta, Ceiling: summarize(ceiling), Runs: runs}
	for _, s := range srvs {
		rep.Servers = append(rep.Servers, serverBrief{Name: s.Name, Version: s.version, Serves: s.describe()})
	}
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
			rep.Rows = append(rep.Rows, r)
		}
	}
	for _, w := range workloads {
		for _, c := range clients {
			if !slices.Contains(storesWorkloads, w.ID) || !slices.Contains(storesClients, c.Name) || !clientDoes(c.Name, w.ID) {
				continue
			}
			r := row{Workload: w.ID, Title: w.Title, Client: c.Name, Proto: c.Proto, Unit: w.Unit, CPUOp: w.CPUOp,
				Durability: durability[c.Name][w.ID], Stores: true}
			r.Tandem = buildCell(storesServer, c.Name, w.ID, runs, w)
			if r.Tandem.Status == "not run" {
				continue
			}
			r.Peer = buildCell("tandem", c.Name, w.ID, runs, w)
			if r.Tandem.ok() && r.Peer.ok() && r.Peer.Value.Median > 0 {
				r.Ratio = r.Tandem.Value.Median / r.Peer.Value.Median
			}
			r.Detail = detailPerOp(storesServer, c.Name, w, runs)
			rep.Rows = append(rep.Rows, r)
		}
	}
	return rep
}

// detailPerOp is, for each key of the runs' Detail, the median over the
// successful runs of its value per CPUPer operations.
func detailPerOp(server, client string, w workload, runs []runRecord) map[string]float64 {
	per := map[string][]float64{}
	for _, r := range runs {
		if r.Server != server || r.Client != client || r.Workload != w.ID || r.Status != statusOK || r.Ops == 0 {
			continue
		}
		for k, v := range r.Detail {
			per[k] = append(per[k], v/(r.Ops/w.CPUPer))
		}
	}
	if len(per) == 0 {
		return nil
	}
	out := map[string]float64{}
	for k, v := range per {
		out[k] = summarize(v).Median
	}
	return out
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
