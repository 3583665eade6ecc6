package main

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// libnfsSession runs bench/libnfsclient, one process per workload, as the
// peers' baseline did with its libnfs tool: each run mounts afresh and
// times only the workload.
type libnfsSession struct {
	bin string
	t   *nfsTarget
	sz  sizes
	n   names
}

func (s *libnfsSession) close() {}

func (s *libnfsSession) do(w string, m *meter) error {
	p := func(name string) string { return "/" + name }
	var args []string
	switch w {
	case "seqwrite":
		args = []string{"seqwrite", strconv.FormatInt(s.sz.SeqBytes, 10), p(s.n.seq)}
	case "seqread":
		args = []string{"seqread", p(s.n.seq)}
	case "randread":
		args = []string{w, strconv.Itoa(s.sz.RandReads), p(s.n.seq)}
	case "randwrite":
		args = []string{w, strconv.Itoa(s.sz.RandWrites), p(s.n.seq)}
	case "create":
		args = []string{"create", strconv.Itoa(s.sz.Files), p(s.n.files)}
	case "stat", "list":
		args = []string{w, p(s.n.files)}
	case "meta":
		args = []string{"meta", strconv.Itoa(s.sz.MetaRounds), p(s.n.meta)}
	case "lock":
		args = []string{"lock", strconv.Itoa(s.sz.NLMPairs), "0", p(s.n.lock), strconv.Itoa(s.t.NLMPort)}
	case "lock-anchored":
		args = []string{"lock", strconv.Itoa(s.sz.LockPairs), "1", p(s.n.lock), strconv.Itoa(s.t.NLMPort)}
	default:
		return fmt.Errorf("libnfs: no workload %q", w)
	}
	m.start()
	out, err := runCmd(workloadTimeout, nil, append([]string{s.bin, s.t.url()}, args...)...)
	if err != nil {
		return fmt.Errorf("%v: %s", err, firstLine(out, err))
	}
	ops, secs, err := parseResult(out)
	if err != nil {
		return err
	}
	m.stopTimed(w, ops, secs)
	return nil
}

// parseResult finds "RESULT <ops> <seconds>" in a client's output.
func parseResult(out []byte) (ops, secs float64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "RESULT" {
			ops, err1 := strconv.ParseFloat(f[1], 64)
			secs, err2 := strconv.ParseFloat(f[2], 64)
			if err1 != nil || err2 != nil || secs <= 0 {
				return 0, 0, fmt.Errorf("bad result line %q", sc.Text())
			}
			return ops, secs, nil
		}
	}
	return 0, 0, fmt.Errorf("no RESULT line in %q", firstLine(out, nil))
}

// smbclientSession drives Samba's smbclient, one process per command
// list. smbclient has no timing of its own, so runs are timed around the
// process; for the short ones (list, meta) the time of a session that only
// connects is measured as well and taken off, as the peers' baseline did.
type smbclientSession struct {
	t  *smbTarget
	sz sizes
	n  names
	in *inputs
}

func (s *smbclientSession) close() {}

func (s *smbclientSession) cmd(script string, stdin []byte) ([]byte, float64, error) {
	args := []string{"smbclient", "//" + s.t.Host + "/" + s.t.Share, "-p", strconv.Itoa(s.t.Port),
		"-U", s.t.User + "%" + s.t.Password}
	if script != "" {
		args = append(args, "-c", script)
	}
	t0 := time.Now()
	out, err := runCmd(workloadTimeout, stdin, args...)
	secs := time.Since(t0).Seconds()
	if err != nil {
		return out, secs, fmt.Errorf("smbclient: %v: %s", err, firstLine(out, err))
	}
	// smbclient goes on after a failed command; its messages name the status.
	if i := bytes.Index(out, []byte("NT_STATUS_")); i >= 0 {
		end := i + bytes.IndexAny(out[i:], " \n")
		if end < i {
			end = len(out)
		}
		return out, secs, fmt.Errorf("smbclient: %s", out[i:end])
	}
	return out, secs, nil
}

// connectTime is the wall time of a session that connects, logs in,
// changes into dir and leaves.
func (s *smbclientSession) connectTime(dir string) (float64, error) {
	_, secs, err := s.cmd("cd "+dir, nil)
	return secs, err
}

func (s *smbclientSession) do(w string, m *meter) error {
	switch w {
	case "seqwrite":
		s.cmd("del "+s.n.seq, nil) // absent the first time
		m.start()
		if _, _, err := s.cmd(fmt.Sprintf("put %s %s", s.in.big, s.n.seq), nil); err != nil {
			return err
		}
		m.stop(w, float64(s.sz.SeqBytes))
	case "seqread":
		m.start()
		if _, _, err := s.cmd(fmt.Sprintf("get %s /dev/null", s.n.seq), nil); err != nil {
			return err
		}
		m.stop(w, float64(s.sz.SeqBytes))
	case "create":
		m.start()
		_, _, err := s.cmd(fmt.Sprintf("mkdir %s; cd %s; lcd %s; prompt off; mput *", s.n.files, s.n.files, s.in.small), nil)
		if err != nil {
			return err
		}
		m.stop(w, float64(s.sz.Files))
	case "list":
		c, err := s.connectTime(s.n.files)
		if err != nil {
			return err
		}
		m.start()
		out, secs, err := s.cmd("cd "+s.n.files+"; ls", nil)
		if err != nil {
			return err
		}
		n := 0
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "f") && len(f[0]) == 7 {
				n++
			}
		}
		if n != s.sz.Files {
			return fmt.Errorf("smbclient ls listed %d files, want %d", n, s.sz.Files)
		}
		m.stopTimed(w, float64(n), netSeconds(secs, c))
	case "meta":
		if _, _, err := s.cmd("mkdir "+s.n.meta, nil); err != nil {
			return err
		}
		c, err := s.connectTime(s.n.meta)
		if err != nil {
			return err
		}
		var script bytes.Buffer
		for i := range s.sz.MetaRounds {
			fmt.Fprintf(&script, "mkdir %s/d%06d\nrename %s/d%06d %s/e%06d\nrmdir %s/e%06d\n",
				s.n.meta, i, s.n.meta, i, s.n.meta, i, s.n.meta, i)
		}
		m.start()
		_, secs, err := s.cmd("", script.Bytes())
		if err != nil {
			return err
		}
		m.stopTimed(w, 3*float64(s.sz.MetaRounds), netSeconds(secs, c))
	default:
		return fmt.Errorf("smbclient: no workload %q", w)
	}
	return nil
}

// netSeconds takes the connect time off a run's wall time, keeping at
// least a tenth of it should the connect time happen to be the longer.
func netSeconds(total, connect float64) float64 {
	return max(total-connect, total/10)
}
