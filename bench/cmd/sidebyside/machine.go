package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// runMeta is what the report says about the run and the machine.
type runMeta struct {
	Commit      string  `json:"commit"`
	Dirty       bool    `json:"dirty"` // the working tree had changes
	Date        string  `json:"date"`
	Host        string  `json:"machine"`
	Kernel      string  `json:"kernel"`
	GoVersion   string  `json:"go"`
	Packages    string  `json:"packages"`
	LoadStart   string  `json:"loadavg_start"`
	LoadEnd     string  `json:"loadavg_end"`
	WallSeconds float64 `json:"wall_seconds"`
	// TotalSeconds is run.sh's time up to the report: installs, builds
	// and the break latency benchmark too.
	TotalSeconds float64 `json:"total_seconds,omitempty"`
	Netns        bool    `json:"private_netns"`
	Sizes        sizes   `json:"sizes"`
	Reps         int     `json:"reps"`
}

func collectMeta(cfg *config) runMeta {
	m := runMeta{
		Commit:    cfg.commit,
		Date:      time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		GoVersion: runtime.Version(),
		LoadStart: loadAvg(),
		Netns:     cfg.netns,
		Reps:      cfg.reps,
	}
	if m.Commit == "" {
		if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
			m.Commit = strings.TrimSpace(string(out))
		}
	}
	if out, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil {
		m.Dirty = len(strings.TrimSpace(string(out))) > 0
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.Host = fmt.Sprintf("%d CPUs (%s), %s RAM", runtime.NumCPU(), cpuModel(), memTotal())
	var pk []string
	for _, p := range []string{"samba", "smbclient", "nfs-ganesha", "nfs-ganesha-vfs", "libnfs13", "iperf3", "postgresql-15"} {
		pk = append(pk, debVersion(p))
	}
	m.Packages = strings.Join(pk, ", ")
	return m
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if i := strings.IndexByte(l, ':'); i >= 0 {
				return strings.TrimSpace(l[i+1:])
			}
		}
	}
	return "?"
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) >= 2 {
		if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
			return fmt.Sprintf("%.0f GiB", kb/(1<<20))
		}
	}
	return "?"
}

// loadAvg is the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func loadAvg1() float64 {
	v, _ := strconv.ParseFloat(strings.Fields(loadAvg() + " 0")[0], 64)
	return v
}

// iperf measures the loopback TCP ceiling: one iperf3 stream for 3
// seconds, in MB/s.
func iperf(work string, procs *procSet) (float64, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	srv, err := procs.start("iperf3 -s", filepath.Join(work, "iperf3-server.log"),
		"iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", strconv.Itoa(port))
	if err != nil {
		return 0, err
	}
	defer func() {
		if !srv.exited() {
			srv.cmd.Process.Kill()
		}
		<-srv.done
	}()
	// No probe connection before the test: "iperf3 -s -1" serves one
	// client, and a probe would be it. Retry while it is not listening
	// yet; iperf3 -J exits 0 on errors and says them in the JSON.
	var res struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
		Error string `json:"error"`
	}
	for try := 0; ; try++ {
		out, err := runCmd(30*time.Second, nil, "iperf3", "-c", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "3", "-J")
		if err == nil {
			res.Error = ""
			err = json.Unmarshal(out, &res)
		}
		if err == nil && res.Error != "" {
			err = errors.New(res.Error)
		}
		if err == nil {
			break
		}
		if try == 20 || srv.exited() {
			return 0, err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return res.End.SumReceived.BitsPerSecond / 8 / 1e6, nil
}
