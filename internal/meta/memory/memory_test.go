package memory_test

import (
	"testing"

	"github.com/tandemfs/tandem/internal/meta"
	"github.com/tandemfs/tandem/internal/meta/memory"
	"github.com/tandemfs/tandem/internal/meta/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) meta.Store { return memory.New() })
}
