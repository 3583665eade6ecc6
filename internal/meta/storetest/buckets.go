package storetest

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/tandemfs/tandem/internal/meta"
)

func getKey(t *testing.T, s meta.Store, bucket, key string) ([]byte, error) {
	t.Helper()
	var v []byte
	var err error
	view(t, s, func(tx meta.Tx) error {
		v, err = tx.Get(bucket, []byte(key))
		return nil
	})
	return v, err
}

func scan(t *testing.T, s meta.Store, bucket, prefix string) []string {
	t.Helper()
	out := []string{}
	view(t, s, func(tx meta.Tx) error {
		return tx.Scan(bucket, []byte(prefix), func(k, v []byte) bool {
			out = append(out, string(k)+"="+string(v))
			return true
		})
	})
	return out
}

func testBuckets(t *testing.T, s meta.Store) {
	if _, err := getKey(t, s, "locks", "k"); err != meta.ErrNotFound {
		t.Fatalf("Get(missing) = %v, want ErrNotFound", err)
	}
	key, val := []byte("k"), []byte("v1")
	update(t, s, func(tx meta.Tx) error { return tx.Put("locks", key, val) })
	// The store copied what Put was given.
	key[0], val[0] = 'X', 'X'
	v, err := getKey(t, s, "locks", "k")
	if err != nil || string(v) != "v1" {
		t.Fatalf("Get = %q, %v; want v1", v, err)
	}
	// What Get returns belongs to the caller.
	v[0] = 'Y'
	if v, _ := getKey(t, s, "locks", "k"); string(v) != "v1" {
		t.Fatalf("Get after caller changed its copy = %q", v)
	}

	update(t, s, func(tx meta.Tx) error { return tx.Put("locks", []byte("k"), []byte("v2")) })
	if v, err := getKey(t, s, "locks", "k"); err != nil || string(v) != "v2" {
		t.Fatalf("Get after overwrite = %q, %v", v, err)
	}
	// An empty value is a value.
	update(t, s, func(tx meta.Tx) error { return tx.Put("locks", []byte("empty"), nil) })
	if v, err := getKey(t, s, "locks", "empty"); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("Get(empty value) = %q (nil %v), %v", v, v == nil, err)
	}
	update(t, s, func(tx meta.Tx) error {
		if err := tx.Delete("locks", []byte("k")); err != nil {
			return err
		}
		return tx.Delete("locks", []byte("never there"))
	})
	if _, err := getKey(t, s, "locks", "k"); err != meta.ErrNotFound {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}
	if _, err := getKey(t, s, "locks", "empty"); err != nil {
		t.Fatalf("Delete removed a neighbour: %v", err)
	}
}

func testBucketIsolation(t *testing.T, s meta.Store) {
	// Bucket+key concatenations that collide if the bucket name is not
	// delimited.
	update(t, s, func(tx meta.Tx) error {
		for _, p := range [][2]string{{"a", "bc"}, {"ab", "c"}, {"abc", ""}, {"", "abc"}} {
			if err := tx.Put(p[0], []byte(p[1]), []byte(p[0]+"|"+p[1])); err != nil {
				return err
			}
		}
		return nil
	})
	for _, c := range []struct {
		bucket string
		want   []string
	}{
		{"a", []string{"bc=a|bc"}},
		{"ab", []string{"c=ab|c"}},
		{"abc", []string{"=abc|"}},
		{"", []string{"abc=|abc"}},
		{"b", []string{}},
	} {
		if got := scan(t, s, c.bucket, ""); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Scan(%q) = %q, want %q", c.bucket, got, c.want)
		}
	}
	// Inodes and entries are not in any bucket.
	update(t, s, func(tx meta.Tx) error {
		if _, err := tx.AddEntry(1, "x", 2); err != nil {
			return err
		}
		return putInode(tx, sampleInode(2))
	})
	if got := scan(t, s, "", ""); len(got) != 1 {
		t.Errorf("Scan of the empty bucket sees other records: %q", got)
	}
}

