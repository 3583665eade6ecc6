package localfs

import (
	"testing"

	"github.com/tandemfs/tandem/internal/content"
	"github.com/tandemfs/tandem/internal/content/contenttest"
)

// TestPunchHole runs the hole checks in file system blocks (4 KiB).
func TestPunchHole(t *testing.T) {
	contenttest.RunHoles(t, func(t *testing.T) content.Store {
		s, err := Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, 4096)
}
