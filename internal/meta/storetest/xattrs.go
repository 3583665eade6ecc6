package storetest

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/tandemfs/tandem/internal/meta"
)

func getXattr(t *testing.T, s meta.Store, id uint64, name string) ([]byte, error) {
	t.Helper()
	var v []byte
	var err error
	view(t, s, func(tx meta.Tx) error {
		v, err = tx.Xattr(id, name)
		return nil
	})
	return v, err
}

func listXattrs(t *testing.T, s meta.Store, id uint64) []string {
	t.Helper()
	out := []string{}
	view(t, s, func(tx meta.Tx) error {
		return tx.Xattrs(id, func(name string, v []byte) bool {
			out = append(out, name+"="+string(v))
			return true
		})
	})
	return out
}

func testXattrs(t *testing.T, s meta.Store) {
	if _, err := getXattr(t, s, 50, "user.a"); err != meta.ErrNotFound {
		t.Fatalf("Xattr(missing) = %v, want ErrNotFound", err)
	}
	val := []byte("v1")
	update(t, s, func(tx meta.Tx) error {
		if err := putInode(tx, meta.Inode{ID: 50, Type: meta.TypeRegular, Nlink: 1}); err != nil {
			return err
		}
		if err := putInode(tx, meta.Inode{ID: 51, Type: meta.TypeRegular, Nlink: 1}); err != nil {
			return err
		}
		for _, n := range []string{"user.b", "user.a", "system.sd", "user.a\xff"} {
			if err := tx.PutXattr(50, n, val); err != nil {
				return err
			}
		}
		// The inode's neighbours by id keep their own blobs.
		if err := tx.PutXattr(51, "user.a", []byte("other")); err != nil {
			return err
		}
		return tx.PutXattr(49, "user.a", []byte("before"))
	})
	val[0] = 'X' // the store copied what it was given
	v, err := getXattr(t, s, 50, "user.a")
	if err != nil || string(v) != "v1" {
		t.Fatalf("Xattr = %q, %v; want v1", v, err)
	}
	want := []string{"system.sd=v1", "user.a=v1", "user.a\xff=v1", "user.b=v1"}
	if got := listXattrs(t, s, 50); !reflect.DeepEqual(got, want) {
		t.Fatalf("Xattrs = %q\nwant %q", got, want)
	}

	// Replace, empty value, delete (a missing one too).
	update(t, s, func(tx meta.Tx) error {
		if err := tx.PutXattr(50, "user.a", []byte("v2")); err != nil {
			return err
		}
		if err := tx.PutXattr(50, "user.b", nil); err != nil {
			return err
		}
		if err := tx.DeleteXattr(50, "system.sd"); err != nil {
			return err
		}
		return tx.DeleteXattr(50, "never")
	})
	want = []string{"user.a=v2", "user.a\xff=v1", "user.b="}
	if got := listXattrs(t, s, 50); !reflect.DeepEqual(got, want) {
		t.Fatalf("Xattrs after changes = %q\nwant %q", got, want)
	}
	if v, err := getXattr(t, s, 50, "user.b"); err != nil || v == nil || len(v) != 0 {
		t.Fatalf("Xattr(empty value) = %q (nil %v), %v", v, v == nil, err)
	}

	// Bad names are refused.
	for _, n := range []string{"", string(make([]byte, 256))} {
		var perr error
		view(t, s, func(tx meta.Tx) error { _, perr = tx.Xattr(50, n); return nil })
		if perr == nil || perr == meta.ErrNotFound {
			t.Errorf("Xattr(name of %d bytes) = %v, want an error", len(n), perr)
		}
	}

	// Writing while listing in an Update, and deleting the inode drops
	// its blobs but not the neighbours'.
	update(t, s, func(tx meta.Tx) error {
		var ierr error
		err := tx.Xattrs(50, func(name string, v []byte) bool {
			ierr = tx.DeleteXattr(50, name)
			return ierr == nil
		})
		if err == nil {
			err = ierr
		}
		if err != nil {
			return err
		}
		for i := range 300 {
			if err := tx.PutXattr(50, fmt.Sprintf("user.%03d", i), []byte{byte(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if got := listXattrs(t, s, 50); len(got) != 300 {
		t.Fatalf("%d blobs, want 300", len(got))
	}
	update(t, s, func(tx meta.Tx) error { return tx.DeleteInode(50) })
	if got := listXattrs(t, s, 50); len(got) != 0 {
		t.Fatalf("blobs left after DeleteInode: %q", got)
	}
	if v, err := getXattr(t, s, 51, "user.a"); err != nil || string(v) != "other" {
		t.Fatalf("neighbour's blob after DeleteInode = %q, %v", v, err)
	}
	if v, err := getXattr(t, s, 49, "user.a"); err != nil || string(v) != "before" {
		t.Fatalf("neighbour's blob after DeleteInode = %q, %v", v, err)
	}

	// A failed Update writes no blob.
	failed := fmt.Errorf("fail")
	if err := s.Update(ctx, func(tx meta.Tx) error {
		if err := tx.PutXattr(51, "user.z", []byte("z")); err != nil {
			return err
		}
		return failed
	}); err != failed {
		t.Fatalf("Update = %v, want %v", err, failed)
	}
	if _, err := getXattr(t, s, 51, "user.z"); err != meta.ErrNotFound {
		t.Fatalf("blob of a failed Update: %v", err)
	}
	// Views cannot write.
	if err := s.View(ctx, func(tx meta.Tx) error { return tx.PutXattr(51, "user.z", nil) }); err == nil {
		t.Fatal("PutXattr in a View succeeded")
	}
}
