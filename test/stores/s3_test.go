//go:build e2e

package stores

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tandemfs/tandem/internal/content"
	"github.com/tandemfs/tandem/internal/content/contenttest"
	"github.com/tandemfs/tandem/internal/content/s3"
	"github.com/tandemfs/tandem/internal/meta"
	"github.com/tandemfs/tandem/internal/meta/pebble"
	"github.com/tandemfs/tandem/test/s3test"
)

const testBucket = "tandem-test"

var prefixSeq atomic.Int64

// s3Options returns options for a store of its own (a fresh prefix) in the
// test bucket.
func s3Options(t testing.TB) s3.Options {
	t.Helper()
	info := seaweed(t)
	s3test.Env()
	if err := info.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	return s3.Options{
		Endpoint: info.Endpoint,
		Bucket:   testBucket,
		Prefix:   fmt.Sprintf("t%d-%d-%d/", time.Now().UnixNano(), prefixSeq.Add(1), 0),
	}
}

// pebbleMeta opens an embedded metadata store in a temporary directory for
// the block map.
func pebbleMeta(t testing.TB, dir string) meta.Store {
	t.Helper()
	m, err := pebble.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// storeWithMeta is an s3.Store that closes its metadata store with it.
type storeWithMeta struct {
	*s3.Store
	m meta.Store
}

func (s storeWithMeta) Close() error {
	err := s.Store.Close()
	if merr := s.m.Close(); err == nil {
		err = merr
	}
	return err
}

// syncing syncs after every change.
type syncing struct{ storeWithMeta }

func (s syncing) WriteAt(id uint64, p []byte, off int64) (int, error) {
	n, err := s.Store.WriteAt(id, p, off)
	if err == nil {
		err = s.Store.Sync(id)
	}
	return n, err
}

func (s syncing) Truncate(id uint64, size int64) error {
	err := s.Store.Truncate(id, size)
	if err == nil {
		err = s.Store.Sync(id)
	}
	return err
}

func openS3(t testing.TB, m meta.Store, o s3.Options) *s3.Store {
	t.Helper()
	s, err := s3.Open(ctx, m, o)
	if err != nil {
		t.Fatalf("s3.Open: %v", err)
	}
	return s
}

func TestS3Conformance(t *testing.T) {
	for _, bs := range []int{64 << 10, 4 << 20} {
		t.Run(fmt.Sprintf("block%dK", bs>>10), func(t *testing.T) {
			contenttest.Run(t, func(t *testing.T) content.Store {
				o := s3Options(t)
				o.BlockSize = bs
				m := pebbleMeta(t, t.TempDir())
				return storeWithMeta{openS3(t, m, o), m}
			})
		})
	}
	// Every write synced: reads come from the objects, through the map,
	// rather than from the write-back buffer.
	t.Run("synced", func(t *testing.T) {
		contenttest.Run(t, func(t *testing.T) content.Store {
			o := s3Options(t)
			o.BlockSize = 64 << 10
			m := pebbleMeta(t, t.TempDir())
			return syncing{storeWithMeta{openS3(t, m, o), m}}
		})
	})
	// The block map on PostgreSQL, the pairing of several nodes.
	t.Run("postgres", func(t *testing.T) {
		contenttest.Run(t, func(t *testing.T) content.Store {
			o := s3Options(t)
			o.BlockSize = 64 << 10
			m := openPG(t, freshDB(t))
			return storeWithMeta{openS3(t, m, o), m}
		})
	})
}

// listObjects returns the keys under prefix.
func listObjects(t testing.TB, prefix string) []string {
	t.Helper()
	c := seaweed(t).Client()
	var keys []string
	p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(testBucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	sort.Strings(keys)
	return keys
}

// blockOf returns the "id/block" part of an object key.
func blockOf(prefix, key string) string {
	k := strings.TrimPrefix(key, prefix)
	if i := strings.IndexByte(k, '.'); i >= 0 {
		return k[:i]
	}
	return k
}

// TestS3TruncateInTransaction truncates and removes from inside a metadata
// transaction, as the file system does (the new size and the cut commit
// together): the store must not wait for a transaction of its own there.
func TestS3TruncateInTransaction(t *testing.T) {
	for _, name := range []string{"pebble", "postgres"} {
		t.Run(name, func(t *testing.T) {
			o := s3Options(t)
			o.BlockSize = 64 << 10
			var m meta.Store
			if name == "pebble" {
				m = pebbleMeta(t, t.TempDir())
			} else {
				m = openPG(t, freshDB(t))
			}
			s := openS3(t, m, o)
			defer func() { s.Close(); m.Close() }()
			p := make([]byte, 300<<10)
			for i := range p {
				p[i] = byte(i) | 1
			}
			s.WriteAt(1, p, 0)
			s.WriteAt(2, p, 0)
			if err := s.Sync(1); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				done <- m.Update(ctx, func(tx meta.Tx) error {
					if err := s.Truncate(1, 100<<10+3); err != nil {
						return err
					}
					if err := s.Remove(2); err != nil {
						return err
					}
					return tx.Put("b", []byte("k"), nil)
				})
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Truncate inside a metadata transaction did not return")
			}
			got := make([]byte, 300<<10)
			s.ReadAt(1, got, 0)
			want := append(append([]byte{}, p[:100<<10+3]...), make([]byte, 200<<10-3)...)
			if !bytes.Equal(got, want) {
				t.Fatal("truncated file reads wrong")
			}
			if err := s.Sync(1); err != nil {
				t.Fatal(err)
			}
			expectNoOrphans(t, s, m, o.Prefix)
			if n := len(listObjects(t, o.Prefix)); n != 2 {
				t.Fatalf("%d objects, want 2 (file 1 cut to 2 blocks, file 2 removed)", n)
			}
		})
	}
}
