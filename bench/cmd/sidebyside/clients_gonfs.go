package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"

	"github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"

	"github.com/tandemfs/tandem/test/testserver"
)

// goNFSSession is the Go NFSv3 client: go-nfs-client, the library the
// peers' baseline used (in its vmware original). It keeps one call in
// flight, writes FILE_SYNC and COMMITs on Close, and resolves every path
// from the export root with LOOKUPs.
type goNFSSession struct {
	t      *nfsTarget
	sz     sizes
	n      names
	rpc    *rpc.Client
	auth   rpc.Auth
	target *nfs.Target
}

func dialGoNFS(t *nfsTarget, sz sizes, n names) (*goNFSSession, error) {
	// MOUNT with our own small client: go-nfs-client would ask a
	// portmapper for the MOUNT port and then send NFS calls to it.
	mc, err := testserver.Dial(net.JoinHostPort(t.Host, strconv.Itoa(t.MountPort)))
	if err != nil {
		return nil, err
	}
	root, err := mc.Mount(t.Export)
	mc.Close()
	if err != nil {
		return nil, fmt.Errorf("MOUNT %s: %w", t.Export, err)
	}
	c, err := nfs.DialServiceAtPort(t.Host, t.NFSPort)
	if err != nil {
		return nil, err
	}
	s := &goNFSSession{t: t, sz: sz, n: n, rpc: c, auth: rpc.NewAuthUnix("tandem-bench", 0, 0).Auth()}
	s.target, err = nfs.NewTargetWithClient(c, s.auth, root, t.Export, 0)
	if err != nil {
		c.Close()
		return nil, err
	}
	return s, nil
}

func (s *goNFSSession) close() { s.rpc.Close() }

