package main

import (
	"bytes"
	"errors"
	"os"
	"strconv"
)

// clockTicks is USER_HZ, the unit of the times in /proc/PID/stat. It is
// 100 on every Linux architecture Go runs on.
const clockTicks = 100

// procStat is what we read from one /proc/PID/stat line.
type procStat struct {
	pid, ppid    int
	utime, stime uint64 // this process, all its threads
	cutime       uint64 // children it has waited for
	cstime       uint64
}

// parseProcStat parses a /proc/PID/stat line. The command name is in
// parentheses and may itself contain spaces and parentheses, so the fields
// are counted from the last ')'.
func parseProcStat(b []byte) (procStat, error) {
	var st procStat
	open := bytes.IndexByte(b, '(')
	close := bytes.LastIndexByte(b, ')')
	if open < 1 || close < open {
		return st, errors.New("malformed stat line")
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return st, err
	}
	st.pid = pid
	// After ") ": state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
	f := bytes.Fields(b[close+1:])
	if len(f) < 15 {
		return st, errors.New("short stat line")
	}
	num := func(i int) uint64 {
		v, e := strconv.ParseUint(string(f[i]), 10, 64)
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	st.ppid = int(num(1))
	st.utime = num(11)
	st.stime = num(12)
	st.cutime = num(13)
	st.cstime = num(14)
	return st, err
}

// treeCPU is the CPU time, in seconds, used so far by the processes roots
// and all their live descendants, each with the time of the children it
// has already reaped. A child that exits between two readings moves from
// its own term to its parent's, so differences of treeCPU count it exactly
// once (smbd forks one child per connection).
func treeCPU(roots []int) float64 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	stats := make(map[int]procStat, len(ents))
	children := map[int][]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		st, err := parseProcStat(b)
		if err != nil {
			continue
		}
		stats[pid] = st
		children[st.ppid] = append(children[st.ppid], pid)
	}
	var ticks uint64
	seen := map[int]bool{}
	var walk func(pid int)
	walk = func(pid int) {
		if seen[pid] {
			return
		}
		seen[pid] = true
		st, ok := stats[pid]
		if !ok {
			return
		}
		ticks += st.utime + st.stime + st.cutime + st.cstime
		for _, c := range children[pid] {
			walk(c)
		}
	}
	for _, r := range roots {
		walk(r)
	}
	return float64(ticks) / clockTicks
}
