package nfs3

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/tandemfs/tandem/internal/rpc"
)

func TestFail(t *testing.T) {
	var logged bytes.Buffer
	e := newEnv(t, Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	ctx := context.Background()
	if err := e.h.fail(ctx, ProcRead, errors.New("disk on fire")); err != nil {
		t.Errorf("foreign error: %v", err)
	}
	if !strings.Contains(logged.String(), "READ") || !strings.Contains(logged.String(), "disk on fire") {
		t.Errorf("log: %q", logged.String())
	}
	logged.Reset()
	if err := e.h.fail(ctx, ProcRead, errors.Join(errors.New("x"), context.Canceled)); !errors.Is(err, rpc.ErrDrop) {
		t.Errorf("cancelled: %v", err)
	}
	if logged.Len() != 0 {
		t.Errorf("logged a cancellation: %q", logged.String())
	}
}
