//go:build e2e

package stores

import (
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
