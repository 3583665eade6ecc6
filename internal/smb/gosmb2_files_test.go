package smb

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	smb2 "github.com/cloudsoda/go-smb2"
)

// TestGoSMB2Files drives the file operations through go-smb2 at every
// dialect, plain and encrypted, and checks each answer against the file
// system.
func TestGoSMB2Files(t *testing.T) {
	e := newEnv(t, Options{})
	data := make([]byte, 1<<20+4321)
	rand.Read(data)
	for _, tc := range []struct {
		dialect uint16
		share   string
	}{
		{Dialect202, "export"}, {Dialect210, "export"}, {Dialect300, "export"},
		{Dialect302, "secret"}, {Dialect311, "export"}, {Dialect311, "secret"},
	} {
		s, err := e.dial("alice", alicePass, smb2.Negotiator{SpecifiedDialect: tc.dialect})
		if err != nil {
			t.Fatal(err)
		}
		sh, err := s.Mount(tc.share)
		if err != nil {
			t.Fatal(err)
		}
		name := func(n string) string { return "d" + string(rune('0'+tc.dialect%16)) + tc.share + `\` + n }
		fail := func(what string, err error) {
			t.Helper()
			t.Fatalf("dialect %#x on %s: %s: %v", tc.dialect, tc.share, what, err)
		}
		if err := sh.Mkdir(name("")[:len(name(""))-1], 0o755); err != nil {
			fail("mkdir", err)
		}
		if err := sh.WriteFile(name("a"), data, 0o644); err != nil {
			fail("write", err)
		}
		got, err := sh.ReadFile(name("a"))
		if err != nil || !bytes.Equal(got, data) {
			fail("read back", err)
		}
		fi, err := sh.Stat(name("a"))
		if err != nil || fi.Size() != int64(len(data)) || fi.IsDir() {
			fail("stat", err)
		}
		// Server-side copy: io.Copy between two files of one share.
		src, err := sh.Open(name("a"))
		if err != nil {
			fail("open", err)
		}
		dst, err := sh.Create(name("copy"))
		if err != nil {
			fail("create", err)
		}
		if n, err := io.Copy(dst, src); err != nil || n != int64(len(data)) {
			fail("server-side copy", err)
		}
		src.Close()
		dst.Close()
		if got, err := sh.ReadFile(name("copy")); err != nil || !bytes.Equal(got, data) {
			fail("read the copy", err)
		}
		mtime := time.Date(2003, 4, 5, 6, 7, 8, 900, time.UTC)
		if err := sh.Chtimes(name("copy"), mtime, mtime); err != nil {
			fail("chtimes", err)
		}
		if fi, err := sh.Stat(name("copy")); err != nil || !fi.ModTime().Equal(mtime) {
			fail("mtime after chtimes", err)
		}
		if err := sh.Truncate(name("copy"), 10); err != nil {
			fail("truncate", err)
		}
		if err := sh.Chmod(name("copy"), 0o444); err != nil {
			fail("chmod", err)
		}
		if fi, err := sh.Stat(name("copy")); err != nil || fi.Size() != 10 || fi.Mode().Perm()&0o200 != 0 {
			fail("stat after truncate and chmod", err)
		}
		if _, err := sh.OpenFile(name("copy"), os.O_WRONLY, 0); !errors.Is(err, os.ErrPermission) {
			fail("open a read-only file for writing", err)
		}
		if err := sh.Rename(name("a"), name("b")); err != nil {
			fail("rename", err)
		}
		if err := sh.Rename(name("copy"), name("c")); err != nil {
			fail("rename of a read-only file", err)
		}
		list, err := sh.ReadDir(name("")[:len(name(""))-1])
		if err != nil {
			fail("readdir", err)
		}
		var names []string
		for _, fi := range list {
			names = append(names, fi.Name())
			if st, ok := fi.Sys().(*smb2.FileStat); !ok || st.FileId == 0 {
				fail("readdir file id", nil)
			}
		}
		if !slices.Equal(names, []string{"b", "c"}) {
			fail("readdir names", errors.New(fmt.Sprint(names)))
		}
		if err := sh.Rename(name("c"), name("b")); err != nil {
			fail("rename over a file", err)
		}
		if fi, err := sh.Stat(name("b")); err != nil || fi.Size() != 10 {
			fail("stat after rename over a file", err)
		}
		if _, err := sh.Statfs(name("")[:len(name(""))-1]); err != nil {
			fail("statfs", err)
		}
		if err := sh.Remove(name("b")); err != nil {
			fail("remove", err)
		}
		if err := sh.RemoveAll(name("")[:len(name(""))-1]); err != nil {
			fail("remove all", err)
		}
		if _, err := sh.Stat(name("")[:len(name(""))-1]); !errors.Is(err, os.ErrNotExist) {
			fail("stat after remove all", err)
		}
		sh.Umount()
		s.Logoff()
	}
}
