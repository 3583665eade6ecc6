package main

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tandemfs/tandem/test/smbclient"
	"github.com/tandemfs/tandem/test/testserver"
)

func TestParseProcStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	line := []byte("4242 (smbd (x) y) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 12 8 20 0 1 0 99 0\n")
	st, err := parseProcStat(line)
	if err != nil {
		t.Fatal(err)
	}
	want := procStat{pid: 4242, ppid: 1, utime: 250, stime: 75, cutime: 12, cstime: 8}
	if st != want {
		t.Fatalf("got %+v, want %+v", st, want)
	}
	if _, err := parseProcStat([]byte("12 (x) S 1")); err == nil {
		t.Fatal("short line accepted")
	}
}

func TestTreeCPUOfThisProcess(t *testing.T) {
	// Burn some CPU and see it counted; the clock ticks every 10 ms.
	before := treeCPU([]int{os.Getpid()})
	x := 0
	for i := range 200_000_000 {
		x += i % 7
	}
	_ = x
	if after := treeCPU([]int{os.Getpid()}); after <= before {
		t.Fatalf("CPU time did not grow: %v then %v", before, after)
	}
	if got := treeCPU([]int{-1}); got != 0 {
		t.Fatalf("CPU of no process = %v", got)
	}
}

func TestSummarize(t *testing.T) {
	s := summarize([]float64{3, 1, 2})
	if s.Median != 2 || s.Min != 1 || s.Max != 3 || len(s.Runs) != 3 || s.Runs[0] != 3 {
		t.Fatalf("odd: %+v", s)
	}
	if s := summarize([]float64{4, 1, 2, 3}); s.Median != 2.5 {
		t.Fatalf("even median %v", s.Median)
	}
	if s := summarize(nil); s.Median != 0 {
		t.Fatalf("empty: %+v", s)
	}
}

func TestFormatting(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 0.1234: "0.123", 2.345: "2.35", 45.67: "45.7", 1234.5: "1,234", 9876543: "9,876,543", -2500: "-2,500"} {
		if got := fmtNum(v); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", v, got, want)
		}
	}
	if got := netSeconds(1.0, 0.25); got != 0.75 {
		t.Errorf("netSeconds = %v", got)
	}
	if got := netSeconds(1.0, 2.0); got != 0.1 {
		t.Errorf("netSeconds with a long connect = %v", got)
	}
	if got := fmtDuration(754); got != "12 min 34 s" {
		t.Errorf("fmtDuration = %q", got)
	}
}

func TestParseResult(t *testing.T) {
	ops, secs, err := parseResult([]byte("noise\nRESULT 10000 2.500000\n"))
	if err != nil || ops != 10000 || secs != 2.5 {
		t.Fatalf("got %v %v %v", ops, secs, err)
	}
	if _, _, err := parseResult([]byte("libnfsclient: mount: refused\n")); err == nil {
		t.Fatal("missing RESULT accepted")
	}
	if _, _, err := parseResult([]byte("RESULT 1 0\n")); err == nil {
		t.Fatal("zero seconds accepted")
	}
}

func TestXorshiftMatchesTheCClient(t *testing.T) {
	// libnfsclient.c seeds the same generator; its first values are these.
	x := xorshift(xorshiftSeed)
	got := []uint64{x.next(), x.next()}
	want := []uint64{0xdc1b77ae0bf34dad, 0x64f0eeb9026e6076}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("value %d = %#x, want %#x", i, got[i], want[i])
		}
	}
}

func testReport() *report {
	runs := []runRecord{
		{Server: "tandem", Client: "go-nfs", Workload: "create", Rep: 1, Status: statusOK, Ops: 100, Seconds: 1, Value: 100, CPU: 0.1},
		{Server: "tandem", Client: "go-nfs", Workload: "create", Rep: 2, Status: statusOK, Ops: 100, Seconds: 0.5, Value: 200, CPU: 0.3},
		{Server: "tandem", Client: "go-nfs", Workload: "create", Rep: 3, Status: statusFailed, Err: "boom"},
		{Server: "ganesha", Client: "go-nfs", Workload: "create", Rep: 1, Status: statusOK, Ops: 100, Seconds: 0.25, Value: 400, CPU: 0.05},
		{Server: "tandem", Client: "go-smb2", Workload: "stat", Rep: 1, Status: statusNotServed, Err: "no SMB"},
		{Server: "samba", Client: "go-smb2", Workload: "stat", Rep: 1, Status: statusOK, Ops: 10, Seconds: 1, Value: 7000, CPU: 0.01},
	}
	meta := runMeta{Commit: "abc", Reps: 3, LoadStart: "1 1 1", LoadEnd: "2 2 2", Sizes: sizes{Files: 100, SeqBytes: 1 << 30}}
	return buildReport(meta, nil, runs, []float64{4000, 5000, 4500})
}

