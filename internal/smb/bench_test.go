package smb

import (
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system time so far. The benchmarks
// report it per operation, client and server together, beside the wall
// time: on a shared machine it is the steadier of the two.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timeCPU starts the benchmark's clocks; the function it returns reports
// the CPU time per operation.
func timeCPU(b *testing.B) func() {
	b.ResetTimer()
	start := cpuTime()
	return func() {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkStat is what a client's stat costs the server: CREATE,
// QUERY_INFO and CLOSE of an existing file, one request at a time.
func BenchmarkStat(b *testing.B) {
	e := newEnv(b, Options{})
	c := e.connect("export")
	c.close(c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate}))
	q := createReq{name: "f", access: fileReadAttributes, share: shareAll, disp: dispOpen}
	defer timeCPU(b)()
	for range b.N {
		id := c.mustCreate(q)
		if _, st := c.queryInfo(id, infoFile, classFileAll, 4096, 0); st != StatusSuccess {
			b.Fatal(st)
		}
		c.close(id)
	}
}

// BenchmarkLockUnlock is an SMB2 LOCK and its unlock.
func BenchmarkLockUnlock(b *testing.B) {
	e := newEnv(b, Options{})
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate})
	defer timeCPU(b)()
	for range b.N {
		if st := c.lock(id, excl(0, 1)); st != StatusSuccess {
			b.Fatal(st)
		}
		if st := c.lock(id, unlock(0, 1)); st != StatusSuccess {
			b.Fatal(st)
		}
	}
}

// BenchmarkRead reads 1 MiB.
func BenchmarkRead(b *testing.B) {
	e := newEnv(b, Options{})
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate})
	c.write(id, 1<<20-1, []byte{1})
	body := readBody(id, 0, 1<<20)
	b.SetBytes(1 << 20)
	defer timeCPU(b)()
	for range b.N {
		if r := c.call(CmdRead, body, func(h *Header) { h.CreditCharge, h.Credits = 16, 16 }); r.Status != StatusSuccess {
			b.Fatal(r.Status)
		}
	}
}

// BenchmarkCMAC signs a 1 MiB message, as SMB 3.x does a WRITE or READ.
func BenchmarkCMAC(b *testing.B) {
	k, err := newCMACKey(make([]byte, 16))
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 1<<20+HeaderSize+48)
	b.SetBytes(int64(len(msg)))
	for range b.N {
		k.sum(msg)
	}
}

// BenchmarkWrite writes 1 MiB at the start of a file.
func BenchmarkWrite(b *testing.B) {
	e := newEnv(b, Options{})
	c := e.connect("export")
	id := c.mustCreate(createReq{name: "f", access: rw, share: shareAll, disp: dispCreate})
	body := writeBody(id, 0, make([]byte, 1<<20), 0)
	b.SetBytes(1 << 20)
	defer timeCPU(b)()
	for range b.N {
		if r := c.call(CmdWrite, body, func(h *Header) { h.CreditCharge, h.Credits = 16, 16 }); r.Status != StatusSuccess {
			b.Fatal(r.Status)
		}
	}
}
