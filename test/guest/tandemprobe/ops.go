package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// op is one operation of a script.  Which fields count depends on Op:
//
//	open       path flags mode -> fd (default "f")   flags: "O_RDWR|O_CREAT|O_EXCL|..."
//	close      fd
//	write      fd data -> n            pwrite  fd off data -> n
//	read       fd len -> data/b64      pread   fd off len -> data/b64
//	fsync      fd                      ftruncate fd size
//	seek       fd off whence -> n (new offset)
//	lock       fd cmd type start len whence
//	           cmd: F_SETLK F_SETLKW F_GETLK F_OFD_SETLK F_OFD_SETLKW F_OFD_GETLK
//	           type: rd wr un; GETLK reports the conflicting lock (or type "un")
//	flock      fd type(sh ex un) nb
//	stat/lstat path -> stat            fstat fd -> stat
//	mkdir      path mode               unlink/rmdir path
//	rename     path path2              link path path2 (new name)
//	symlink    path (target) path2 (new name)   readlink path -> target
//	mkfiles    path (dir) count prefix data flags -> n   files prefix0..prefixN-1;
//	           "{i}" in data becomes the index; flags default O_WRONLY|O_CREAT|O_EXCL
//	readdir    path -> names (directory order, without . and ..), n
//	writepattern  path size chunk seed fsync ms progress -> n
//	           writes the seed's pattern chunk by chunk, fsync after each if
//	           fsync, sleeping ms between chunks, and writes the number of
//	           bytes done to the file progress (if set) after each chunk
//	verifypattern path size seed -> n (= size, or the first bad offset)
//	sleep      ms                      getpid -> pid
//	touch      path (creates it)       waitfile path ms (timeout, default 60 s)
//	waitgone   path ms -> n            stats path every 10 ms until it is not
//	           found (ENOENT) and reports the milliseconds that took; fails
//	           with ETIMEDOUT after ms (default 60 s)
//	exit       stops reading the script
type op struct {
	Op       string `json:"op"`
	ID       string `json:"id,omitempty"`
	FD       string `json:"fd,omitempty"`
	Path     string `json:"path,omitempty"`
	Path2    string `json:"path2,omitempty"`
	Flags    string `json:"flags,omitempty"`
	Mode     string `json:"mode,omitempty"`
	Data     string `json:"data,omitempty"`
	Off      int64  `json:"off,omitempty"`
	Len      int64  `json:"len,omitempty"`
	Size     int64  `json:"size,omitempty"`
	Whence   int    `json:"whence,omitempty"`
	Cmd      string `json:"cmd,omitempty"`
	Type     string `json:"type,omitempty"`
	Start    int64  `json:"start,omitempty"`
	NB       bool   `json:"nb,omitempty"`
	MS       int64  `json:"ms,omitempty"`
	Count    int    `json:"count,omitempty"`
	Prefix   string `json:"prefix,omitempty"`
	Chunk    int64  `json:"chunk,omitempty"`
	Seed     uint64 `json:"seed,omitempty"`
	Fsync    bool   `json:"fsync,omitempty"`
	Progress string `json:"progress,omitempty"`
}

type lockInfo struct {
	Type  string `json:"type"`
	Start int64  `json:"start"`
	Len   int64  `json:"len"`
	Pid   int32  `json:"pid"`
}

type statInfo struct {
	Type  string `json:"type"` // file dir symlink fifo socket char block
	Mode  string `json:"mode"` // permission bits in octal, e.g. "0644"
	Size  int64  `json:"size"`
	Nlink uint64 `json:"nlink"`
	UID   uint32 `json:"uid"`
	GID   uint32 `json:"gid"`
	Ino   uint64 `json:"ino"`
	Atime int64  `json:"atime_ns"`
	Mtime int64  `json:"mtime_ns"`
	Ctime int64  `json:"ctime_ns"`
}

func (p *probe) fd(o *op) (*os.File, error) {
	name := o.FD
	if name == "" {
		name = "f"
	}
	f := p.fds[name]
	if f == nil {
		return nil, fmt.Errorf("no open file %q", name)
	}
	return f, nil
}