func testBucketScan(t *testing.T, s meta.Store) {
	keys := []string{"h1/a", "h1/b", "h2/a", "h1", "h10/x", "g", "i", "h1/\xff", "h1\xff\xff", "h\xff"}
	update(t, s, func(tx meta.Tx) error {
		for _, k := range keys {
			if err := tx.Put("nsm", []byte(k), []byte("v"+k)); err != nil {
				return err
			}
		}
		return tx.Put("other", []byte("h1/c"), []byte("no"))
	})
	all := scan(t, s, "nsm", "")
	// Key order is byte order.
	want := []string{"g=vg", "h1=vh1", "h1/a=vh1/a", "h1/b=vh1/b", "h1/\xff=vh1/\xff", "h10/x=vh10/x", "h1\xff\xff=vh1\xff\xff", "h2/a=vh2/a", "h\xff=vh\xff", "i=vi"}
	if !reflect.DeepEqual(all, want) {
		t.Fatalf("Scan all = %q\nwant %q", all, want)
	}
	for _, c := range []struct {
		prefix string
		want   []string
	}{
		{"h1/", []string{"h1/a=vh1/a", "h1/b=vh1/b", "h1/\xff=vh1/\xff"}},
		{"h1", []string{"h1=vh1", "h1/a=vh1/a", "h1/b=vh1/b", "h1/\xff=vh1/\xff", "h10/x=vh10/x", "h1\xff\xff=vh1\xff\xff"}},
		{"h1\xff", []string{"h1\xff\xff=vh1\xff\xff"}},
		{"h\xff", []string{"h\xff=vh\xff"}},
		{"j", []string{}},
		{"h1/a/", []string{}},
	} {
		if got := scan(t, s, "nsm", c.prefix); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Scan(%q) = %q\nwant %q", c.prefix, got, c.want)
		}
	}
	// Early stop.
	n := 0
	view(t, s, func(tx meta.Tx) error {
		return tx.Scan("nsm", nil, func(k, v []byte) bool { n++; return n < 3 })
	})
	if n != 3 {
		t.Fatalf("Scan went on after fn returned false: %d calls", n)
	}
}

// testWriteWhileIterating writes to the transaction from inside ReadDir and
// Scan callbacks, over more records than a backend is likely to buffer.
func testWriteWhileIterating(t *testing.T, s meta.Store) {
	const dir, n = 11, 1000
	update(t, s, func(tx meta.Tx) error {
		for i := range n {
			if _, err := tx.AddEntry(dir, fmt.Sprintf("f%04d", i), uint64(i)); err != nil {
				return err
			}
			if err := tx.Put("b", fmt.Appendf(nil, "k%04d", i), []byte{byte(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx meta.Tx) error {
		seen := 0
		var ierr error
		err := tx.ReadDir(dir, 0, func(e meta.Dirent) bool {
			if want := fmt.Sprintf("f%04d", seen); e.Name != want {
				ierr = fmt.Errorf("entry %d is %q, want %q", seen, e.Name, want)
				return false
			}
			seen++
			// Remove this one and add one that must show up later.
			if ierr = tx.RemoveEntry(dir, e.Name); ierr != nil {
				return false
			}
			if seen <= n {
				_, ierr = tx.AddEntry(dir, fmt.Sprintf("f%04d", n+seen-1), 1)
			}
			return ierr == nil && seen < 2*n
		})
		if err == nil {
			err = ierr
		}
		if err == nil && seen != 2*n {
			err = fmt.Errorf("saw %d entries, want %d", seen, 2*n)
		}
		if err != nil {
			return err
		}
		if empty, err := tx.DirEmpty(dir); !empty || err != nil {
			return fmt.Errorf("DirEmpty = %v, %v", empty, err)
		}

		seen = 0
		err = tx.Scan("b", []byte("k"), func(k, v []byte) bool {
			if want := fmt.Sprintf("k%04d", seen); string(k) != want || !bytes.Equal(v, []byte{byte(seen)}) {
				ierr = fmt.Errorf("key %d is %q=%x", seen, k, v)
				return false
			}
			seen++
			ierr = tx.Delete("b", k)
			return ierr == nil
		})
		if err == nil {
			err = ierr
		}
		if err == nil && seen != n {
			err = fmt.Errorf("scanned %d keys, want %d", seen, n)
		}
		return err
	})
	if got := scan(t, s, "b", ""); len(got) != 0 {
		t.Fatalf("%d keys left after deleting while scanning", len(got))
	}
}
