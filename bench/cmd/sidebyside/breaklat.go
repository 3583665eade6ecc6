package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// breakRow is one line of bench's BenchmarkCrossProtocolBreak, run by
// run.sh before the side-by-side measurements: an NFS request on a file
// an SMB client holds an RWH lease on, timed from the NFS call to its
// reply, the lease break and its acknowledgment included.
type breakRow struct {
	Op     string  `json:"op"` // write or read
	Rounds int     `json:"rounds"`
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
}

// Targets of the break latency on loopback.
const (
	breakP50Target = 10.0
	breakP99Target = 50.0
)

// readBreakBench parses `go test -bench CrossProtocolBreak` output, such as
//
//	BenchmarkCrossProtocolBreak/write-2  500  269814 ns/op  4.367 max-ms  0.2395 p50-ms  0.7062 p99-ms
func readBreakBench(path string) ([]breakRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rows []breakRow
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) < 2 || !strings.HasPrefix(fl[0], "BenchmarkCrossProtocolBreak/") {
			continue
		}
		op := strings.TrimPrefix(fl[0], "BenchmarkCrossProtocolBreak/")
		if i := strings.LastIndexByte(op, '-'); i > 0 {
			op = op[:i]
		}
		r := breakRow{Op: op}
		r.Rounds, _ = strconv.Atoi(fl[1])
		for i := 2; i+1 < len(fl); i += 2 {
			v, err := strconv.ParseFloat(fl[i], 64)
			if err != nil {
				continue
			}
			switch fl[i+1] {
			case "p50-ms":
				r.P50ms = v
			case "p99-ms":
				r.P99ms = v
			case "max-ms":
				r.MaxMs = v
			}
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("no BenchmarkCrossProtocolBreak results in %s", path)
	}
	return rows, nil
}

func breakTable(b *strings.Builder, rows []breakRow) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "\nCross-protocol break latency (`go test -bench CrossProtocolBreak ./bench/`, Tandem alone): an NFS request on a "+
		"file an SMB client holds a read-write-handle lease on, from the NFS call to its reply, the lease break and the SMB "+
		"client's immediate acknowledgment included. Target on loopback: p50 ≤ %.0f ms, p99 ≤ %.0f ms.\n\n", breakP50Target, breakP99Target)
	b.WriteString("| NFS request | lease after the break | rounds | p50 | p99 | max | within target |\n|---|---|---:|---:|---:|---:|---|\n")
	for _, r := range rows {
		to := "none"
		if r.Op == "read" {
			to = "RH"
		}
		ok := "yes"
		if r.P50ms > breakP50Target || r.P99ms > breakP99Target {
			ok = "**no**"
		}
		fmt.Fprintf(b, "| %s | %s | %d | %.2f ms | %.2f ms | %.2f ms | %s |\n", strings.ToUpper(r.Op), to, r.Rounds, r.P50ms, r.P99ms, r.MaxMs, ok)
	}
}