func (p *probe) do(o *op, r *result) error {
	switch o.Op {
	case "open":
		return p.open(o)
	case "close":
		f, err := p.fd(o)
		if err != nil {
			return err
		}
		delete(p.fds, fdName(o))
		return unixErr(f.Close())
	case "write", "pwrite":
		f, err := p.fd(o)
		if err != nil {
			return err
		}
		var n int
		if o.Op == "write" {
			n, err = unix.Write(int(f.Fd()), []byte(o.Data))
		} else {
			n, err = unix.Pwrite(int(f.Fd()), []byte(o.Data), o.Off)
		}
		r.N = int64(n)
		return err
	case "read", "pread":
		f, err := p.fd(o)
		if err != nil {
			return err
		}
		buf := make([]byte, o.Len)
		var n int
		if o.Op == "read" {
			n, err = unix.Read(int(f.Fd()), buf)
		} else {
			n, err = unix.Pread(int(f.Fd()), buf, o.Off)
		}
		if n > 0 {
			r.setData(buf[:n])
		}
		r.N = int64(max(n, 0))
		return err
	case "fsync":
		f, err := p.fd(o)
		if err != nil {
			return err
		}
		return unix.Fsync(int(f.Fd()))
	case "ftruncate":
		f, err := p.fd(o)
		if err != nil {
			return err
		}
		return unix.Ftruncate(int(f.Fd()), o.Size)
	case "seek":
		f, err := p.fd(o)
		if err != nil {
			return err
		}
		r.N, err = unix.Seek(int(f.Fd()), o.Off, o.Whence)
		return err
	case "lock":
		return p.lock(o, r)
	case "flock":
		return p.flock(o)
	case "stat", "lstat", "fstat":
		return p.stat(o, r)
	case "mkdir":
		mode, err := parseMode(o.Mode, 0o755)
		if err != nil {
			return err
		}
		return unix.Mkdir(o.Path, mode)
	case "unlink":
		return unix.Unlink(o.Path)
	case "rmdir":
		return unix.Rmdir(o.Path)
	case "rename":
		return unix.Rename(o.Path, o.Path2)
	case "link":
		return unix.Link(o.Path, o.Path2)
	case "symlink":
		return unix.Symlink(o.Path, o.Path2)
	case "readlink":
		t, err := os.Readlink(o.Path)
		r.Target = t
		return unixErr(err)
	case "mkfiles":
		return mkfiles(o, r)
	case "readdir":
		return readdir(o, r)
	case "writepattern":
		return writePattern(o, r)
	case "verifypattern":
		return verifyPattern(o, r)
	case "sleep":
		time.Sleep(time.Duration(o.MS) * time.Millisecond)
		return nil
	case "getpid":
		r.Pid = os.Getpid()
		return nil
	case "touch":
		fd, err := unix.Open(o.Path, unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return err
		}
		return unix.Close(fd)
	case "waitfile":
		return waitFile(o.Path, o.MS)
	case "waitgone":
		return waitGone(o.Path, o.MS, r)
	case "exit":
		return nil
	}
	return fmt.Errorf("unknown operation %q", o.Op)
}

func fdName(o *op) string {
	if o.FD == "" {
		return "f"
	}
	return o.FD
}

var openFlags = map[string]int{
	"O_RDONLY": unix.O_RDONLY, "O_WRONLY": unix.O_WRONLY, "O_RDWR": unix.O_RDWR,
	"O_CREAT": unix.O_CREAT, "O_EXCL": unix.O_EXCL, "O_TRUNC": unix.O_TRUNC,
	"O_APPEND": unix.O_APPEND, "O_SYNC": unix.O_SYNC, "O_DSYNC": unix.O_DSYNC,
	"O_DIRECT": unix.O_DIRECT, "O_NOFOLLOW": unix.O_NOFOLLOW,
	"O_DIRECTORY": unix.O_DIRECTORY,
}

func parseFlags(s string) (int, error) {
	flags := 0
	for _, name := range strings.Split(s, "|") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		f, ok := openFlags[name]
		if !ok {
			return 0, fmt.Errorf("unknown open flag %q", name)
		}
		flags |= f
	}
	return flags, nil
}

func (p *probe) open(o *op) error {
	flags, err := parseFlags(o.Flags)
	if err != nil {
		return err
	}
	flags |= unix.O_CLOEXEC
	mode, err := parseMode(o.Mode, 0o644)
	if err != nil {
		return err
	}
	name := fdName(o)
	if p.fds[name] != nil {
		return fmt.Errorf("file %q is already open", name)
	}
	fd, err := unix.Open(o.Path, flags, mode)
	if err != nil {
		return err
	}
	p.fds[name] = os.NewFile(uintptr(fd), o.Path)
	return nil
}

func parseMode(s string, def uint32) (uint32, error) {
	if s == "" {
		return def, nil
	}
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("mode %q: not octal", s)
	}
	return uint32(m), nil
}

var lockCmds = map[string]int{
	"F_SETLK": unix.F_SETLK, "F_SETLKW": unix.F_SETLKW, "F_GETLK": unix.F_GETLK,
	"F_OFD_SETLK": unix.F_OFD_SETLK, "F_OFD_SETLKW": unix.F_OFD_SETLKW, "F_OFD_GETLK": unix.F_OFD_GETLK,
}

var lockTypes = map[string]int16{"rd": unix.F_RDLCK, "wr": unix.F_WRLCK, "un": unix.F_UNLCK}

