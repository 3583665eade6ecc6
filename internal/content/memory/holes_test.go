package memory_test

import (
	"testing"

	"github.com/tandemfs/tandem/internal/content"
	"github.com/tandemfs/tandem/internal/content/contenttest"
	"github.com/tandemfs/tandem/internal/content/memory"
)

// TestPunchHole runs the hole checks in the store's 64 KiB chunks.
func TestPunchHole(t *testing.T) {
	contenttest.RunHoles(t, func(t *testing.T) content.Store { return memory.New() }, 64<<10)
}
