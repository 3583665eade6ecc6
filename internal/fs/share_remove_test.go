package fs

import (
	"errors"
	"testing"
)

func TestRemoveShareKeepsFilesForReAdd(t *testing.T) {
	e := newEnv(t)
	f := e.create(alice, e.root, "keep", 0o644)
	if err := e.fs.RemoveShare(e.ctx, "export"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := e.fs.Share("export"); ok {
		t.Fatal("removed share still found")
	}
	if _, err := e.fs.GetAttr(e.ctx, f); !errors.Is(err, ErrStale) {
		t.Fatalf("handle into removed share: %v, want ErrStale", err)
	}
	if err := e.fs.RemoveShare(e.ctx, "export"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("second remove: %v, want ErrNotExist", err)
	}
	h, err := e.fs.AddShare(e.ctx, ShareConfig{Name: "export", ReadOnly: true})
	if err != nil || h != e.root {
		t.Fatalf("re-add = %+v, %v; want the old root %+v", h, err, e.root)
	}
	if got, err := e.lookup(alice, e.root, "keep"); err != nil || got != f {
		t.Fatalf("file after re-add = %+v, %v", got, err)
	}
	if _, cfg, _ := e.fs.Share("export"); !cfg.ReadOnly {
		t.Fatal("re-added share lost its new options")
	}
}
