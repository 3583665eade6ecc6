package fs

import (
	"fmt"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/meta"
)

// list reads dir from cookie, taking at most max entries (all if max < 0).
func (e *env) list(c *Caller, dir Handle, cookie, verf uint64, plus bool, max int) ([]DirEntry, uint64, error) {
	var out []DirEntry
	_, v, err := e.fs.ReadDir(e.ctx, c, dir, cookie, verf, plus, func(de *DirEntry) bool {
		if len(out) == max {
			return false
		}
		out = append(out, *de)
		return true
	})
	return out, v, err
}

func names(ents []DirEntry) []string {
	var s []string
	for _, e := range ents {
		s = append(s, e.Name)
	}
	return s
}

func TestReadDir(t *testing.T) {
	e := newEnv(t)
	d := e.mkdir(alice, e.root, "d", 0o755)
	var made []Handle
	for _, n := range []string{"c", "a", "b"} {
		made = append(made, e.create(alice, d, n, 0o644))
	}
	sub := e.mkdir(alice, d, "sub", 0o755)
	made = append(made, sub)

	ents, verf, err := e.list(eve, d, 0, 0, true, -1)
	if err != nil || verf == 0 {
		t.Fatalf("readdir: %v verf %d", err, verf)
	}
	if got := fmt.Sprint(names(ents)); got != "[. .. c a b sub]" {
		t.Fatalf("names %s (creation order expected)", got)
	}
	if ents[0].Cookie != 1 || ents[1].Cookie != 2 || ents[0].Handle != d || ents[1].Handle != e.root ||
		ents[0].FileID != d.ID || ents[1].FileID != e.root.ID || ents[1].Attr != e.attr(e.root) {
		t.Fatalf("dot entries %+v %+v", ents[0], ents[1])
	}
	last := uint64(2)
	for i, ent := range ents[2:] {
		if ent.Cookie <= last || ent.Handle != made[i] || ent.FileID != made[i].ID || ent.Attr != e.attr(made[i]) {
			t.Fatalf("entry %d %+v", i, ent)
		}
		last = ent.Cookie
	}
	// Without plus there are no handles or attributes.
	plain, verf2, _ := e.list(eve, d, 0, 0, false, -1)
	if len(plain) != 6 || plain[3].Handle != (Handle{}) || plain[3].Attr != (Attr{}) || plain[3].Cookie != ents[3].Cookie || verf2 != verf {
		t.Fatalf("plain listing %+v", plain)
	}
	// Resuming from each cookie lists exactly the rest.
	for i := range ents {
		rest, _, err := e.list(eve, d, ents[i].Cookie, verf, false, -1)
		if err != nil || fmt.Sprint(names(rest)) != fmt.Sprint(names(ents[i+1:])) {
			t.Fatalf("from cookie %d: %v %v", ents[i].Cookie, names(rest), err)
		}
	}
	// ".." of a subdirectory is its parent.
	sents, _, _ := e.list(eve, sub, 0, 0, true, 2)
	if sents[1].Handle != d {
		t.Fatalf(`sub ".." = %+v`, sents[1])
	}
	// Stopping early: the entry refused is not consumed.
	first, _, _ := e.list(eve, d, 0, 0, false, 3)
	if fmt.Sprint(names(first)) != "[. .. c]" {
		t.Fatalf("first page %v", names(first))
	}
}

func TestReadDirErrors(t *testing.T) {
	e := newEnv(t)
	d := e.mkdir(alice, e.root, "d", 0o711)
	f := e.create(alice, d, "f", 0o644)
	_, verf, err := e.list(alice, d, 0, 0, false, -1)
	wantErr(t, "owner lists", err, nil)
	_, _, err = e.list(eve, d, 0, 0, false, -1)
	wantErr(t, "list without read", err, ErrAccess)
	_, _, err = e.list(alice, f, 0, 0, false, -1)
	wantErr(t, "list a file", err, ErrNotDir)
	_, _, err = e.list(alice, d, 5, verf+1, false, -1)
	wantErr(t, "wrong verifier", err, ErrBadCookie)
	_, _, err = e.list(alice, d, 0, verf+1, false, -1)
	wantErr(t, "wrong verifier with cookie 0", err, nil)
	_, _, err = e.list(alice, d, 5, 0, false, -1)
	wantErr(t, "no verifier", err, nil)
	_, _, err = e.list(alice, d, 1<<60, verf, false, -1)
	wantErr(t, "cookie past the end", err, nil)
	_, err = e.fs.Rmdir(e.ctx, alice, e.root, "x")
	wantErr(t, "rmdir missing", err, ErrNotExist)
	e.fs.Remove(e.ctx, alice, d, "f")
	e.fs.Rmdir(e.ctx, alice, e.root, "d")
	_, _, err = e.list(alice, d, 0, 0, false, -1)
	wantErr(t, "list removed dir", err, ErrStale)
}

