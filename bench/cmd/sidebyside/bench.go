package main

import (
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tandemfs/tandem/test/smbclient"
	"github.com/tandemfs/tandem/test/testserver"
)

// runRecord is one measurement: one workload through one client against
// one server, once.
type runRecord struct {
	Server   string  `json:"server"`
	Client   string  `json:"client"`
	Workload string  `json:"workload"`
	Rep      int     `json:"rep"`
	Status   string  `json:"status"` // statusOK, statusNotServed or statusFailed
	Ops      float64 `json:"ops,omitempty"`
	Seconds  float64 `json:"seconds,omitempty"`
	Value    float64 `json:"value,omitempty"`    // in the workload's unit
	CPU      float64 `json:"cpu_s,omitempty"`    // server CPU seconds during the run
	Err      string  `json:"error,omitempty"`    // why not ok
	Started  string  `json:"started,omitempty"`  // wall clock, for matching with the machine's load
	LoadAvg1 float64 `json:"loadavg1,omitempty"` // 1-minute load average at the end
	// Detail is the server's own breakdown of the run: CPU seconds per
	// process group ("cpu_s:postgres") and counters such as PostgreSQL
	// transactions, as differences over the run.
	Detail map[string]float64 `json:"detail,omitempty"`
}

const (
	statusOK        = "ok"
	statusNotServed = "not yet served"
	statusFailed    = "failed"
)

// workloadTimeout bounds one run; a run that overruns is recorded as
// failed and its client abandoned.
const workloadTimeout = 4 * time.Minute

// supported lists, per client, the workloads it can drive, in the order
// they run: each sequential write leaves the file the reads use, and the
// create leaves the directory stat and list use.
var supported = map[string][]string{
	"libnfs":    {"seqwrite", "seqread", "randread", "randwrite", "create", "stat", "list", "meta", "lock", "lock-anchored"},
	"go-nfs":    {"seqwrite", "seqread", "randread", "randwrite", "create", "stat", "list", "meta", "lock", "lock-anchored"},
	"smbclient": {"seqwrite", "seqread", "create", "list", "meta"},
	"go-smb2":   {"seqwrite", "seqread", "randread", "randwrite", "create", "stat", "list", "meta", "lock"},
}

// derived are the workloads a client's run of another workload measures
// as well.
var derived = map[string]map[string][]string{
	"go-smb2": {"seqwrite": {"seqwrite+flush"}},
}

type bench struct {
	cfg   *config
	sz    sizes
	in    *inputs
	procs *procSet
	runs  []runRecord
}

// session is one client connected to one server for one repetition.
type session interface {
	do(w string, m *meter) error
	close()
}

// names are the paths a client uses on a server in one repetition; they
// differ per client and repetition so that no run sees another's files
// (the 1 GiB file is reused, removed before each write).
type names struct {
	seq, files, meta, lock string
}

func namesFor(client string, rep int) names {
	b := "sbs-" + client
	return names{
		seq:   b + "-seq.bin",
		files: fmt.Sprintf("%s-r%d-files", b, rep),
		meta:  fmt.Sprintf("%s-r%d-meta", b, rep),
		lock:  b + "-lock.bin",
	}
}

func (b *bench) runServer(s *server, rep int) {
	for _, c := range clients {
		if !s.speaks(c.Proto) || (c.Name == "libnfs" && b.cfg.libnfsClient == "") {
			continue
		}
		if s.clients != nil && !s.clients[c.Name] {
			continue
		}
		b.runClient(s, c.Name, c.Proto, rep)
	}
}

func (b *bench) wanted(w string) bool { return b.cfg.only == nil || b.cfg.only[w] }

func (b *bench) runClient(s *server, client, proto string, rep int) {
	var todo []string
	for _, w := range supported[client] {
		if b.wanted(w) && (s.only == nil || s.only[w]) {
			todo = append(todo, w)
		}
	}
	if len(todo) == 0 {
		return
	}
	record := func(r runRecord) {
		r.Server, r.Client, r.Rep = s.Name, client, rep
		r.LoadAvg1 = loadAvg1()
		b.runs = append(b.runs, r)
	}
	// What the server does not serve is recorded, not tried.
	var sess session
	var sessErr error
	for _, w := range todo {
		ws := append([]string{w}, derived[client][w]...)
		if why := s.notServed(proto, w); why != "" {
			for _, x := range ws {
				record(runRecord{Workload: x, Status: statusNotServed, Err: why})
			}
			continue
		}
		if sess == nil && sessErr == nil {
			sess, sessErr = b.open(s, client, rep)
			if sessErr != nil {
				log.Printf("%s via %s: %v", s.Name, client, sessErr)
			}
		}
		if sessErr != nil {
			for _, x := range ws {
				record(runRecord{Workload: x, Status: statusFailed, Err: "connect: " + sessErr.Error()})
			}
			continue
		}
		m := &meter{roots: s.cpuRoots, parts: s.parts, counters: s.counters}
		started := time.Now()
		prof := b.profileStart(s, client, w, rep)
		err := runWithTimeout(func() error { return sess.do(w, m) }, workloadTimeout)
		if prof {
			b.profileStop(s)
		}
		got := map[string]measured{}
		for _, x := range m.out {
			got[x.workload] = x
		}
		for _, x := range ws {
			r := runRecord{Workload: x, Started: started.Format(time.RFC3339)}
			if v, ok := got[x]; ok && err == nil {
				wl, _ := workloadByID(x)
				r.Status, r.Ops, r.Seconds, r.CPU = statusOK, v.ops, v.secs, v.cpu
				r.Value = v.ops * wl.Scale / v.secs
				r.Detail = v.detail
				log.Printf("rep %d %-8s %-9s %-14s %10.1f %s", rep, s.Name, client, x, r.Value, wl.Unit)
			} else {
				if err == nil {
					err = errors.New("the client measured nothing")
				}
				r.Status, r.Err = statusFailed, err.Error()
				if notImplemented(err) {
					r.Status = statusNotServed
				}
				log.Printf("rep %d %-8s %-9s %-14s %s: %v", rep, s.Name, client, x, strings.ToUpper(r.Status), err)
			}
			record(r)
		}
		if errors.Is(err, errTimeout) {
			// The client may be stuck in a call; never reuse it.
			sess.close()
			sess, sessErr = nil, errors.New("an earlier workload timed out")
		}
	}
	if sess != nil {
		sess.close()
	}
}

