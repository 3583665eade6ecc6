package storetest

import (
	"fmt"
	"testing"

	"github.com/tandemfs/tandem/internal/meta"
)

// testLargeDir fills one directory with 100,000 entries and lists it in
// pages, the way an NFS READDIR walks it, before and after deleting half.
func testLargeDir(t *testing.T, s meta.Store) {
	const dir, n, batch, page = 5, largeDirEntries, largeDirEntries / 10, 1000
	name := func(i int) string { return fmt.Sprintf("file-%06d", n-i) } // names sort opposite to creation
	for start := 0; start < n; start += batch {
		update(t, s, func(tx meta.Tx) error {
			for i := start; i < start+batch; i++ {
				c, err := tx.AddEntry(dir, name(i), uint64(i)+100)
				if err != nil {
					return err
				}
				if c != uint64(i)+3 {
					return fmt.Errorf("entry %d got cookie %d", i, c)
				}
			}
			return nil
		})
	}

	// list pages through the directory, checking order, and returns the
	// indexes seen.
	list := func() []int {
		var seen []int
		cookie := uint64(0)
		for {
			got := 0
			view(t, s, func(tx meta.Tx) error {
				return tx.ReadDir(dir, cookie, func(e meta.Dirent) bool {
					i := int(e.Cookie - 3)
					if e.Cookie <= cookie || e.Name != name(i) || e.ID != uint64(i)+100 {
						t.Fatalf("entry after cookie %d: %+v", cookie, e)
					}
					seen = append(seen, i)
					cookie = e.Cookie
					got++
					return got < page
				})
			})
			if got < page {
				return seen
			}
		}
	}
	if seen := list(); len(seen) != n {
		t.Fatalf("listed %d entries, want %d", len(seen), n)
	}

	update(t, s, func(tx meta.Tx) error {
		for i := 0; i < n; i += 2 {
			if err := tx.RemoveEntry(dir, name(i)); err != nil {
				return err
			}
		}
		return nil
	})
	seen := list()
	if len(seen) != n/2 {
		t.Fatalf("listed %d entries after deleting half, want %d", len(seen), n/2)
	}
	for k, i := range seen {
		if i != 2*k+1 {
			t.Fatalf("entry %d is index %d, want %d", k, i, 2*k+1)
		}
	}
	view(t, s, func(tx meta.Tx) error {
		e, err := tx.Lookup(dir, name(n-1))
		if err != nil || e.Cookie != n-1+3 {
			t.Errorf("Lookup(last) = %+v, %v", e, err)
		}
		return nil
	})
}
