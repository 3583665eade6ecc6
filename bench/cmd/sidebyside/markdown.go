package main

import (
	"fmt"
	"math"
	"strings"
)

// markdown renders the report; chart is the PNG's path relative to where
// the Markdown will live.
func markdown(rep *report, chart string) string {
	var b strings.Builder
	m := rep.Meta
	dirty := ""
	if m.Dirty {
		dirty = " (with uncommitted changes in the working tree)"
	}
	fmt.Fprintf(&b, "Measured at commit `%s`%s on %s.\n\n", m.Commit, dirty, m.Date)
	fmt.Fprintf(&b, "- Machine: %s, Linux %s, %s.\n", m.Host, m.Kernel, m.GoVersion)
	fmt.Fprintf(&b, "- Load average (1, 5, 15 min): %s at the start, %s at the end. "+
		"Other work shares this machine; a load above the core count means the numbers are noisy.\n", m.LoadStart, m.LoadEnd)
	fmt.Fprintf(&b, "- %d repetition(s) of everything, %s wall time for the side-by-side measuring", m.Reps, fmtDuration(m.WallSeconds))
	if m.TotalSeconds > 0 {
		fmt.Fprintf(&b, ", %s for all of `bench/run.sh` up to this report (installs, builds, break latency included)", fmtDuration(m.TotalSeconds))
	}
	b.WriteString(".\n")
	z := m.Sizes
	fmt.Fprintf(&b, "- Sizes: sequential %s, %s random reads and %s random writes of 4 KiB, %s files, %s mkdir/rename/rmdir rounds, "+
		"%s NLM and %s SMB/anchored lock pairs", fmtBytes(z.SeqBytes), fmtNum(float64(z.RandReads)), fmtNum(float64(z.RandWrites)),
		fmtNum(float64(z.Files)), fmtNum(float64(z.MetaRounds)), fmtNum(float64(z.NLMPairs)), fmtNum(float64(z.LockPairs)))
	if hasStores(rep) {
		st := storesSizes(z)
		fmt.Fprintf(&b, "; on PostgreSQL + S3 sequential %s and at most %s files", fmtBytes(st.SeqBytes), fmtNum(float64(st.Files)))
	}
	b.WriteString(".\n")
	if rep.Ceiling.Median > 0 {
		fmt.Fprintf(&b, "- Loopback TCP ceiling (iperf3, one stream, 3 s): median %s MB/s (%s-%s).\n",
			fmtNum(rep.Ceiling.Median), fmtNum(rep.Ceiling.Min), fmtNum(rep.Ceiling.Max))
	}
	for _, s := range rep.Servers {
		fmt.Fprintf(&b, "- %s (%s): %s.\n", s.Name, s.Version, s.Serves)
	}
	fmt.Fprintf(&b, "- Peers from Debian: %s.\n", m.Packages)
	fmt.Fprintf(&b, "\n![Tandem against each peer, per workload and client](%s)\n\n", chart)

	b.WriteString("Each row is one workload through one client; Tandem is compared with the peer that speaks the " +
		"client's protocol (NFS-Ganesha for NFS, Samba for SMB). Values are the median of the repetitions with " +
		"the range in brackets; the ratio is Tandem's median over the peer's (above 1: Tandem is faster). " +
		"CPU is the server processes' user+system time per operation, in microseconds (per MiB for the " +
		"sequential rows).\n\n")
	b.WriteString("| workload | client | Tandem | peer | peer's value | Tandem ÷ peer | CPU µs/op Tandem / peer | share of TCP ceiling Tandem / peer |\n")
	b.WriteString("|---|---|---|---|---|---:|---|---|\n")
	for _, r := range rep.Rows {
		if r.Stores {
			continue
		}
		w, _ := workloadByID(r.Workload)
		ratio := "–"
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("**%.2f**", r.Ratio)
		}
		cpu := fmt.Sprintf("%s / %s", fmtCPU(r.Tandem), fmtCPU(r.Peer))
		if w.CPUOp != "op" {
			cpu += " per " + w.CPUOp
		}
		ceil := "–"
		if w.Bytes && rep.Ceiling.Median > 0 {
			ceil = fmt.Sprintf("%s / %s", fmtShare(r.Tandem, rep.Ceiling.Median), fmtShare(r.Peer, rep.Ceiling.Median))
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n",
			rowTitle(r, m.Sizes), r.Client, fmtCell(r.Tandem, r.Unit), r.Peer.Server, fmtCell(r.Peer, r.Unit), ratio, cpu, ceil)
	}

	b.WriteString("\nWhat each client made durable before the clock stopped (the same requests go to both servers of a row):\n\n")
	b.WriteString("| client | workload | durability |\n|---|---|---|\n")
	for _, r := range rep.Rows {
		if r.Durability != "" && r.Durability != "-" && !r.Stores {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", r.Client, r.Workload, r.Durability)
		}
	}

	storesTable(&b, rep)
	breakTable(&b, rep.Break)
	if rep.BreakErr != "" {
		fmt.Fprintf(&b, "\nCross-protocol break latency: **failed** (%s); see run.sh's output.\n", rep.BreakErr)
	}
	var notes []string
	for _, r := range rep.Rows {
		for _, c := range []cell{r.Tandem, r.Peer} {
			if c.Note != "" && c.Status != statusNotServed {
				notes = append(notes, fmt.Sprintf("- %s, %s via %s: %s", c.Server, r.Workload, r.Client, c.Note))
			}
		}
	}
	if len(notes) > 0 {
		b.WriteString("\nFailures:\n\n" + strings.Join(notes, "\n") + "\n")
	}
	return b.String()
}

