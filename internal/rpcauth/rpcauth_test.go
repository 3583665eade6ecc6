package rpcauth

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/rpc"
)

func TestCaller(t *testing.T) {
	addr := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 700}
	want := netip.MustParseAddr("192.0.2.7")

	var cl fs.Caller
	c := &rpc.Call{RemoteAddr: addr, Cred: rpc.Cred{Flavor: rpc.AuthSys, UID: 1000, GID: 100, GIDs: []uint32{4, 27}}}
	if err := Caller(c, &cl); err != nil {
		t.Fatal(err)
	}
	if cl.UID != 1000 || cl.GID != 100 || !slices.Equal(cl.Groups, []uint32{4, 27}) || cl.Anonymous || cl.Addr != want {
		t.Errorf("AUTH_SYS: %+v", cl)
	}

	cl = fs.Caller{}
	if err := Caller(&rpc.Call{RemoteAddr: addr, Cred: rpc.Cred{Flavor: rpc.AuthNone}}, &cl); err != nil {
		t.Fatal(err)
	}
	if !cl.Anonymous || cl.UID != 0 || cl.Addr != want {
		t.Errorf("AUTH_NONE: %+v", cl)
	}

	if err := Caller(&rpc.Call{RemoteAddr: addr, Cred: rpc.Cred{Flavor: 6}}, &cl); !errors.Is(err, rpc.ErrAuthTooWeak) {
		t.Errorf("RPCSEC_GSS: %v, want ErrAuthTooWeak", err)
	}
}