// TestReadDirResumeAcrossDeletes pages through a directory while entries
// are removed and added: every entry present throughout is listed once,
// removed ones not listed after removal, entries added during the listing
// listed once, and resuming after a removed
// entry's cookie continues where it was.
func TestReadDirResumeAcrossDeletes(t *testing.T) {
	e := newEnv(t)
	const n, added = 300, 10
	for i := range n {
		e.create(alice, e.root, fmt.Sprintf("f%03d", i), 0o644)
	}
	seen := map[string]int{}
	removed := map[string]bool{}
	var cookie, verf uint64
	page := 0
	for {
		ents, v, err := e.list(alice, e.root, cookie, verf, page%2 == 0, 17)
		if err != nil {
			t.Fatal(err)
		}
		verf = v
		if len(ents) == 0 {
			break
		}
		for _, ent := range ents {
			seen[ent.Name]++
			if removed[ent.Name] {
				t.Fatalf("listed %s after its removal", ent.Name)
			}
		}
		cookie = ents[len(ents)-1].Cookie
		// Remove the entry the cookie points at, one already listed and one
		// not yet listed; add one (it comes later, so it is listed too).
		last := ents[len(ents)-1].Name
		ahead := fmt.Sprintf("f%03d", (page*17+40)%n)
		for _, name := range []string{last, ahead} {
			if name == "." || name == ".." || removed[name] {
				continue
			}
			if _, err := e.fs.Remove(e.ctx, alice, e.root, name); err != nil {
				t.Fatalf("remove %s: %v", name, err)
			}
			removed[name] = true
		}
		if page < added {
			e.create(alice, e.root, fmt.Sprintf("new%03d", page), 0o644)
		}
		page++
		if page > n {
			t.Fatal("listing does not end")
		}
	}
	for i := range n {
		name := fmt.Sprintf("f%03d", i)
		if c := seen[name]; c > 1 || (c == 0 && !removed[name]) {
			t.Fatalf("%s listed %d times (removed %v)", name, c, removed[name])
		}
	}
	for i := range added {
		if name := fmt.Sprintf("new%03d", i); seen[name] != 1 && !removed[name] {
			t.Fatalf("%s added during the listing was listed %d times", name, seen[name])
		}
	}
	if seen["."] != 1 || seen[".."] != 1 {
		t.Fatalf("dots %d %d", seen["."], seen[".."])
	}
}

// fill puts n files named by format into dir straight through the store,
// in large transactions: going through Create once per file would make
// this test take most of its time creating.
func (e *env) fill(dir Handle, n int, format string) {
	e.t.Helper()
	for done := 0; done < n; {
		err := e.meta.Update(e.ctx, func(tx meta.Tx) error {
			for i := done; i < min(n, done+10000); i++ {
				id, err := tx.AllocID()
				if err != nil {
					return err
				}
				ino := meta.Inode{ID: id, Gen: newGen(dir.Share), Type: meta.TypeRegular, Mode: 0o644, Nlink: 1, UID: 1000, GID: 1000}
				if err := tx.PutInode(&ino); err != nil {
					return err
				}
				if _, err := tx.AddEntry(dir.ID, fmt.Sprintf(format, i), id); err != nil {
					return err
				}
			}
			return addFiles(tx, int64(min(n-done, 10000)))
		})
		if err != nil {
			e.t.Fatal(err)
		}
		done += 10000
	}
}

func TestReadDirLarge(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	e := newEnv(t)
	d := e.mkdir(alice, e.root, "big", 0o755)
	start := time.Now()
	e.fill(d, n, "entry-%06d")
	made := time.Since(start)
	start = time.Now()
	seen := make([]bool, n)
	var cookie, verf uint64
	count, pages := 0, 0
	for {
		var last uint64
		got := 0
		_, v, err := e.fs.ReadDir(e.ctx, alice, d, cookie, verf, pages%2 == 1, func(de *DirEntry) bool {
			if got == 1000 { // a client reply's worth
				return false
			}
			got++
			last = de.Cookie
			if de.Name == "." || de.Name == ".." {
				return true
			}
			var i int
			if _, err := fmt.Sscanf(de.Name, "entry-%06d", &i); err != nil || seen[i] {
				t.Fatalf("entry %q listed twice or unknown", de.Name)
			}
			seen[i] = true
			count++
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if got == 0 {
			break
		}
		cookie, verf = last, v
	}
	if count != n {
		t.Fatalf("listed %d of %d", count, n)
	}
	t.Logf("created %d in %v, listed in %d pages in %v", n, made, pages, time.Since(start))
}
