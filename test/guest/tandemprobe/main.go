// Command tandemprobe runs a script of file operations in one process and
// reports each one, so that end-to-end tests can say exactly what a real
// kernel client did and when.
//
// It reads operations from standard input (or -f FILE) as JSON objects, one
// per line or as one JSON array, runs them in order, and prints one JSON
// line per operation as soon as it is done:
//
//	{"op":"open","fd":"a","path":"/mnt/t/f","flags":"O_RDWR|O_CREAT","mode":"0644"}
//	{"op":"lock","fd":"a","cmd":"F_SETLK","type":"wr","start":0,"len":10}
//	{"op":"sleep","ms":500}
//	{"op":"lock","fd":"a","cmd":"F_SETLK","type":"un","start":0,"len":10}
//
//	{"i":0,"op":"open","ok":true,"t0":5183346112,"t1":5190417345}
//	{"i":1,"op":"lock","ok":false,"errno":"EAGAIN","err":"resource temporarily unavailable","t0":...}
//
// t0 and t1 are CLOCK_MONOTONIC nanoseconds at the start and end of the
// operation; every process in the guest shares that clock, so two probes'
// reports can be put in one order (who held a lock when the other asked).
// Operations never stop the script unless -e is given; the report says what
// failed, with the errno's name.  Bulk operations (mkfiles, readdir,
// writepattern) exist because process creation is slow in an emulated
// guest: one probe does in one process what a shell would fork thousands of
// times for.  See ops.go for every operation and its fields.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

func main() {
	script := flag.String("f", "", "read the script from `file` instead of standard input")
	stopOnError := flag.Bool("e", false, "stop at the first failed operation and exit 1")
	flag.Parse()

	in := io.Reader(os.Stdin)
	if *script != "" {
		f, err := os.Open(*script)
		if err != nil {
			fmt.Fprintln(os.Stderr, "tandemprobe:", err)
			os.Exit(2)
		}
		defer f.Close()
		in = f
	}
	p := &probe{fds: map[string]*os.File{}, out: bufio.NewWriter(os.Stdout)}
	err := p.run(in, *stopOnError)
	p.out.Flush()
	switch {
	case errors.Is(err, errStop):
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "tandemprobe:", err)
		os.Exit(2)
	}
}

var errStop = errors.New("stopped at a failed operation")

type probe struct {
	fds map[string]*os.File
	out *bufio.Writer
	n   int
}

// run decodes operations one at a time, so a script fed through a pipe runs
// as it arrives.
func (p *probe) run(in io.Reader, stopOnError bool) error {
	br := bufio.NewReader(in)
	if first, err := peekNonSpace(br); err == io.EOF {
		return nil
	} else if err != nil {
		return err
	} else if first == '[' {
		var ops []op
		if err := json.NewDecoder(br).Decode(&ops); err != nil {
			return fmt.Errorf("script: %w", err)
		}
		for i := range ops {
			if done, err := p.step(&ops[i], stopOnError); done || err != nil {
				return err
			}
		}
		return nil
	}
	dec := json.NewDecoder(br)
	for {
		var o op
		if err := dec.Decode(&o); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("script, operation %d: %w", p.n, err)
		}
		if done, err := p.step(&o, stopOnError); done || err != nil {
			return err
		}
	}
}

func peekNonSpace(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.Peek(1)
		if err != nil {
			return 0, err
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			_, _ = br.ReadByte()
		default:
			return b[0], nil
		}
	}
}

// step runs one operation and reports it; done is true after "exit".
func (p *probe) step(o *op, stopOnError bool) (done bool, err error) {
	r := &result{I: p.n, ID: o.ID, Op: o.Op}
	p.n++
	r.T0 = now()
	opErr := p.do(o, r)
	r.T1 = now()
	r.OK = opErr == nil
	if opErr != nil {
		var errno unix.Errno
		if errors.As(opErr, &errno) {
			r.Errno = unix.ErrnoName(errno)
		}
		r.Err = opErr.Error()
	}
	b, err := json.Marshal(r)
	if err != nil {
		return true, err
	}
	p.out.Write(b)
	p.out.WriteByte('\n')
	if err := p.out.Flush(); err != nil {
		return true, err
	}
	if opErr != nil && stopOnError {
		return true, errStop
	}
	return o.Op == "exit", nil
}

func now() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// result is one line of the report.  Fields beyond the first few are set by
// the operations that have something to say.
type result struct {
	I     int    `json:"i"`
	ID    string `json:"id,omitempty"`
	Op    string `json:"op"`
	OK    bool   `json:"ok"`
	Errno string `json:"errno,omitempty"`
	Err   string `json:"err,omitempty"`
	T0    int64  `json:"t0"`
	T1    int64  `json:"t1"`

	N      int64     `json:"n,omitempty"`    // bytes, entries, files, offset
	Data   *string   `json:"data,omitempty"` // read data when it is UTF-8
	B64    []byte    `json:"b64,omitempty"`  // read data otherwise
	Lock   *lockInfo `json:"lock,omitempty"`
	Names  []string  `json:"names,omitempty"`
	Stat   *statInfo `json:"stat,omitempty"`
	Pid    int       `json:"pid,omitempty"`
	Target string    `json:"target,omitempty"` // readlink
}

func (r *result) setData(b []byte) {
	if utf8.Valid(b) {
		s := string(b)
		r.Data = &s
		return
	}
	r.B64 = b
}
