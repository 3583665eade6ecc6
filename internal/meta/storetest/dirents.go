package storetest

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/tandemfs/tandem/internal/meta"
)

func addEntries(t *testing.T, s meta.Store, dir uint64, names ...string) []uint64 {
	t.Helper()
	var cookies []uint64
	update(t, s, func(tx meta.Tx) error {
		for i, n := range names {
			c, err := tx.AddEntry(dir, n, 1000+uint64(i))
			if err != nil {
				return fmt.Errorf("AddEntry(%q): %w", n, err)
			}
			cookies = append(cookies, c)
		}
		return nil
	})
	return cookies
}

func names(es []meta.Dirent) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out
}

func expectNames(t *testing.T, s meta.Store, dir, after uint64, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	if got := names(listDir(t, s, dir, after)); !reflect.DeepEqual(got, want) {
		t.Fatalf("ReadDir(%d, after %d) = %q, want %q", dir, after, got, want)
	}
}

func testDirents(t *testing.T, s meta.Store) {
	const dir = 7
	view(t, s, func(tx meta.Tx) error {
		if _, err := tx.Lookup(dir, "a"); err != meta.ErrNotFound {
			t.Errorf("Lookup(missing) = %v, want ErrNotFound", err)
		}
		if empty, err := tx.DirEmpty(dir); !empty || err != nil {
			t.Errorf("DirEmpty(new) = %v, %v", empty, err)
		}
		return nil
	})
	// Listing order is cookie order, i.e. creation order, not name order.
	cookies := addEntries(t, s, dir, "zeta", "alpha", "mu")
	if !reflect.DeepEqual(cookies, []uint64{3, 4, 5}) {
		t.Fatalf("cookies = %v, want [3 4 5]", cookies)
	}
	got := listDir(t, s, dir, 0)
	want := []meta.Dirent{
		{Name: "zeta", ID: 1000, Cookie: 3},
		{Name: "alpha", ID: 1001, Cookie: 4},
		{Name: "mu", ID: 1002, Cookie: 5},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ReadDir = %+v\nwant %+v", got, want)
	}
	view(t, s, func(tx meta.Tx) error {
		e, err := tx.Lookup(dir, "alpha")
		if err != nil || e != want[1] {
			t.Errorf("Lookup(alpha) = %+v, %v", e, err)
		}
		if _, err := tx.Lookup(dir, "alph"); err != meta.ErrNotFound {
			t.Errorf("Lookup(prefix of a name) = %v, want ErrNotFound", err)
		}
		if _, err := tx.Lookup(dir, "alphabet"); err != meta.ErrNotFound {
			t.Errorf("Lookup(extension of a name) = %v, want ErrNotFound", err)
		}
		if empty, err := tx.DirEmpty(dir); empty || err != nil {
			t.Errorf("DirEmpty = %v, %v", empty, err)
		}
		return nil
	})

	update(t, s, func(tx meta.Tx) error {
		if _, err := tx.AddEntry(dir, "mu", 5); err != meta.ErrExists {
			t.Errorf("AddEntry(existing) = %v, want ErrExists", err)
		}
		if err := tx.RemoveEntry(dir, "nope"); err != meta.ErrNotFound {
			t.Errorf("RemoveEntry(missing) = %v, want ErrNotFound", err)
		}
		return nil
	})
	// The failed AddEntry left "mu" as it was.
	view(t, s, func(tx meta.Tx) error {
		if e, err := tx.Lookup(dir, "mu"); err != nil || e != want[2] {
			t.Errorf("Lookup(mu) = %+v, %v", e, err)
		}
		return nil
	})

	// Early stop.
	n := 0
	view(t, s, func(tx meta.Tx) error {
		return tx.ReadDir(dir, 0, func(meta.Dirent) bool { n++; return false })
	})
	if n != 1 {
		t.Fatalf("ReadDir called fn %d times after it returned false", n)
	}

	update(t, s, func(tx meta.Tx) error {
		for _, n := range []string{"zeta", "alpha", "mu"} {
			if err := tx.RemoveEntry(dir, n); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx meta.Tx) error {
		if empty, err := tx.DirEmpty(dir); !empty || err != nil {
			t.Errorf("DirEmpty after removing all = %v, %v", empty, err)
		}
		return nil
	})
	expectNames(t, s, dir, 0)

	// Names are bytes: empty, binary, long.
	odd := []string{"", "\x00", "\xff\xfe", string(make([]byte, 255)), "a/b", "ü"}
	addEntries(t, s, dir, odd...)
	expectNames(t, s, dir, 0, odd...)
}

func testCookieStability(t *testing.T, s meta.Store) {
	const dir = 8
	addEntries(t, s, dir, "a", "b", "c", "d")
	// Removing entries changes no other cookie, and a re-added name gets a
	// cookie above every cookie the directory ever had.
	update(t, s, func(tx meta.Tx) error {
		if err := tx.RemoveEntry(dir, "b"); err != nil {
			return err
		}
		return tx.RemoveEntry(dir, "d")
	})
	got := listDir(t, s, dir, 0)
	want := []meta.Dirent{{Name: "a", ID: 1000, Cookie: 3}, {Name: "c", ID: 1002, Cookie: 5}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after removes: %+v, want %+v", got, want)
	}
	cookies := addEntries(t, s, dir, "b", "e")
	if !reflect.DeepEqual(cookies, []uint64{7, 8}) {
		t.Fatalf("re-added cookies = %v, want [7 8]", cookies)
	}
	expectNames(t, s, dir, 0, "a", "c", "b", "e")

	// Emptying the directory does not restart its cookies.
	update(t, s, func(tx meta.Tx) error {
		for _, n := range []string{"a", "b", "c", "e"} {
			if err := tx.RemoveEntry(dir, n); err != nil {
				return err
			}
		}
		return nil
	})
	if c := addEntries(t, s, dir, "f"); c[0] != 9 {
		t.Fatalf("cookie after emptying = %d, want 9", c[0])
	}
}

func testReadDirFrom(t *testing.T, s meta.Store) {
	const dir = 9
	addEntries(t, s, dir, "a", "b", "c", "d", "e") // cookies 3..7
	expectNames(t, s, dir, 0, "a", "b", "c", "d", "e")
	expectNames(t, s, dir, 2, "a", "b", "c", "d", "e")
	expectNames(t, s, dir, 3, "b", "c", "d", "e")
	expectNames(t, s, dir, 5, "d", "e")
	expectNames(t, s, dir, 7)
	expectNames(t, s, dir, 1<<64-1)
	// A cookie whose entry is gone still resumes in place.
	update(t, s, func(tx meta.Tx) error { return tx.RemoveEntry(dir, "c") })
	expectNames(t, s, dir, 5, "d", "e")
	expectNames(t, s, dir, 4, "d", "e")
}

func testDirIsolation(t *testing.T, s meta.Store) {
	// Ids whose big-endian bytes share prefixes, and the extremes.
	dirs := []uint64{0, 1, 256, 1 << 56, 1<<64 - 1}
	for i, d := range dirs {
		c := addEntries(t, s, d, fmt.Sprint("in-", i), "same")
		if c[0] != 3 || c[1] != 4 {
			t.Fatalf("dir %d cookies %v, want [3 4]", d, c)
		}
	}
	for i, d := range dirs {
		expectNames(t, s, d, 0, fmt.Sprint("in-", i), "same")
	}
	update(t, s, func(tx meta.Tx) error { return tx.RemoveEntry(256, "same") })
	expectNames(t, s, 1, 0, "in-1", "same")
	expectNames(t, s, 256, 0, "in-2")
	view(t, s, func(tx meta.Tx) error {
		if empty, err := tx.DirEmpty(2); !empty || err != nil {
			t.Errorf("DirEmpty(2) = %v, %v", empty, err)
		}
		return nil
	})
}
