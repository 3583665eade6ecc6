package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStoresConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tandem.toml")
	err := os.WriteFile(p, []byte(`
[meta]
backend = "postgres"
dsn = "postgres://tandem@db.example:5432/tandem"

[content]
backend = "s3"
endpoint = "http://10.0.0.5:8333"
bucket = "files"
region = "eu-west-1"
block_size = 1048576
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	c := Defaults()
	if err := c.LoadFile(p); err != nil {
		t.Fatal(err)
	}
	if c.Meta != (MetaConfig{Backend: "postgres", DSN: "postgres://tandem@db.example:5432/tandem"}) ||
		c.Content != (ContentConfig{Backend: "s3", Endpoint: "http://10.0.0.5:8333", Bucket: "files", Region: "eu-west-1", BlockSize: 1 << 20}) {
		t.Fatalf("stores = %+v %+v", c.Meta, c.Content)
	}
	if err := c.checkStores(); err != nil {
		t.Fatal(err)
	}
	if d := Defaults(); d.checkStores() != nil {
		t.Fatalf("defaults: %v", d.checkStores())
	}
	for _, bad := range []struct {
		c    Config
		want string
	}{
		{Config{Meta: MetaConfig{Backend: "postgres"}}, "needs dsn"},
		{Config{Meta: MetaConfig{Backend: "mysql"}}, "backend must be"},
		{Config{Meta: MetaConfig{DSN: "x"}}, "dsn is for"},
		{Config{Content: ContentConfig{Backend: "s3"}}, "needs bucket"},
		{Config{Content: ContentConfig{Bucket: "b"}}, "are for backend"},
		{Config{Content: ContentConfig{Backend: "gcs"}}, "backend must be"},
	} {
		if err := bad.c.checkStores(); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%+v: %v, want %q", bad.c, err, bad.want)
		}
	}
}
