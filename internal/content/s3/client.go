package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Stats counts the requests a Store made to the object store.
type Stats struct {
	Puts, Gets, Deletes, Lists uint64
	BytesUp, BytesDown         uint64
}

// client is the handful of S3 calls the store makes, with counters.
type client struct {
	api    *s3.Client
	bucket string
	where  string // endpoint or region, for messages

	puts, gets, deletes, lists atomic.Uint64
	bytesUp, bytesDown         atomic.Uint64
}

// newClient builds the S3 client. Credentials come from the usual AWS
// sources (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE and the
// shared files). The EC2 instance metadata service is asked only when
// AWS_EC2_METADATA_DISABLED is explicitly "false": elsewhere its address
// is unreachable and the SDK would wait on it before giving up.
func newClient(ctx context.Context, o Options) (*client, error) {
	opts := []func(*config.LoadOptions) error{config.WithRegion(o.Region)}
	if os.Getenv("AWS_EC2_METADATA_DISABLED") != "false" {
		opts = append(opts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 configuration: %w", err)
	}
	// Uploads run in parallel; keep as many connections warm.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = max(2*o.Uploads, 16)
	cfg.HTTPClient = &http.Client{Transport: tr}
	api := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
			// Self-hosted servers rarely resolve bucket subdomains.
			so.UsePathStyle = true
		}
		// Checksums only where the API requires them: S3-compatible
		// servers do not all accept the newer checksum headers.
		so.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	where := o.Endpoint
	if where == "" {
		where = "region " + o.Region
	}
	return &client{api: api, bucket: o.Bucket, where: where}, nil
}

// check makes sure the bucket is there and reachable with the credentials.
func (c *client) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := c.api.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &c.bucket})
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fmt.Errorf("s3 at %s: bucket %q: %s (%s)", c.where, c.bucket, ae.ErrorCode(), ae.ErrorMessage())
	}
	return fmt.Errorf("cannot reach s3 at %s: %w", c.where, err)
}

func (c *client) put(ctx context.Context, key string, data []byte) error {
	c.puts.Add(1)
	_, err := c.api.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &c.bucket,
		Key:           &key,
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	})
	if err == nil {
		c.bytesUp.Add(uint64(len(data)))
	}
	return err
}

// errNoObject is returned by get for an object that is not there.
var errNoObject = errors.New("s3: no such object")

// get reads len(p) bytes of key from off into p.
func (c *client) get(ctx context.Context, key string, p []byte, off int64) error {
	if len(p) == 0 {
		return nil
	}
	c.gets.Add(1)
	rng := fmt.Sprintf("bytes=%d-%d", off, off+int64(len(p))-1)
	out, err := c.api.GetObject(ctx, &s3.GetObjectInput{Bucket: &c.bucket, Key: &key, Range: &rng})
	if err != nil {
		var nk *types.NoSuchKey
		if errors.As(err, &nk) {
			return errNoObject
		}
		return err
	}
	defer out.Body.Close()
	n, err := io.ReadFull(out.Body, p)
	c.bytesDown.Add(uint64(n))
	if err != nil {
		return fmt.Errorf("s3 get %s: %w", key, err)
	}
	return nil
}

// del deletes keys, up to 1000 per request.
func (c *client) del(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		ids := make([]types.ObjectIdentifier, n)
		for i := range n {
			ids[i] = types.ObjectIdentifier{Key: aws.String(keys[i])}
		}
		c.deletes.Add(uint64(n))
		out, err := c.api.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &c.bucket,
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return err
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("s3 delete %s: %s %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
		}
		keys = keys[n:]
	}
	return nil
}

// object is one listed object.
type object struct {
	key      string
	modified time.Time
}

// list calls fn for the objects under prefix, a page at a time.
func (c *client) list(ctx context.Context, prefix string, fn func([]object) error) error {
	p := s3.NewListObjectsV2Paginator(c.api, &s3.ListObjectsV2Input{Bucket: &c.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		c.lists.Add(1)
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		objs := make([]object, 0, len(page.Contents))
		for _, o := range page.Contents {
			objs = append(objs, object{key: aws.ToString(o.Key), modified: aws.ToTime(o.LastModified)})
		}
		if err := fn(objs); err != nil {
			return err
		}
	}
	return nil
}

func (c *client) stats() Stats {
	return Stats{
		Puts: c.puts.Load(), Gets: c.gets.Load(), Deletes: c.deletes.Load(), Lists: c.lists.Load(),
		BytesUp: c.bytesUp.Load(), BytesDown: c.bytesDown.Load(),
	}
}
