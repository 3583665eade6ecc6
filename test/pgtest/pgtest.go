// Package pgtest runs a throwaway PostgreSQL server for tests: Debian's
// PostgreSQL 15 (package postgresql-15), initialized in a temporary
// directory and listening on a free port of 127.0.0.1, owned by the test
// process so that a test can also kill it with SIGKILL and start it again
// on the same directory (crash recovery).
//
// PostgreSQL refuses to run as root; when the tests do, the server runs as
// the unprivileged user "tandemtest" (created here when missing, as
// test/install-deps.sh also does). A missing PostgreSQL is an error with an
// install hint, never a skip.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// BinDir holds the PostgreSQL server programs.
var BinDir = "/usr/lib/postgresql/15/bin"

// User is who runs the server when the tests run as root.
const User = "tandemtest"

// Server is a running PostgreSQL.
type Server struct {
	Dir  string // data directory (and the Unix socket's)
	Port int
	cred *syscall.Credential
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// Start initializes a new cluster in a temporary directory and starts it.
func Start() (*Server, error) {
	for _, p := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(BinDir, p)); err != nil {
			return nil, fmt.Errorf("PostgreSQL 15 not found (%v): apt-get install -y postgresql-15 (or ./test/install-deps.sh as root)", err)
		}
	}
	s := &Server{}
	if os.Geteuid() == 0 {
		cred, err := unprivileged()
		if err != nil {
			return nil, err
		}
		s.cred = cred
	}
	dir, err := os.MkdirTemp("", "tandem-pg-")
	if err != nil {
		return nil, err
	}
	s.Dir = dir
	s.log = filepath.Join(dir, "server.log")
	data := filepath.Join(dir, "data")
	if s.cred != nil {
		if err := os.Chown(dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			return nil, err
		}
	}
	// --no-sync: the cluster's initial files need no fsync for a test
	// (the server itself runs with fsync on).
	if out, err := s.command("initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if err := s.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

// unprivileged returns the credential of User, creating the user when
// missing.
func unprivileged() (*syscall.Credential, error) {
	u, err := user.Lookup(User)
	if err != nil {
		if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", User).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("PostgreSQL cannot run as root and user %s could not be made: %v\n%s", User, err, out)
		}
		if u, err = user.Lookup(User); err != nil {
			return nil, err
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (s *Server) command(prog string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(BinDir, prog), args...)
	cmd.Dir = s.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred, Setpgid: true}
	return cmd
}

// start runs the postmaster on the data directory (on a new free port the
// first time, on the same port after Kill) and waits until it accepts
// connections.
func (s *Server) start() error {
	if s.Port == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		s.Port = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	s.cmd = s.command("postgres", "-D", filepath.Join(s.Dir, "data"), "-p", strconv.Itoa(s.Port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+s.Dir,
		"-c", "max_connections=200", "-c", "shared_buffers=128MB", "-c", "fsync=on", "-c", "synchronous_commit=on")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(s.cmd, s.done)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := pgx.Connect(ctx, s.DSN("postgres"))
		cancel()
		if err == nil {
			c.Close(context.Background())
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("postgres exited at start:\n%s", s.Log())
		default:
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("postgres not accepting connections after 60s (%v):\n%s", err, s.Log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// DSN is the connection string of database db as the superuser.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", s.Addr(), db)
}

// CreateDB creates database name (an identifier of letters, digits and
// underscores) and returns its DSN.
func (s *Server) CreateDB(name string) (string, error) {
	return CreateDB(s.Addr(), name)
}

// CreateDB creates database name on the server at addr, for processes that
// share a server started by another (see Env).
func CreateDB(addr, name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := fmt.Sprintf("postgres://postgres@%s/", addr)
	c, err := pgx.Connect(ctx, base+"postgres?sslmode=disable")
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	// FILE_COPY: a checkpoint instead of logging every page of the
	// template, much faster for the tiny databases of tests.
	_, err = c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" STRATEGY FILE_COPY")
	var pe *pgconn.PgError
	if err != nil && !(errors.As(err, &pe) && pe.Code == "42P04") { // duplicate_database
		return "", err
	}
	return base + name + "?sslmode=disable", nil
}

// Log returns what the server has logged.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// Kill sends SIGKILL to the postmaster and every process it started, as a
// crash would, and waits for them to be gone. Shared memory (and the
// write-ahead log not yet written out of it) is lost; what was written to
// the kernel survives.
//
// PostgreSQL's children each run in a session of their own, so a signal
// to the postmaster's process group misses them: the postmaster is
// stopped first, so that it starts no more, and its children are found by
// their parent.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	pid := s.cmd.Process.Pid
	syscall.Kill(pid, syscall.SIGSTOP)
	kids := children(pid)
	for _, k := range kids {
		syscall.Kill(k, syscall.SIGKILL)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	<-s.done
	// The restart finds its shared memory still in use until every child
	// has exited.
	for _, k := range kids {
		for i := 0; i < 400 && alive(k); i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
	s.cmd = nil
}

// children lists the processes whose parent is ppid.
func children(ppid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if parent, _, ok := stat(pid); ok && parent == ppid {
			out = append(out, pid)
		}
	}
	return out
}

// alive reports whether pid exists and is not a zombie (a zombie has let
// go of its memory, shared memory included).
func alive(pid int) bool {
	_, state, ok := stat(pid)
	return ok && state != 'Z'
}

// stat reads the parent and state of pid from /proc/PID/stat.
func stat(pid int) (ppid int, state byte, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 2 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return ppid, f[0][0], err == nil
}

// Restart starts the server again on the same directory and port after
// Kill; PostgreSQL recovers from its write-ahead log.
func (s *Server) Restart() error {
	if s.cmd != nil {
		return errors.New("pgtest: server still running")
	}
	return s.start()
}

// Stop shuts the server down (fast shutdown) and removes its directory.
func (s *Server) Stop() error {
	if s.cmd != nil {
		s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			s.Kill()
		}
		s.cmd = nil
	}
	return os.RemoveAll(s.Dir)
}
