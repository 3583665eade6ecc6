package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runScript runs script through a probe and returns the decoded report.
func runScript(t *testing.T, script string, stopOnError bool) ([]result, error) {
	t.Helper()
	var out bytes.Buffer
	p := &probe{fds: map[string]*os.File{}, out: bufio.NewWriter(&out)}
	err := p.run(strings.NewReader(script), stopOnError)
	p.out.Flush()
	for _, f := range p.fds {
		f.Close()
	}
	var res []result
	dec := json.NewDecoder(&out)
	for dec.More() {
		var r result
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		res = append(res, r)
	}
	return res, err
}

func TestFileOpsAndErrnoNames(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	script := `{"op":"open","path":"` + f + `","flags":"O_RDWR|O_CREAT|O_EXCL","mode":"0600"}
{"op":"pwrite","off":4,"data":"xy"}
{"op":"fstat"}
{"op":"pread","off":0,"len":16}
{"op":"open","fd":"g","path":"` + f + `","flags":"O_RDWR|O_CREAT|O_EXCL"}
{"op":"read","fd":"nope","len":1}
{"op":"ftruncate","size":1}
{"op":"pread","off":0,"len":4}
{"op":"close"}
{"op":"getpid"}
{"op":"exit"}
{"op":"never"}
`
	res, err := runScript(t, script, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 11 {
		t.Fatalf("%d results, want 11 (exit stops the script)", len(res))
	}
	if res[1].N != 2 || res[2].Stat.Size != 6 || res[2].Stat.Mode != "0600" || res[2].Stat.Type != "file" {
		t.Errorf("pwrite/fstat: %+v %+v", res[1], res[2].Stat)
	}
	if res[3].Data == nil || *res[3].Data != "\x00\x00\x00\x00xy" {
		t.Errorf("pread: %+v", res[3])
	}
	if res[4].OK || res[4].Errno != "EEXIST" {
		t.Errorf("O_EXCL: %+v", res[4])
	}
	if res[5].OK || res[5].Err != `no open file "nope"` {
		t.Errorf("unknown fd: %+v", res[5])
	}
	if res[7].Data == nil || *res[7].Data != "\x00" || res[7].N != 1 {
		t.Errorf("after ftruncate: %+v", res[7])
	}
	if res[9].Pid != os.Getpid() {
		t.Errorf("getpid: %+v", res[9])
	}
	for i, r := range res {
		if r.I != i || r.T1 < r.T0 || r.T0 == 0 {
			t.Errorf("result %d: index/timestamps %+v", i, r)
		}
	}
}

// A POSIX lock and an OFD lock conflict even within one process, so one
// probe can show both sides of a conflict.
func TestLocksReportHolder(t *testing.T) {
	f := filepath.Join(t.TempDir(), "l")
	script := `[
{"op":"open","path":"` + f + `","flags":"O_RDWR|O_CREAT"},
{"op":"lock","cmd":"F_SETLK","type":"wr","start":10,"len":5},
{"op":"open","fd":"o","path":"` + f + `","flags":"O_RDWR"},
{"op":"lock","fd":"o","cmd":"F_OFD_GETLK","type":"rd","start":0,"len":0},
{"op":"lock","fd":"o","cmd":"F_OFD_SETLK","type":"wr","start":12,"len":1},
{"op":"lock","fd":"o","cmd":"F_OFD_SETLK","type":"rd","start":0,"len":10},
{"op":"lock","cmd":"F_SETLK","type":"un","start":0,"len":0},
{"op":"lock","fd":"o","cmd":"F_OFD_SETLK","type":"wr","start":12,"len":1},
{"op":"flock","fd":"o","type":"ex","nb":true},
{"op":"lock","cmd":"F_SETLK","type":"bogus","start":0,"len":0}
]`
	res, err := runScript(t, script, false)
	if err != nil {
		t.Fatal(err)
	}
	if l := res[3].Lock; l == nil || *l != (lockInfo{Type: "wr", Start: 10, Len: 5, Pid: int32(os.Getpid())}) {
		t.Errorf("F_OFD_GETLK: %+v", res[3].Lock)
	}
	if res[4].OK || res[4].Errno != "EAGAIN" {
		t.Errorf("conflicting OFD lock: %+v", res[4])
	}
	if !res[5].OK || !res[7].OK || !res[8].OK {
		t.Errorf("non-conflicting locks: %+v %+v %+v", res[5], res[7], res[8])
	}
	if res[9].OK || !strings.Contains(res[9].Err, "unknown lock type") {
		t.Errorf("bad type: %+v", res[9])
	}
}

func TestBulkAndPattern(t *testing.T) {
	dir := t.TempDir()
	w := filepath.Join(dir, "w")
	progress := filepath.Join(dir, "progress")
	script := `{"op":"mkfiles","path":"` + dir + `","count":50,"prefix":"e","data":"n={i}"}
{"op":"readdir","path":"` + dir + `"}
{"op":"writepattern","path":"` + w + `","size":300001,"chunk":65536,"seed":9,"fsync":true,"progress":"` + progress + `"}
{"op":"verifypattern","path":"` + w + `","size":300001,"seed":9}
{"op":"verifypattern","path":"` + w + `","size":300001,"seed":10}
{"op":"mkfiles","path":"` + dir + `","count":1,"prefix":"e"}
`
	res, err := runScript(t, script, true)
	if err != errStop {
		t.Fatalf("run: %v, want errStop (-e at the first failure)", err)
	}
	if len(res) != 5 {
		t.Fatalf("%d results, want 5", len(res))
	}
	if res[0].N != 50 || res[1].N != 50 || len(res[1].Names) != 50 {
		t.Errorf("mkfiles/readdir: %d %d %d", res[0].N, res[1].N, len(res[1].Names))
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "e37")); string(b) != "n=37" {
		t.Errorf("e37 holds %q", b)
	}
	if b, _ := os.ReadFile(progress); string(b) != "300001" {
		t.Errorf("progress file: %q", b)
	}
	if !res[3].OK || res[3].N != 300001 {
		t.Errorf("verify: %+v", res[3])
	}
	if res[4].OK || res[4].N != 0 {
		t.Errorf("verify with the wrong seed: %+v", res[4])
	}
	// the pattern is position dependent: a shifted copy does not verify
	b, _ := os.ReadFile(w)
	buf := make([]byte, 16)
	fillPattern(buf, 9, 3)
	if !bytes.Equal(buf, b[3:19]) || bytes.Equal(b[0:16], b[8:24]) {
		t.Errorf("fillPattern at an offset disagrees with the file")
	}
}