func (b *bench) open(s *server, client string, rep int) (session, error) {
	n := namesFor(client, rep)
	sz := b.sz
	if s.sizes != nil {
		sz = s.sizes(sz)
	}
	switch client {
	case "libnfs":
		return &libnfsSession{bin: b.cfg.libnfsClient, t: s.NFS, sz: sz, n: n}, nil
	case "go-nfs":
		return dialGoNFS(s.NFS, sz, n)
	case "smbclient":
		return &smbclientSession{t: s.SMB, sz: sz, n: n, in: b.in}, nil
	case "go-smb2":
		return dialGoSMB(s.SMB, sz, n)
	}
	return nil, fmt.Errorf("unknown client %q", client)
}

var errTimeout = errors.New("timed out")

// notImplemented tells a server's "I do not do that (yet)" from a
// failure: an RPC program or procedure it does not serve, NFS3ERR_NOTSUPP,
// or SMB's STATUS_NOT_IMPLEMENTED and STATUS_NOT_SUPPORTED, whichever
// client reported it.
func notImplemented(err error) bool {
	var st *smbclient.StatusError
	if errors.As(err, &st) && (st.Status == smbclient.StatusNotImplemented || st.Status == smbclient.StatusNotSupported) {
		return true
	}
	var re *testserver.RPCError
	if errors.As(err, &re) && !re.Rejected && (re.Stat == 1 || re.Stat == 3) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"NOT_IMPLEMENTED", "NOT_SUPPORTED", "NOTSUPP", "PROC_UNAVAIL", "PROG_UNAVAIL", "nfs: status 10004"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

func runWithTimeout(f func() error, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		return fmt.Errorf("%w after %v", errTimeout, d)
	}
}

// meter times a workload and measures the server's CPU time over it.
type meter struct {
	roots    []int
	parts    []cpuPart
	counters func() map[string]float64
	t0       time.Time
	cpu0     float64
	detail0  map[string]float64
	out      []measured
}

type measured struct {
	workload  string
	ops, secs float64
	cpu       float64
	detail    map[string]float64
}

func (m *meter) start() {
	m.detail0 = m.details()
	m.cpu0 = treeCPU(m.roots)
	m.t0 = time.Now()
}

// stop records ops done since start under workload w; it may be called
// more than once per start.
func (m *meter) stop(w string, ops float64) {
	m.stopTimed(w, ops, time.Since(m.t0).Seconds())
}

// stopTimed is stop for a client that timed itself (leaving out its own
// start-up): the CPU time still spans the whole process.
func (m *meter) stopTimed(w string, ops, secs float64) {
	cpu := treeCPU(m.roots) - m.cpu0
	var d map[string]float64
	if m.detail0 != nil {
		d = m.details()
		for k, v := range d {
			d[k] = v - m.detail0[k]
		}
	}
	m.out = append(m.out, measured{w, ops, secs, cpu, d})
}

// details reads the per-process CPU times and the server's counters.
func (m *meter) details() map[string]float64 {
	if m.parts == nil && m.counters == nil {
		return nil
	}
	d := map[string]float64{}
	for _, p := range m.parts {
		d["cpu_s:"+p.name] = treeCPU(p.roots)
	}
	if m.counters != nil {
		for k, v := range m.counters() {
			d[k] = v
		}
	}
	return d
}

// inputs are local files smbclient uploads.
type inputs struct {
	big   string // SeqBytes
	small string // directory of Files files of 4 KiB
}

func prepareInputs(dir string, sz sizes) (*inputs, error) {
	in := &inputs{big: filepath.Join(dir, "seq.bin"), small: filepath.Join(dir, "small")}
	if err := os.MkdirAll(in.small, 0o755); err != nil {
		return nil, err
	}
	chunk := pattern(1 << 20)
	f, err := os.Create(in.big)
	if err != nil {
		return nil, err
	}
	for done := int64(0); done < sz.SeqBytes; done += int64(len(chunk)) {
		if _, err := f.Write(chunk); err != nil {
			f.Close()
			return nil, err
		}
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	for i := range sz.Files {
		if err := os.WriteFile(filepath.Join(in.small, fileName(i)), chunk[:4096], 0o644); err != nil {
			return nil, err
		}
	}
	return in, nil
}

func fileName(i int) string { return fmt.Sprintf("f%06d", i) }

// pattern is the data every client writes: not all zeros (a server could
// special-case those) and the same for every server.
func pattern(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*31 + i>>12)
	}
	return p
}

// xorshift gives the random offsets: the same sequence for every server
// and client.
type xorshift uint64

func (x *xorshift) next() uint64 {
	v := uint64(*x)
	v ^= v << 13
	v ^= v >> 7
	v ^= v << 17
	*x = xorshift(v)
	return v
}

const xorshiftSeed = 0x9e3779b97f4a7c15
