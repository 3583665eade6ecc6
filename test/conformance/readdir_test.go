package conformance

import (
	"fmt"
	"sync"
	"testing"

	"github.com/willscott/go-nfs-client/nfs/xdr"
)

type readdirPage struct {
	status  uint32
	head    readdirHead
	entries []entry3
	eof     bool
}

func readdirOnce(c *client, dir []byte, cookie, verf uint64, count uint32) readdirPage {
	c.t.Helper()
	st, r := nfsCall(c, procReaddir, readdirArgs{Dir: dir, Cookie: cookie, Verf: verf, Count: count})
	p := readdirPage{status: st}
	if st != nfsOK {
		decode[postOpAttr](c, "READDIR", r, true)
		return p
	}
	p.head = decode[readdirHead](c, "READDIR", r, false)
	p.entries = readList[entry3](c, "READDIR", r)
	p.eof = decode[bool](c, "READDIR", r, true)
	return p
}

type readdirplusPage struct {
	status  uint32
	head    readdirHead
	entries []entryplus3
	eof     bool
}

func readdirplusOnce(c *client, dir []byte, cookie, verf uint64, dircount, maxcount uint32) readdirplusPage {
	c.t.Helper()
	st, r := nfsCall(c, procReaddirplus, readdirplusArgs{Dir: dir, Cookie: cookie, Verf: verf, DirCount: dircount, MaxCount: maxcount})
	p := readdirplusPage{status: st}
	if st != nfsOK {
		decode[postOpAttr](c, "READDIRPLUS", r, true)
		return p
	}
	p.head = decode[readdirHead](c, "READDIRPLUS", r, false)
	p.entries = readList[entryplus3](c, "READDIRPLUS", r)
	p.eof = decode[bool](c, "READDIRPLUS", r, true)
	return p
}

// readdirAll lists a directory with READDIR calls of count bytes,
// following cookies, and checks each page's framing.
func readdirAll(c *client, dir []byte, count uint32) []entry3 {
	c.t.Helper()
	var all []entry3
	var cookie, verf uint64
	for page := 0; ; page++ {
		p := readdirOnce(c, dir, cookie, verf, count)
		if p.status != nfsOK {
			c.t.Fatalf("READDIR page %d (cookie %d): %s", page, cookie, statName(p.status))
		}
		if page > 0 && p.head.Verf != verf {
			c.t.Fatalf("READDIR page %d: cookie verifier changed from %#x to %#x with the directory unchanged", page, verf, p.head.Verf)
		}
		all = append(all, p.entries...)
		if p.eof {
			return all
		}
		if len(p.entries) == 0 {
			c.t.Fatalf("READDIR page %d: no entries and no eof", page)
		}
		cookie, verf = p.entries[len(p.entries)-1].Cookie, p.head.Verf
		if page > 100000 {
			c.t.Fatalf("READDIR: no end after %d pages", page)
		}
	}
}

func readdirplusAll(c *client, dir []byte, dircount, maxcount uint32) []entryplus3 {
	c.t.Helper()
	var all []entryplus3
	var cookie, verf uint64
	for page := 0; ; page++ {
		p := readdirplusOnce(c, dir, cookie, verf, dircount, maxcount)
		if p.status != nfsOK {
			c.t.Fatalf("READDIRPLUS page %d (cookie %d): %s", page, cookie, statName(p.status))
		}
		if page > 0 && p.head.Verf != verf {
			c.t.Fatalf("READDIRPLUS page %d: cookie verifier changed from %#x to %#x with the directory unchanged", page, verf, p.head.Verf)
		}
		all = append(all, p.entries...)
		if p.eof {
			return all
		}
		if len(p.entries) == 0 {
			c.t.Fatalf("READDIRPLUS page %d: no entries and no eof", page)
		}
		cookie, verf = p.entries[len(p.entries)-1].Cookie, p.head.Verf
		if page > 100000 {
			c.t.Fatalf("READDIRPLUS: no end after %d pages", page)
		}
	}
}

// createConcurrently makes a file from a goroutine other than the test's
// and returns its file id.
func createConcurrently(c *client, dir []byte, name string) (uint64, error) {
	r, err := callErr(c, 100003, procCreate, createArgs{Where: diropargs3{dir, name}, Mode: guarded, Attr: setMode(0o644)})
	if err != nil {
		return 0, err
	}
	var st uint32
	var res diropOK
	if err := xdr.Read(r, &st); err != nil {
		return 0, fmt.Errorf("CREATE %s: %v", name, err)
	}
	if st != nfsOK {
		return 0, fmt.Errorf("CREATE %s: %s", name, statName(st))
	}
	if err := xdr.Read(r, &res); err != nil {
		return 0, fmt.Errorf("CREATE %s: %v", name, err)
	}
	if !res.Attr.Present {
		return 0, fmt.Errorf("CREATE %s: no attributes", name)
	}
	return res.Attr.Attr.FileID, nil
}