func lockTypeName(t int16) string {
	for n, v := range lockTypes {
		if v == t {
			return n
		}
	}
	return strconv.Itoa(int(t))
}

func (p *probe) lock(o *op, r *result) error {
	f, err := p.fd(o)
	if err != nil {
		return err
	}
	cmd, ok := lockCmds[o.Cmd]
	if !ok {
		return fmt.Errorf("unknown lock cmd %q", o.Cmd)
	}
	typ, ok := lockTypes[o.Type]
	if !ok {
		return fmt.Errorf("unknown lock type %q (rd, wr, un)", o.Type)
	}
	lk := unix.Flock_t{Type: typ, Whence: int16(o.Whence), Start: o.Start, Len: o.Len}
	if err := unix.FcntlFlock(f.Fd(), cmd, &lk); err != nil {
		return err
	}
	if cmd == unix.F_GETLK || cmd == unix.F_OFD_GETLK {
		r.Lock = &lockInfo{Type: lockTypeName(lk.Type), Start: lk.Start, Len: lk.Len, Pid: lk.Pid}
	}
	return nil
}

func (p *probe) flock(o *op) error {
	f, err := p.fd(o)
	if err != nil {
		return err
	}
	how := map[string]int{"sh": unix.LOCK_SH, "ex": unix.LOCK_EX, "un": unix.LOCK_UN}
	h, ok := how[o.Type]
	if !ok {
		return fmt.Errorf("unknown flock type %q (sh, ex, un)", o.Type)
	}
	if o.NB {
		h |= unix.LOCK_NB
	}
	return unix.Flock(int(f.Fd()), h)
}

func (p *probe) stat(o *op, r *result) error {
	var st unix.Stat_t
	var err error
	switch o.Op {
	case "stat":
		err = unix.Stat(o.Path, &st)
	case "lstat":
		err = unix.Lstat(o.Path, &st)
	default:
		var f *os.File
		if f, err = p.fd(o); err == nil {
			err = unix.Fstat(int(f.Fd()), &st)
		}
	}
	if err != nil {
		return err
	}
	types := map[uint32]string{
		unix.S_IFREG: "file", unix.S_IFDIR: "dir", unix.S_IFLNK: "symlink", unix.S_IFIFO: "fifo",
		unix.S_IFSOCK: "socket", unix.S_IFCHR: "char", unix.S_IFBLK: "block",
	}
	r.Stat = &statInfo{
		Type: types[st.Mode&unix.S_IFMT], Mode: fmt.Sprintf("%04o", st.Mode&0o7777),
		Size: st.Size, Nlink: st.Nlink, UID: st.Uid, GID: st.Gid, Ino: st.Ino,
		Atime: st.Atim.Nano(), Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(),
	}
	return nil
}

func mkfiles(o *op, r *result) error {
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL
	if o.Flags != "" {
		var err error
		if flags, err = parseFlags(o.Flags); err != nil {
			return err
		}
	}
	for i := 0; i < o.Count; i++ {
		name := filepath.Join(o.Path, o.Prefix+strconv.Itoa(i))
		fd, err := unix.Open(name, flags|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if o.Data != "" {
			data := strings.ReplaceAll(o.Data, "{i}", strconv.Itoa(i))
			if _, err := unix.Write(fd, []byte(data)); err != nil {
				unix.Close(fd)
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		if err := unix.Close(fd); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		r.N++
	}
	return nil
}

func readdir(o *op, r *result) error {
	f, err := os.Open(o.Path)
	if err != nil {
		return unixErr(err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	r.Names = names
	r.N = int64(len(names))
	return unixErr(err)
}

func waitFile(path string, ms int64) error {
	if ms == 0 {
		ms = 60_000
	}
	deadline := time.Now().Add(time.Duration(ms) * time.Millisecond)
	for {
		var st unix.Stat_t
		if err := unix.Stat(path, &st); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return unix.ETIMEDOUT
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitGone is how a program finds out when a name another client
// removed is gone from its own view of the directory.
func waitGone(path string, ms int64, r *result) error {
	if ms == 0 {
		ms = 60_000
	}
	start := time.Now()
	for {
		var st unix.Stat_t
		err := unix.Stat(path, &st)
		r.N = time.Since(start).Milliseconds()
		switch {
		case err == unix.ENOENT:
			return nil
		case err != nil:
			return err
		case r.N > ms:
			return unix.ETIMEDOUT
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// unixErr unwraps os and fs errors to the errno, so reports name it.
func unixErr(err error) error {
	if err == nil {
		return nil
	}
	var errno unix.Errno
	if errors.As(err, &errno) {
		return fmt.Errorf("%v: %w", err, errno)
	}
	return err
}
