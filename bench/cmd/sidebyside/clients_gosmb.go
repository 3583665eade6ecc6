package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/hirochachacha/go-smb2"

	"github.com/tandemfs/tandem/test/smbclient"
)

// goSMBSession is the Go SMB client: hirochachacha/go-smb2 v1.1.0, the
// library the peers' baseline used. It keeps one request in flight and
// sends no FLUSH unless asked to. (cloudsoda's fork reads several times
// faster from the same server; the baseline's numbers are this one's.)
// It has no byte-range locks, so lock pairs go through package smbclient
// on a session of their own.
type goSMBSession struct {
	t     *smbTarget
	sz    sizes
	n     names
	sess  *smb2.Session
	share *smb2.Share
}

func dialGoSMB(t *smbTarget, sz sizes, n names) (*goSMBSession, error) {
	nc, err := net.DialTimeout("tcp", t.addr(), 10*time.Second)
	if err != nil {
		return nil, err
	}
	d := &smb2.Dialer{Initiator: &smb2.NTLMInitiator{User: t.User, Password: t.Password}}
	sess, err := d.Dial(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	share, err := sess.Mount(t.Share)
	if err != nil {
		sess.Logoff()
		return nil, err
	}
	return &goSMBSession{t: t, sz: sz, n: n, sess: sess, share: share}, nil
}

func (s *goSMBSession) close() {
	s.share.Umount()
	s.sess.Logoff()
}

func (s *goSMBSession) do(w string, m *meter) error {
	sh := s.share
	buf := pattern(1 << 20)
	small := buf[:4096]
	switch w {
	case "seqwrite":
		_ = sh.Remove(s.n.seq) // absent the first time
		m.start()
		f, err := sh.Create(s.n.seq)
		if err != nil {
			return err
		}
		defer f.Close()
		for done := int64(0); done < s.sz.SeqBytes; done += int64(len(buf)) {
			if _, err := f.Write(buf); err != nil {
				return err
			}
		}
		m.stop("seqwrite", float64(s.sz.SeqBytes))
		if err := f.Sync(); err != nil {
			return fmt.Errorf("FLUSH: %w", err)
		}
		m.stop("seqwrite+flush", float64(s.sz.SeqBytes))
	case "seqread":
		f, err := sh.Open(s.n.seq)
		if err != nil {
			return err
		}
		defer f.Close()
		m.start()
		var total int64
		for {
			n, err := f.Read(buf)
			total += int64(n)
			if err == io.EOF {
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
		f, err := sh.OpenFile(s.n.seq, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer f.Close()
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
			} else {
				n, err = f.WriteAt(small, off)
			}
			if err != nil && !(errors.Is(err, io.EOF) && n == len(small)) {
				return err
			}
			if n != len(small) {
				return fmt.Errorf("%s: %d of %d bytes", w, n, len(small))
			}
		}
		if w == "randwrite" {
			if err := f.Sync(); err != nil {
				return fmt.Errorf("FLUSH: %w", err)
			}
		}
		m.stop(w, float64(ops))
	case "create":
		if err := sh.Mkdir(s.n.files, 0o755); err != nil {
			return err
		}
		m.start()
		for i := range s.sz.Files {
			f, err := sh.OpenFile(s.n.files+`\`+fileName(i), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return err
			}
			if _, err := f.Write(small); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
		m.stop(w, float64(s.sz.Files))
	case "stat":
		m.start()
		for i := range s.sz.Files {
			if _, err := sh.Stat(s.n.files + `\` + fileName(i)); err != nil {
				return err
			}
		}
		m.stop(w, float64(s.sz.Files))
	case "list":
		m.start()
		ents, err := sh.ReadDir(s.n.files)
		if err != nil {
			return err
		}
		if len(ents) != s.sz.Files {
			return fmt.Errorf("listed %d entries, want %d", len(ents), s.sz.Files)
		}
		m.stop(w, float64(len(ents)))
	case "meta":
		if err := sh.Mkdir(s.n.meta, 0o755); err != nil {
			return err
		}
		m.start()
		for i := range s.sz.MetaRounds {
			a, b := fmt.Sprintf(`%s\d%06d`, s.n.meta, i), fmt.Sprintf(`%s\e%06d`, s.n.meta, i)
			if err := sh.Mkdir(a, 0o755); err != nil {
				return err
			}
			if err := sh.Rename(a, b); err != nil {
				return err
			}
			if err := sh.Remove(b); err != nil {
				return err
			}
		}
		m.stop(w, 3*float64(s.sz.MetaRounds))
	case "lock":
		return s.lock(m)
	default:
		return fmt.Errorf("go-smb2: no workload %q", w)
	}
	return nil
}

// lock takes and releases an exclusive, fail-immediately lock on byte 0
// of a file, LockPairs times, each an SMB2 LOCK request, with the test
// client of package smbclient over SMB 2.0.2 or 2.1 (signed if the server
// requires it).
func (s *goSMBSession) lock(m *meter) error {
	c, tree, err := smbclient.Connect(s.t.addr(), smbclient.Options{
		Dialects: []smbclient.Dialect{smbclient.Dialect202, smbclient.Dialect210},
	}, s.t.User, s.t.Password, s.t.Share)
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := tree.Create(s.n.lock, smbclient.CreateRequest{
		DesiredAccess:  smbclient.AccessReadWrite,
		FileAttributes: smbclient.AttributeNormal,
		ShareAccess:    smbclient.ShareAll,
		Disposition:    smbclient.DispositionOpenIf,
		Options:        smbclient.OptionNonDirectory,
	})
	if err == nil && r.Status != smbclient.StatusSuccess {
		err = &smbclient.StatusError{Op: "CREATE", Status: r.Status}
	}
	if err != nil {
		return err
	}
	lock := smbclient.LockElement{Offset: 0, Length: 1, Flags: smbclient.LockExclusive | smbclient.LockFailImmediately}
	unlock := smbclient.LockElement{Offset: 0, Length: 1, Flags: smbclient.LockUnlock}
	m.start()
	for range s.sz.LockPairs {
		if err := lockCall(tree, r.FileID, lock); err != nil {
			return err
		}
		if err := lockCall(tree, r.FileID, unlock); err != nil {
			return err
		}
	}
	m.stop("lock", float64(s.sz.LockPairs))
	if st, err := tree.Close(r.FileID); err != nil || st != smbclient.StatusSuccess {
		return fmt.Errorf("SMB2 CLOSE: %v %v", st, err)
	}
	return nil
}

// lockCall sends one LOCK and makes anything but success an error.
func lockCall(tree *smbclient.Tree, fid smbclient.FileID, l smbclient.LockElement) error {
	st, err := tree.Lock(fid, l)
	if err == nil && st != smbclient.StatusSuccess {
		err = &smbclient.StatusError{Op: "LOCK", Status: st}
	}
	if err != nil {
		return fmt.Errorf("SMB2 LOCK (flags %#x): %w", l.Flags, err)
	}
	return nil
}
