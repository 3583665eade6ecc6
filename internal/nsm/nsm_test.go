package nsm

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/tandemfs/tandem/internal/meta"
	metamem "github.com/tandemfs/tandem/internal/meta/memory"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestStateNumber: the first start is state 1; each start adds 2, so the
// number stays odd (up); an even stored number (a crash while marked
// down) becomes the next odd one.
func TestStateNumber(t *testing.T) {
	ctx := context.Background()
	st := metamem.New()
	for _, want := range []int32{1, 3, 5} {
		s, err := New(ctx, Options{Store: st, Logger: quiet()})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.State(); got != want {
			t.Fatalf("state %d, want %d", got, want)
		}
		s.Close()
	}
	err := st.Update(ctx, func(tx meta.Tx) error {
		return tx.Put(bucket, keyState, binary.BigEndian.AppendUint32(nil, 10))
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, Options{Store: st, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.State(); got != 11 {
		t.Fatalf("state after an even one: %d, want 11", got)
	}
	s.Close()
}

// TestRecordsPersist: monitored hosts and SM_MON registrations survive a
// restart exactly; malformed records are skipped, not fatal.
func TestRecordsPersist(t *testing.T) {
	ctx := context.Background()
	st := metamem.New()
	s, err := New(ctx, Options{Store: st, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	a4, a6 := netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("2001:db8::1")
	srv := netip.MustParseAddr("192.0.2.1")
	s.Monitor("client-a", a4, srv)
	s.Monitor("client-b", a6, srv)
	s.Monitor("client-c", a4, srv)
	s.Unmonitor("client-c")
	a := monArgs{monName: []byte("peer"), id: myID{name: []byte("me"), prog: 100021, vers: 4, proc: 16}, priv: make([]byte, 16)}
	a.priv[0], a.priv[15] = 1, 2
	if res := s.mon(&a, a4); res != StatSucc {
		t.Fatalf("mon: %d", res)
	}
	s.Close()
	err = st.Update(ctx, func(tx meta.Tx) error {
		if err := tx.Put(bucket, []byte("hbroken"), []byte{9, 9}); err != nil {
			return err
		}
		return tx.Put(bucket, []byte("mbroken"), []byte{1})
	})
	if err != nil {
		t.Fatal(err)
	}

	s, err = New(ctx, Options{Store: st, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hs := s.Hosts()
	if len(hs) != 2 || hs["client-a"] != a4 || hs["client-b"] != a6 {
		t.Fatalf("hosts after restart: %v", hs)
	}
	if h := s.hosts["client-a"]; !h.lastRun || h.server != srv {
		t.Fatalf("client-a record: %+v", h)
	}
	k := monKey{monName: "peer", myName: "me", prog: 100021, vers: 4, proc: 16}
	r := s.mons[k]
	if len(s.mons) != 1 || r == nil || r.from != a4 || r.priv[0] != 1 || r.priv[15] != 2 {
		t.Fatalf("registrations after restart: %v", s.mons)
	}
	// A host that locks again in this run is no longer of the last one.
	s.Monitor("client-a", a4, srv)
	if s.hosts["client-a"].lastRun {
		t.Fatal("client-a still marked as of the last run")
	}
}

// TestMonitorLimit: registrations past MaxMonitors fail; a repeated one
// does not count twice.
func TestMonitorLimit(t *testing.T) {
	s, err := New(context.Background(), Options{Store: metamem.New(), Logger: quiet(), MaxMonitors: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	from := netip.MustParseAddr("192.0.2.7")
	for i, want := range []uint32{StatSucc, StatSucc, StatSucc, StatFail} {
		name := []string{"a", "b", "b", "c"}[i]
		a := monArgs{monName: []byte(name), id: myID{name: []byte("me")}, priv: make([]byte, 16)}
		if got := s.mon(&a, from); got != want {
			t.Fatalf("registration %d (%s): %d, want %d", i, name, got, want)
		}
	}
}
