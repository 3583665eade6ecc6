package server

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/tandemfs/tandem/internal/content/localfs"
	"github.com/tandemfs/tandem/internal/content/s3"
	"github.com/tandemfs/tandem/internal/meta"
	"github.com/tandemfs/tandem/internal/meta/pebble"
	"github.com/tandemfs/tandem/internal/meta/postgres"
)

// OpenMeta opens the metadata store the configuration names.
func OpenMeta(ctx context.Context, cfg *Config) (meta.Store, error) {
	if err := cfg.checkStores(); err != nil {
		return nil, err
	}
	switch cfg.Meta.Backend {
	case "postgres":
		cfg.Meta.Backend = "postgres"
		m, err := postgres.Open(ctx, cfg.Meta.DSN)
		if err != nil {
			return nil, fmt.Errorf("open metadata store: %w", err)
		}
		return m, nil
	default:
		cfg.Meta.Backend = "pebble"
		m, err := pebble.Open(filepath.Join(cfg.Data, "meta"))
		if err != nil {
			return nil, fmt.Errorf("open metadata store: %w", err)
		}
		return m, nil
	}
}

// openStores opens the metadata and content stores. The S3 content store
// keeps its block map in the metadata store.
func (s *Server) openStores(ctx context.Context) error {
	var err error
	if s.meta, err = OpenMeta(ctx, &s.cfg); err != nil {
		return err
	}
	c := s.cfg.Content
	switch c.Backend {
	case "s3":
		s.content, err = s3.Open(ctx, s.meta, s3.Options{
			Endpoint: c.Endpoint, Bucket: c.Bucket, Region: c.Region, Prefix: c.Prefix,
			BlockSize: c.BlockSize, BufferSize: c.BufferSize,
			Logger: s.log.With("component", "s3"),
		})
	default:
		s.cfg.Content.Backend = "localfs"
		s.content, err = localfs.Open(s.cfg.Data)
	}
	if err != nil {
		return fmt.Errorf("open content store: %w", err)
	}
	return nil
}