func fmtCell(c cell, unit string) string {
	switch c.Status {
	case statusOK:
		return fmt.Sprintf("%s %s (%s-%s)", fmtNum(c.Value.Median), unit, fmtNum(c.Value.Min), fmtNum(c.Value.Max))
	case statusNotServed:
		return "*not yet served*"
	case statusFailed:
		return "*failed*"
	}
	return "–"
}

func fmtCPU(c cell) string {
	if !c.ok() {
		return "–"
	}
	return fmtNum(c.CPUPerOp)
}

func fmtShare(c cell, ceiling float64) string {
	if !c.ok() {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*c.Value.Median/ceiling)
}

// fmtNum prints three significant digits or the integer part, with thin
// thousands grouping.
func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a < 1:
		return fmt.Sprintf("%.3f", v)
	case a < 10:
		return fmt.Sprintf("%.2f", v)
	case a < 100:
		return fmt.Sprintf("%.1f", v)
	}
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

func fmtDuration(secs float64) string {
	m := int(secs) / 60
	return fmt.Sprintf("%d min %02d s", m, int(secs)%60)
}

// storesTable renders the rows of Tandem on PostgreSQL + S3 against Tandem
// on its default stores, with where the server side's CPU time went and
// how many PostgreSQL transactions each operation took.
func storesTable(b *strings.Builder, rep *report) {
	var rows []row
	for _, r := range rep.Rows {
		if r.Stores {
			rows = append(rows, r)
		}
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("\nTandem with `[meta] backend = \"postgres\"` and `[content] backend = \"s3\"` (PostgreSQL and " +
		"SeaweedFS on the same loopback, started by the harness) against Tandem on its default stores (Pebble, local " +
		"disk), same clients, same requests. CPU is that of all the server processes (Tandem, PostgreSQL and its " +
		"backends, SeaweedFS), split after it; writing transactions are the transaction ids PostgreSQL handed out " +
		"(read-only transactions get none; see the README for all of them, counted from PostgreSQL's statement log).\n\n")
	b.WriteString("| workload | client | on PostgreSQL + S3 | on the defaults | ratio | CPU µs/op defaults / PostgreSQL + S3 | of which Tandem / PostgreSQL / SeaweedFS | PostgreSQL writing transactions per op |\n")
	b.WriteString("|---|---|---|---|---:|---|---|---:|\n")
	for _, r := range rows {
		w, _ := workloadByID(r.Workload)
		ratio := "–"
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("**%.2f**", r.Ratio)
		}
		per := ""
		if w.CPUOp != "op" {
			per = " per " + w.CPUOp
		}
		split, xacts := "–", "–"
		if d := r.Detail; d != nil {
			split = fmt.Sprintf("%s / %s / %s", fmtNum(1e6*d["cpu_s:tandem"]), fmtNum(1e6*d["cpu_s:postgres"]), fmtNum(1e6*d["cpu_s:seaweedfs"]))
			if v, ok := d["pg_xids"]; ok {
				xacts = fmtNum(v)
			}
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s / %s%s | %s | %s |\n", rowTitle(r, rep.Meta.Sizes), r.Client, fmtCell(r.Tandem, r.Unit),
			fmtCell(r.Peer, r.Unit), ratio, fmtCPU(r.Peer), fmtCPU(r.Tandem), per, split, xacts)
	}
}

func hasStores(rep *report) bool {
	for _, r := range rep.Rows {
		if r.Stores {
			return true
		}
	}
	return false
}

func fmtBytes(n int64) string {
	if n >= 1<<30 && n%(1<<30) == 0 {
		return fmt.Sprintf("%d GiB", n>>30)
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

// rowTitle is the row's title with its size: the files of the
// directory, the sequential size (smaller for the stores rows).
func rowTitle(r row, z sizes) string {
	if r.Stores {
		z = storesSizes(z)
	}
	switch r.Workload {
	case "create", "stat", "list":
		return fmt.Sprintf("%s, %s files", r.Title, fmtNum(float64(z.Files)))
	case "seqwrite", "seqwrite+flush", "seqread":
		return fmt.Sprintf("%s, %s", r.Title, fmtBytes(z.SeqBytes))
	}
	return r.Title
}