// TestReaddirPaging lists a directory of 2,000 files in small pages and
// checks that every entry comes exactly once, with its own file id, under
// a cookie that resumes after it.
func TestReaddirPaging(t *testing.T) {
	ts := startServer(t)
	c, root := session(t, ts)
	dir := c.mkdir(root, "big", 0o755)

	const n = 2000
	names := make([]string, n)
	for i := range names {
		// Names of varied lengths so that pages end at different places.
		names[i] = fmt.Sprintf("file-%04d-%s", i, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"[:i%41])
	}
	var wg sync.WaitGroup
	ids := make([]uint64, n)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				id, err := createConcurrently(c, dir, names[i])
				if err != nil {
					t.Error(err)
					return
				}
				ids[i] = id
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	want := map[string]uint64{}
	for i, name := range names {
		want[name] = ids[i]
	}

	check := func(t *testing.T, what string, names []string, fileids []uint64, cookies []uint64) {
		seen := map[string]int{}
		cookieSeen := map[uint64]string{}
		for i, name := range names {
			seen[name]++
			if seen[name] == 2 {
				t.Errorf("%s: %q listed twice", what, name)
			}
			if id, ok := want[name]; ok && id != fileids[i] {
				t.Errorf("%s: %q file id %d, want %d", what, name, fileids[i], id)
			} else if !ok && name != "." && name != ".." {
				t.Errorf("%s: unexpected entry %q", what, name)
			}
			if prev, dup := cookieSeen[cookies[i]]; dup {
				t.Errorf("%s: %q and %q share cookie %d", what, prev, name, cookies[i])
			}
			cookieSeen[cookies[i]] = name
			if cookies[i] == 0 {
				t.Errorf("%s: %q has cookie 0, which means the start", what, name)
			}
		}
		for name := range want {
			if seen[name] == 0 {
				t.Errorf("%s: %q missing", what, name)
			}
		}
	}

	t.Run("READDIR", func(t *testing.T) {
		var names []string
		var fileids, cookies []uint64
		pages := 0
		var cookie, verf uint64
		for {
			p := readdirOnce(c, dir, cookie, verf, 1024)
			if p.status != nfsOK {
				t.Fatalf("READDIR page %d: %s", pages, statName(p.status))
			}
			pages++
			for _, e := range p.entries {
				names = append(names, e.Name)
				fileids = append(fileids, e.FileID)
				cookies = append(cookies, e.Cookie)
			}
			if p.eof {
				break
			}
			if len(p.entries) == 0 {
				t.Fatalf("READDIR page %d: empty without eof", pages)
			}
			cookie, verf = p.entries[len(p.entries)-1].Cookie, p.head.Verf
		}
		if pages < 20 {
			t.Errorf("READDIR with count 1024 over %d entries took %d pages; the count is not honoured", n, pages)
		}
		check(t, "READDIR", names, fileids, cookies)
		t.Logf("READDIR: %d entries in %d pages", len(names), pages)
	})

	t.Run("READDIRPLUS", func(t *testing.T) {
		entries := readdirplusAll(c, dir, 1024, 16384)
		var names []string
		var fileids, cookies []uint64
		for _, e := range entries {
			names = append(names, e.Name)
			fileids = append(fileids, e.FileID)
			cookies = append(cookies, e.Cookie)
			if e.Name != "." && e.Name != ".." && (!e.Attr.Present || !e.FH.Present || e.Attr.Attr.FileID != e.FileID) {
				t.Errorf("READDIRPLUS %q: attributes %v handle %v file id %d/%d", e.Name, e.Attr.Present, e.FH.Present, e.Attr.Attr.FileID, e.FileID)
			}
		}
		check(t, "READDIRPLUS", names, fileids, cookies)
	})

	t.Run("resume from every cookie", func(t *testing.T) {
		// Resuming from entry k's cookie must list exactly the entries after k.
		all := readdirAll(c, dir, 65536)
		verf := readdirOnce(c, dir, 0, 0, 65536).head.Verf
		for _, k := range []int{0, 1, 7, 500, 1999, len(all) - 2} {
			if k < 0 || k >= len(all) {
				continue
			}
			p := readdirOnce(c, dir, all[k].Cookie, verf, 4096)
			if p.status != nfsOK {
				t.Errorf("READDIR from cookie of entry %d: %s", k, statName(p.status))
				continue
			}
			if len(p.entries) == 0 || p.entries[0].Name != all[k+1].Name {
				got := "(none)"
				if len(p.entries) > 0 {
					got = p.entries[0].Name
				}
				t.Errorf("READDIR from cookie of entry %d (%q): first %q, want %q", k, all[k].Name, got, all[k+1].Name)
			}
		}
		// From the last cookie: nothing more, and eof.
		p := readdirOnce(c, dir, all[len(all)-1].Cookie, verf, 4096)
		if p.status != nfsOK || len(p.entries) != 0 || !p.eof {
			t.Errorf("READDIR from the last cookie: %s, %d entries, eof %v; want OK, none, eof", statName(p.status), len(p.entries), p.eof)
		}
	})
}