func (s *goNFSSession) do(w string, m *meter) error {
	v := s.target
	p := func(name string) string { return "/" + name }
	buf := pattern(1 << 20)
	small := buf[:4096]
	switch w {
	case "seqwrite":
		_ = v.Remove(p(s.n.seq)) // absent the first time
		m.start()
		f, err := v.OpenFile(p(s.n.seq), 0o644)
		if err != nil {
			return err
		}
		for done := int64(0); done < s.sz.SeqBytes; done += int64(len(buf)) {
			if _, err := f.Write(buf); err != nil {
				return err
			}
		}
		if err := f.Close(); err != nil {
			return err
		}
		m.stop(w, float64(s.sz.SeqBytes))
	case "seqread":
		f, err := v.Open(p(s.n.seq))
		if err != nil {
			return err
		}
		m.start()
		var total int64
		for {
			n, err := f.Read(buf)
			total += int64(n)
			if err == io.EOF || (err == nil && n == 0) {
				break
			}
			if err != nil {
				return err
			}
		}
		if total != s.sz.SeqBytes {
			return fmt.Errorf("read %d bytes, want %d", total, s.sz.SeqBytes)
		}
		m.stop(w, float64(total))
	case "randread", "randwrite":
		f, err := v.OpenFile(p(s.n.seq), 0o644)
		if err != nil {
			return err
		}
		blocks := uint64(s.sz.SeqBytes / 4096)
		rng := xorshift(xorshiftSeed)
		ops := s.sz.RandReads
		if w == "randwrite" {
			ops = s.sz.RandWrites
		}
		m.start()
		for range ops {
			off := int64(rng.next()%blocks) * 4096
			var n int
			if w == "randread" {
				n, err = f.ReadAt(small, off)
				if err == io.EOF && n == len(small) { // the file's last block
					err = nil
				}
			} else {
				if _, err = f.Seek(off, io.SeekStart); err == nil {
					n, err = f.Write(small)
				}
			}
			if err != nil {
				return err
			}
			if n != len(small) {
				return fmt.Errorf("%s: %d of %d bytes", w, n, len(small))
			}
		}
		if w == "randwrite" {
			if err := f.Close(); err != nil {
				return err
			}
		}
		m.stop(w, float64(ops))
	case "create":
		if _, err := v.Mkdir(p(s.n.files), 0o755); err != nil {
			return err
		}
		m.start()
		for i := range s.sz.Files {
			f, err := v.OpenFile(p(s.n.files)+"/"+fileName(i), 0o644)
			if err != nil {
				return err
			}
			if _, err := f.Write(small); err != nil {
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
		m.stop(w, float64(s.sz.Files))
	case "stat":
		// A target rooted at the directory: each stat is then one LOOKUP
		// (which returns the attributes) in the directory's handle.
		_, dfh, err := v.Lookup(p(s.n.files))
		if err != nil {
			return err
		}
		dir, err := nfs.NewTargetWithClient(s.rpc, s.auth, dfh, p(s.n.files), 0)
		if err != nil {
			return err
		}
		m.start()
		for i := range s.sz.Files {
			if _, _, err := dir.Lookup(fileName(i)); err != nil {
				return err
			}
		}
		m.stop(w, float64(s.sz.Files))
	case "list":
		m.start()
		ents, err := v.ReadDirPlus(p(s.n.files))
		if err != nil {
			return err
		}
		n := 0
		for _, e := range ents {
			if e.FileName != "." && e.FileName != ".." {
				n++
			}
		}
		if n != s.sz.Files {
			return fmt.Errorf("listed %d entries, want %d", n, s.sz.Files)
		}
		m.stop(w, float64(n))
	case "meta":
		d := p(s.n.meta)
		if _, err := v.Mkdir(d, 0o755); err != nil {
			return err
		}
		m.start()
		for i := range s.sz.MetaRounds {
			a, b := fmt.Sprintf("%s/d%06d", d, i), fmt.Sprintf("%s/e%06d", d, i)
			if _, err := v.Mkdir(a, 0o755); err != nil {
				return err
			}
			if err := v.Rename(a, b); err != nil {
				return err
			}
			if err := v.RmDir(b); err != nil {
				return err
			}
		}
		m.stop(w, 3*float64(s.sz.MetaRounds))
	case "lock", "lock-anchored":
		return s.lock(w, m)
	default:
		return fmt.Errorf("go-nfs: no workload %q", w)
	}
	return nil
}

// lock takes and releases an exclusive lock on byte 0 of a file, pairs
// times, with NLM4 LOCK (non-blocking) and UNLOCK calls of
// test/testserver's client. lock-anchored holds a lock on byte 1 of
// the same file meanwhile: a server that starts NSM monitoring of a
// client with its first lock and stops it with its last (Ganesha calls
// statd) then does neither inside the loop.
func (s *goNFSSession) lock(w string, m *meter) error {
	f, err := s.target.OpenFile("/"+s.n.lock, 0o644)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	_, fh, err := s.target.Lookup("/" + s.n.lock)
	if err != nil {
		return err
	}
	c, err := testserver.Dial(net.JoinHostPort(s.t.Host, strconv.Itoa(s.t.NLMPort)))
	if err != nil {
		return err
	}
	defer c.Close()
	lockAt := func(off uint64) testserver.NLMLock {
		return testserver.NLMLock{Caller: "localhost", FH: fh, OH: fmt.Appendf(nil, "go-nfs-%d", os.Getpid()),
			Svid: uint32(os.Getpid()), Offset: off, Length: 1}
	}
	granted := func(st testserver.NLMStat, err error) error {
		if err == nil && st != testserver.NLMGranted {
			err = fmt.Errorf("nlm4 stat %d", st)
		}
		return err
	}
	exclusive := testserver.NLMLockArgs{Exclusive: true}
	pairs := s.sz.NLMPairs
	if w == "lock-anchored" {
		pairs = s.sz.LockPairs
		if err := granted(c.NLMLock(lockAt(1), exclusive)); err != nil {
			return fmt.Errorf("anchor lock: %w", err)
		}
		defer c.NLMUnlock(lockAt(1))
	}
	l := lockAt(0)
	m.start()
	for range pairs {
		if err := granted(c.NLMLock(l, exclusive)); err != nil {
			return fmt.Errorf("NLM4 LOCK: %w", err)
		}
		if err := granted(c.NLMUnlock(l)); err != nil {
			return fmt.Errorf("NLM4 UNLOCK: %w", err)
		}
	}
	m.stop(w, float64(pairs))
	return nil
}
