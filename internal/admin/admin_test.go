package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
)

func TestCallRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := NewServer(slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Handle("echo", func(ctx context.Context, p json.RawMessage) (any, error) {
		var in struct{ N int }
		if err := json.Unmarshal(p, &in); err != nil {
			return nil, err
		}
		return map[string]int{"n": in.N + 1}, nil
	})
	s.Handle("fail", func(ctx context.Context, p json.RawMessage) (any, error) { return nil, errors.New("no such user") })
	s.Handle("panic", func(ctx context.Context, p json.RawMessage) (any, error) { panic("boom") })
	if err := s.Listen(dir); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var out struct{ N int }
	if err := Call(ctx, dir, "echo", map[string]int{"N": 41}, &out); err != nil || out.N != 42 {
		t.Fatalf("echo: %v %+v", err, out)
	}
	if err := Call(ctx, dir, "fail", nil, nil); err == nil || err.Error() != "no such user" {
		t.Fatalf("fail: %v", err)
	}
	if err := Call(ctx, dir, "panic", nil, nil); err == nil || err.Error() != "internal error: boom" {
		t.Fatalf("panic: %v", err)
	}
	if err := Call(ctx, dir, "nope", nil, nil); err == nil || err.Error() != `unknown method "nope"` {
		t.Fatalf("unknown: %v", err)
	}
}

func TestNoServer(t *testing.T) {
	if err := Call(context.Background(), t.TempDir(), "x", nil, nil); !errors.Is(err, ErrNoServer) {
		t.Fatalf("got %v, want ErrNoServer", err)
	}
}