func TestBuildReport(t *testing.T) {
	rep := testReport()
	if len(rep.Rows) != 2 {
		t.Fatalf("%d rows, want 2: %+v", len(rep.Rows), rep.Rows)
	}
	r := rep.Rows[0]
	if r.Workload != "create" || r.Client != "go-nfs" || r.Peer.Server != "ganesha" {
		t.Fatalf("row 0: %+v", r)
	}
	if r.Tandem.Status != statusOK || r.Tandem.Value.Median != 150 || r.Tandem.Note != "1 of 3 runs failed: boom" {
		t.Fatalf("tandem cell: %+v", r.Tandem)
	}
	// CPU per file: 1000 and 3000 microseconds, median of two is 2000.
	if r.Tandem.CPUPerOp != 2000 || r.Ratio != 150.0/400 {
		t.Fatalf("cpu %v ratio %v", r.Tandem.CPUPerOp, r.Ratio)
	}
	s := rep.Rows[1]
	if s.Tandem.Status != statusNotServed || s.Ratio != 0 {
		t.Fatalf("stat row: %+v", s.Tandem)
	}
	if rep.Ceiling.Median != 4500 {
		t.Fatalf("ceiling %+v", rep.Ceiling)
	}
	md := markdown(rep, "results.png")
	for _, want := range []string{
		"| create + 4 KiB write + close, one directory, 100 files | go-nfs | 150 files/s (100-200) | ganesha | 400 files/s (400-400) | **0.38** |",
		"| stat each file, 100 files | go-smb2 | *not yet served* | samba |",
		"- tandem, create via go-nfs: 1 of 3 runs failed: boom",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q\n%s", want, md)
		}
	}
}

func TestChart(t *testing.T) {
	b, err := renderChart(testReport())
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != chartW || h != headerH+2*groupH+2*rowH+footerH {
		t.Fatalf("chart is %dx%d", w, h)
	}
	if ratioX(1) != (barLeft+barRight)/2 || ratioX(1e9) != barRight || ratioX(1e-9) != barLeft {
		t.Fatal("ratio axis is off")
	}
}

func TestUpdateReadme(t *testing.T) {
	p := filepath.Join(t.TempDir(), "README.md")
	os.WriteFile(p, []byte("# B\n\nintro\n"), 0o644)
	if err := updateReadme(p, "table one\n"); err != nil {
		t.Fatal(err)
	}
	if err := updateReadme(p, "table two\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	want := "# B\n\nintro\n\n## Latest results\n\n" + readmeBegin + "\n\ntable two\n\n" + readmeEnd + "\n"
	if string(got) != want {
		t.Fatalf("README\n%s\nwant\n%s", got, want)
	}
}

func TestNotImplemented(t *testing.T) {
	for _, err := range []error{
		&smbclient.StatusError{Op: "CREATE", Status: smbclient.StatusNotSupported},
		fmt.Errorf("SMB2 LOCK: %w", &smbclient.StatusError{Op: "LOCK", Status: smbclient.StatusNotImplemented}),
		fmt.Errorf("NLM4 LOCK: %w", &testserver.RPCError{Stat: 3}),
		errors.New("libnfsclient: create: NFS3ERR_NOTSUPP"),
		errors.New("response error: STATUS_NOT_SUPPORTED"),
	} {
		if !notImplemented(err) {
			t.Errorf("%v: not taken for not implemented", err)
		}
	}
	for _, err := range []error{
		&smbclient.StatusError{Op: "LOCK", Status: smbclient.StatusLockNotGranted},
		&testserver.RPCError{Stat: 2},
		&testserver.RPCError{Rejected: true, Stat: 1},
		errors.New("nlm4 stat 1"),
	} {
		if notImplemented(err) {
			t.Errorf("%v: taken for not implemented", err)
		}
	}
}

func TestReadBreakBench(t *testing.T) {
	p := filepath.Join(t.TempDir(), "break.txt")
	os.WriteFile(p, []byte("goos: linux\n"+
		"BenchmarkCrossProtocolBreak/write-2  \t 500\t 269814 ns/op\t 4.367 max-ms\t 0.2395 p50-ms\t 0.7062 p99-ms\n"+
		"BenchmarkCrossProtocolBreak/read-2  \t 500\t 208704 ns/op\t 60 max-ms\t 12.5 p50-ms\t 31.2 p99-ms\nPASS\n"), 0o644)
	rows, err := readBreakBench(p)
	if err != nil {
		t.Fatal(err)
	}
	want := []breakRow{{"write", 500, 0.2395, 0.7062, 4.367}, {"read", 500, 12.5, 31.2, 60}}
	if !slices.Equal(rows, want) {
		t.Fatalf("got %+v, want %+v", rows, want)
	}
	var b strings.Builder
	breakTable(&b, rows)
	for _, line := range []string{"| WRITE | none | 500 | 0.24 ms | 0.71 ms | 4.37 ms | yes |", "| READ | RH | 500 | 12.50 ms | 31.20 ms | 60.00 ms | **no** |"} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("table lacks %q:\n%s", line, b.String())
		}
	}
	os.WriteFile(p, []byte("--- FAIL: BenchmarkCrossProtocolBreak/write\nFAIL\n"), 0o644)
	if _, err := readBreakBench(p); err == nil {
		t.Error("a failed run gave no error")
	}
}
