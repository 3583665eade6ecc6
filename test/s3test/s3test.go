// Package s3test runs a real S3-compatible server for tests: SeaweedFS
// (Apache-2.0), built from the Go module proxy at a pinned version into a
// cache directory the first time (about six minutes on two cores; later
// runs reuse the binary), started as one `weed server -s3` process on free
// ports of 127.0.0.1, with one access key that the tests sign with.
//
// A server that cannot be built or started is an error, never a skip.
package s3test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Module and Version pin the SeaweedFS source.
const (
	Module  = "github.com/seaweedfs/seaweedfs"
	Version = "v0.0.0-20261109003541-7506e5f91cd6"
)

// The credentials of the server's one identity.
const (
	AccessKey = "tandemtestkey"
	SecretKey = "tandemtestsecret0123456789"
	Region    = "us-east-1"
)

// CacheDir is where built binaries are kept, one directory per version.
func CacheDir() string {
	if d := os.Getenv("TANDEM_SEAWEEDFS_CACHE"); d != "" {
		return d
	}
	return "/var/tmp/tandem-seaweedfs"
}

// Binary returns the path of the weed binary, building it first when the
// cache does not have it. Concurrent test binaries wait for one build.
func Binary() (string, error) {
	dir := filepath.Join(CacheDir(), Version)
	bin := filepath.Join(dir, "weed")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "build.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // built while we waited
	}
	t0 := time.Now()
	fmt.Fprintf(os.Stderr, "s3test: building SeaweedFS %s into %s (once; several minutes)\n", Version, dir)
	out, err := exec.Command("go", "mod", "download", "-json", Module+"@"+Version).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %v", Module, Version, err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %v %s", Module, Version, err, mod.Error)
	}
	// The module's own go.mod has replace directives, which `go install
	// pkg@version` refuses: build inside the downloaded module instead.
	tmp := bin + ".tmp"
	cmd := exec.Command("go", "build", "-buildvcs=false", "-o", tmp, "./weed")
	cmd.Dir = mod.Dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building SeaweedFS: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "s3test: built SeaweedFS in %v\n", time.Since(t0).Round(time.Second))
	return bin, nil
}

// Info is what a client needs to reach the server.
type Info struct {
	Endpoint string // http://127.0.0.1:PORT
}

// String encodes i for an environment variable (see ParseInfo).
func (i Info) String() string { return i.Endpoint }

// ParseInfo decodes Info.String.
func ParseInfo(s string) (Info, error) {
	if !strings.HasPrefix(s, "http://") {
		return Info{}, fmt.Errorf("s3test: bad server info %q", s)
	}
	return Info{Endpoint: s}, nil
}

// Env sets the AWS environment variables that make the store's client use
// the server's credentials and never look for EC2 instance credentials.
func Env() {
	os.Setenv("AWS_ACCESS_KEY_ID", AccessKey)
	os.Setenv("AWS_SECRET_ACCESS_KEY", SecretKey)
	os.Setenv("AWS_REGION", Region)
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// Client returns an S3 client of the server, for tests that look at the
// bucket themselves.
func (i Info) Client() *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(i.Endpoint),
		Region:       Region,
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		// SeaweedFS needs none of the newer checksum headers.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// CreateBucket makes bucket name (an existing one is fine).
func (i Info) CreateBucket(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := i.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	if err != nil && strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") {
		err = nil
	}
	return err
}

// Server is a running SeaweedFS.
type Server struct {
	Dir  string
	info Info
	cmd  *exec.Cmd
	done chan struct{}
	log  bytes.Buffer
}

// Info returns how to reach the server.
func (s *Server) Info() Info { return s.info }

// Start builds (if needed) and starts SeaweedFS in a temporary directory,
// and returns once a bucket can be made and written.
func Start() (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "tandem-s3-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, done: make(chan struct{})}
	ports, err := freePorts(8)
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`{"identities":[{"name":"tandem","credentials":[{"accessKey":%q,"secretKey":%q}],`+
		`"actions":["Admin","Read","Write","List","Tagging"]}]}`, AccessKey, SecretKey)
	confPath := filepath.Join(dir, "s3.json")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	args := []string{"server", "-dir=" + dir, "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-master.port=" + p(0), "-master.port.grpc=" + p(1),
		"-volume.port=" + p(2), "-volume.port.grpc=" + p(3), "-volume.max=64",
		"-master.volumeSizeLimitMB=256",
		"-filer", "-filer.port=" + p(4), "-filer.port.grpc=" + p(5),
		"-filer.localSocket=" + filepath.Join(dir, "filer.sock"),
		"-s3", "-s3.port=" + p(6), "-s3.port.grpc=" + p(7), "-s3.config=" + confPath,
		"-s3.port.iceberg=0", "-s3.port.lance=0"}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Dir = dir
	out := &lockedWriter{b: &s.log}
	s.cmd.Stdout, s.cmd.Stderr = out, out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start SeaweedFS: %w", err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	s.info = Info{Endpoint: "http://127.0.0.1:" + p(6)}
	if err := s.waitReady(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls until a bucket can be made and an object written: the
// S3 port opens before the filer and the volume server are ready.
func (s *Server) waitReady() error {
	deadline := time.Now().Add(90 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("SeaweedFS exited at start:\n%s", s.Log())
		default:
		}
		if last = s.info.CreateBucket("tandem-ready"); last == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, last = s.info.Client().PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String("tandem-ready"), Key: aws.String("probe"), Body: strings.NewReader("ok")})
			cancel()
			if last == nil {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("SeaweedFS not ready after 90s (%v); log:\n%s", last, s.Log())
}

// Log returns what the server has logged.
func (s *Server) Log() string {
	lw := s.cmd.Stdout.(*lockedWriter)
	return lw.String()
}

// Stop stops the server (and everything it started) and removes its
// directory.
func (s *Server) Stop() error {
	if s.cmd != nil && s.cmd.Process != nil {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-s.done
		}
	}
	return os.RemoveAll(s.Dir)
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	if len(ports) != n {
		return nil, errors.New("s3test: no free ports")
	}
	return ports, nil
}

// lockedWriter collects the server's output from its two pipes.
type lockedWriter struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
