package pebble_test

import (
	"testing"

	"github.com/tandemfs/tandem/internal/meta"
	"github.com/tandemfs/tandem/internal/meta/pebble"
	"github.com/tandemfs/tandem/internal/meta/storetest"
)

func open(t *testing.T, dir string) meta.Store {
	s, err := pebble.Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) meta.Store { return open(t, t.TempDir()) })
}

func TestPersistent(t *testing.T) {
	storetest.RunPersistent(t, open)
}
