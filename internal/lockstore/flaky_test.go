package lockstore

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/tandemfs/tandem/internal/meta"
)

// flaky is a store whose writes fail while fail is set, as a full disk
// makes them.
type flaky struct {
	meta.Store
	fail atomic.Bool
}

var errFull = errors.New("no space left on device")

func (f *flaky) Update(ctx context.Context, fn func(meta.Tx) error) error {
	if f.fail.Load() {
		return errFull
	}
	return f.Store.Update(ctx, fn)
}

func (f *flaky) UpdateLazy(ctx context.Context, fn func(meta.Tx) error) error {
	if f.fail.Load() {
		return errFull
	}
	return f.Store.UpdateLazy(ctx, fn)
}

func (f *flaky) Sync() error {
	if f.fail.Load() {
		return errFull
	}
	return f.Store.Sync()
}

// counting counts synced writes.
type counting struct {
	meta.Store
	synced atomic.Int64
}

func (c *counting) Update(ctx context.Context, fn func(meta.Tx) error) error {
	c.synced.Add(1)
	return c.Store.Update(ctx, fn)
}

func (c *counting) Sync() error {
	c.synced.Add(1)
	return c.Store.Sync()
}
