package bench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	smb2 "github.com/cloudsoda/go-smb2"

	"github.com/tandemfs/tandem/test/testserver"
)

// The SMB benchmarks run `tandem serve` with SMB on and an SMB user, and
// drive it with two clients: the Go client github.com/cloudsoda/go-smb2
// (one request in flight at a time, SMB 3.1.1) and Samba's smbclient (a
// process per iteration: its start and logon, some 50 ms, are part of
// what it measures).
const (
	smbUser     = "bench"
	smbPassword = "bench-Pw1"
	smallFiles  = 500 // files per small-file iteration
)

var smbListen = regexp.MustCompile(`msg=listening service=smb addr=(\S+)`)

// smbServer starts a fresh `tandem serve` with SMB on a free port and a
// user, and returns the SMB address.
func smbServer(b *testing.B) string {
	b.Helper()
	return smbNFSServer(b).SMBAddr
}

// smbNFSServer is smbServer for benchmarks that need the server's NFS
// side as well.
func smbNFSServer(b *testing.B) *testserver.Process {
	b.Helper()
	server(b) // builds the binary; its own server is not used
	data := b.TempDir()
	add := exec.Command(bin, "user", "add", smbUser, "--uid", "1000", "--gid", "1000", "--password-stdin", "--data", data)
	add.Stdin = strings.NewReader(smbPassword + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		b.Fatalf("tandem user add: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	p, err := testserver.Start(bin, data, "--smb-port", strconv.Itoa(port))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := p.Stop(30 * time.Second); err != nil {
			b.Errorf("server stop: %v\n%s", err, p.Log())
		}
	})
	m := smbListen.FindStringSubmatch(p.Log())
	if m == nil {
		b.Fatalf("no SMB listener in the log:\n%s", p.Log())
	}
	p.SMBAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return p
}

// goSMB logs on with go-smb2 and mounts the export.
func goSMB(b *testing.B, addr string) *smb2.Share {
	b.Helper()
	d := &smb2.Dialer{Initiator: &smb2.NTLMInitiator{User: smbUser, Password: smbPassword}}
	s, err := d.Dial(context.Background(), addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Logoff() })
	sh, err := s.Mount("export")
	if err != nil {
		b.Fatal(err)
	}
	return sh
}

// BenchmarkSMBGoClient: a 256 MiB file written in 1 MiB writes and
// flushed, read back, and small files (4 KiB each) created, written and
// closed.
func BenchmarkSMBGoClient(b *testing.B) {
	addr := smbServer(b)
	sh := goSMB(b, addr)
	data := pattern(ioSize)
	runs := 0 // b.Run runs each benchmark more than once: names stay new
	b.Run("seqwrite", func(b *testing.B) {
		for i := range b.N {
			f, err := sh.Create(fmt.Sprintf("seq%d", i))
			if err != nil {
				b.Fatal(err)
			}
			for off := 0; off < seqSize; off += ioSize {
				if _, err := f.Write(data); err != nil {
					b.Fatal(err)
				}
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
		reportRate(b, seqSize)
	})
	b.Run("seqread", func(b *testing.B) {
		buf := make([]byte, ioSize)
		for range b.N {
			f, err := sh.Open("seq0")
			if err != nil {
				b.Fatal(err)
			}
			for off := 0; off < seqSize; off += ioSize {
				if _, err := f.ReadAt(buf, int64(off)); err != nil {
					b.Fatal(err)
				}
			}
			f.Close()
		}
		reportRate(b, seqSize)
	})
	b.Run("smallfiles", func(b *testing.B) {
		small := data[:smallSize]
		for range b.N {
			runs++
			dir := fmt.Sprintf("small%d", runs)
			if err := sh.Mkdir(dir, 0o755); err != nil {
				b.Fatal(err)
			}
			for j := range smallFiles {
				if err := sh.WriteFile(dir+`\f`+strconv.Itoa(j), small, 0o644); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(smallFiles*b.N)/b.Elapsed().Seconds(), "files/s")
	})
}

// BenchmarkSMBSmbclient: smbclient puts a 256 MiB file, gets it back, and
// puts a directory of small files with mput.
func BenchmarkSMBSmbclient(b *testing.B) {
	smbclient, err := exec.LookPath("smbclient")
	if err != nil {
		b.Fatalf("smbclient not installed (apt-get install -y smbclient): %v", err)
	}
	addr := smbServer(b)
	_, port, _ := net.SplitHostPort(addr)
	local := b.TempDir()
	conf := filepath.Join(local, "smb.conf")
	if err := os.WriteFile(conf, []byte("[global]\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	big := filepath.Join(local, "big")
	if err := os.WriteFile(big, bytes.Repeat(pattern(ioSize), seqSize/ioSize), 0o644); err != nil {
		b.Fatal(err)
	}
	smalls := filepath.Join(local, "small")
	os.Mkdir(smalls, 0o755)
	for j := range smallFiles {
		if err := os.WriteFile(filepath.Join(smalls, "f"+strconv.Itoa(j)), pattern(smallSize), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	run := func(cmd string) {
		c := exec.Command(smbclient, "-s", conf, "-p", port, "//127.0.0.1/export", "-U", smbUser+"%"+smbPassword, "-c", cmd)
		c.Env = append(os.Environ(), "HOME="+local)
		if out, err := c.CombinedOutput(); err != nil || bytes.Contains(out, []byte("NT_STATUS")) {
			b.Fatalf("smbclient %q: %v\n%s", cmd, err, out)
		}
	}
	b.Run("seqwrite", func(b *testing.B) {
		for range b.N {
			run("put " + big + " big")
		}
		reportRate(b, seqSize)
	})
	b.Run("seqread", func(b *testing.B) {
		for range b.N {
			run("get big " + filepath.Join(local, "back"))
		}
		reportRate(b, seqSize)
	})
	runs := 0 // b.Run runs each benchmark more than once: names stay new
	b.Run("smallfiles", func(b *testing.B) {
		for range b.N {
			runs++
			d := "s" + strconv.Itoa(runs)
			run("mkdir " + d + "; cd " + d + "; lcd " + smalls + "; prompt off; mput f*")
		}
		b.ReportMetric(float64(smallFiles*b.N)/b.Elapsed().Seconds(), "files/s")
	})
}
