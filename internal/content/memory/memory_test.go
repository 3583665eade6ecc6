package memory_test

import (
	"testing"

	"github.com/tandemfs/tandem/internal/content"
	"github.com/tandemfs/tandem/internal/content/contenttest"
	"github.com/tandemfs/tandem/internal/content/memory"
)

func TestConformance(t *testing.T) {
	contenttest.Run(t, func(t *testing.T) content.Store { return memory.New() })
}

func TestSize(t *testing.T) {
	s := memory.New()
	if _, err := s.WriteAt(1, []byte("abc"), 10); err != nil {
		t.Fatal(err)
	}
	if got := s.Size(1); got != 13 {
		t.Fatalf("Size = %d, want 13", got)
	}
	if err := s.Truncate(1, 4); err != nil {
		t.Fatal(err)
	}
	if got := s.Size(1); got != 4 {
		t.Fatalf("Size after Truncate = %d, want 4", got)
	}
}
