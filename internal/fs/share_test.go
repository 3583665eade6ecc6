package fs

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestShareRoot(t *testing.T) {
	e := newEnv(t)
	a := e.attr(e.root)
	if a.Type != TypeDir || a.Mode != 0o777 || a.Nlink != 2 || a.UID != 0 || a.GID != 0 ||
		a.Size != dirSize || a.FSID != uint64(e.root.Share) || a.FileID != e.root.ID || a.Gen != e.root.Gen ||
		a.Mtime != t0 || a.Ctime != t0 {
		t.Fatalf("root attr %+v", a)
	}
	up, err := e.lookup(alice, e.root, "..")
	if err != nil || up != e.root {
		t.Fatalf(`root ".." = %+v, %v`, up, err)
	}
	// A fresh share lets any user create files.
	e.create(eve, e.root, "mine", 0o644)
}

func TestAddShareIdempotent(t *testing.T) {
	e := newEnv(t)
	f := e.create(alice, e.root, "keep", 0o644)
	cfg := ShareConfig{
		Name: "export", ReadOnly: true, Squash: RootSquash, AnonUID: 99, AnonGID: 98,
		Clients: []netip.Prefix{netip.MustParsePrefix("10.1.2.3/8")},
	}
	h, err := e.fs.AddShare(e.ctx, cfg)
	if err != nil || h != e.root {
		t.Fatalf("AddShare again = %+v, %v; want %+v", h, err, e.root)
	}
	got, gotCfg, ok := e.fs.Share("export")
	want := cfg
	want.Clients = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	if !ok || got != e.root || !reflect.DeepEqual(gotCfg, want) {
		t.Fatalf("Share = %+v %+v %v", got, gotCfg, ok)
	}
	if _, err := e.fs.GetAttr(e.ctx, f); err != nil {
		t.Fatalf("file of the share after update: %v", err)
	}

	h2, err := e.fs.AddShare(e.ctx, ShareConfig{Name: "b"})
	if err != nil || h2.Share == e.root.Share || h2.ID == e.root.ID {
		t.Fatalf("second share %+v, %v", h2, err)
	}
	shares := e.fs.Shares()
	if len(shares) != 2 || shares[0].Name != "b" || shares[1].Name != "export" ||
		shares[0].AnonUID != 65534 || shares[0].AnonGID != 65534 {
		t.Fatalf("Shares = %+v", shares)
	}
	if _, _, ok := e.fs.Share("nope"); ok {
		t.Fatal("unknown share found")
	}
	if n := e.fileCount(); n != 3 { // two roots and a file
		t.Fatalf("file count %d", n)
	}

	// A new FS on the same stores, as after a restart, finds the same shares.
	fs2, err := New(e.meta, e.content, Options{Now: e.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fs2.Shares(), e.fs.Shares()) {
		t.Fatalf("after reopen %+v", fs2.Shares())
	}
	if _, err := fs2.GetAttr(e.ctx, f); err != nil {
		t.Fatalf("handle after reopen: %v", err)
	}
	if fs2.WriteVerifier() == e.fs.WriteVerifier() {
		t.Fatal("write verifier did not change across a restart")
	}
	h3, err := fs2.AddShare(e.ctx, ShareConfig{Name: "c"})
	if err != nil || h3.Share == h2.Share || h3.Share == e.root.Share {
		t.Fatalf("share after reopen %+v, %v", h3, err)
	}
}

func TestAddShareInvalid(t *testing.T) {
	e := newEnv(t)
	for _, cfg := range []ShareConfig{
		{Name: ""},
		{Name: "a/b"},
		{Name: "a\x00"},
		{Name: string(make([]byte, 256))},
		{Name: "x", Squash: 3},
		{Name: "x", Clients: []netip.Prefix{{}}},
	} {
		if _, err := e.fs.AddShare(e.ctx, cfg); err != ErrInval {
			t.Errorf("AddShare(%q): %v, want ErrInval", cfg.Name, err)
		}
	}
}

func TestStaleShares(t *testing.T) {
	e := newEnv(t)
	other, _ := e.fs.AddShare(e.ctx, ShareConfig{Name: "other"})
	f := e.create(alice, e.root, "f", 0o644)
	for name, h := range map[string]Handle{
		"unknown share":      {Share: 99, ID: f.ID, Gen: 99<<32 | f.Gen&0xffffffff},
		"share field forged": {Share: other.Share, ID: f.ID, Gen: f.Gen},
		"gen forged":         {Share: other.Share, ID: f.ID, Gen: uint64(other.Share)<<32 | f.Gen&0xffffffff},
		"wrong gen":          {Share: f.Share, ID: f.ID, Gen: f.Gen + 2},
		"no such id":         {Share: f.Share, ID: 1 << 40, Gen: f.Gen},
	} {
		if _, err := e.fs.GetAttr(e.ctx, h); err != ErrStale {
			t.Errorf("%s: GetAttr %v, want ErrStale", name, err)
		}
		if _, _, _, err := e.fs.Lookup(e.ctx, alice, h, "x"); err != ErrStale {
			t.Errorf("%s: Lookup %v, want ErrStale", name, err)
		}
		if err := e.fs.CheckClient(h, alice); name == "unknown share" && err != ErrStale {
			t.Errorf("%s: CheckClient %v, want ErrStale", name, err)
		}
	}
}

func TestClientNetworks(t *testing.T) {
	e := newEnvShare(t, ShareConfig{Name: "export", Clients: []netip.Prefix{
		netip.MustParsePrefix("192.168.1.0/24"), netip.MustParsePrefix("fd00::/8"),
	}})
	in := &Caller{UID: 1000, GID: 1000, Addr: netip.MustParseAddr("192.168.1.7")}
	mapped := &Caller{UID: 1000, GID: 1000, Addr: netip.MustParseAddr("::ffff:192.168.1.7")}
	in6 := &Caller{UID: 1000, GID: 1000, Addr: netip.MustParseAddr("fd00::1%eth0")}
	out := &Caller{UID: 1000, GID: 1000, Addr: netip.MustParseAddr("192.168.2.7")}
	noAddr := &Caller{UID: 1000, GID: 1000}
	for _, c := range []*Caller{in, mapped, in6} {
		wantErr(t, "CheckClient "+c.Addr.String(), e.fs.CheckClient(e.root, c), nil)
	}
	for _, c := range []*Caller{out, noAddr, nil} {
		wantErr(t, "CheckClient", e.fs.CheckClient(e.root, c), ErrAccess)
	}
	f := e.create(in, e.root, "f", 0o666)
	d := e.mkdir(in, e.root, "d", 0o777)
	// Every operation with a caller checks it.
	checks := map[string]error{}
	_, _, _, checks["lookup"] = e.fs.Lookup(e.ctx, out, e.root, "f")
	_, _, checks["access"] = e.fs.Access(e.ctx, out, f, AccessRead)
	_, checks["setattr"] = e.fs.SetAttr(e.ctx, out, f, SetAttr{}, nil)
	_, _, checks["readlink"] = e.fs.ReadLink(e.ctx, out, f)
	_, _, _, checks["read"] = e.fs.Read(e.ctx, out, f, 0, make([]byte, 1))
	_, _, _, checks["write"] = e.fs.Write(e.ctx, out, f, 0, []byte("x"), Unstable)
	_, checks["commit"] = e.fs.Commit(e.ctx, out, f, 0, 0)
	_, _, _, checks["create"] = e.fs.Create(e.ctx, out, e.root, "g", CreateHow{})
	_, _, _, checks["mkdir"] = e.fs.Mkdir(e.ctx, out, e.root, "g", SetAttr{})
	_, _, _, checks["symlink"] = e.fs.Symlink(e.ctx, out, e.root, "g", "f", SetAttr{})
	_, _, _, checks["mknod"] = e.fs.Mknod(e.ctx, out, e.root, "g", TypeFIFO, SetAttr{}, 0, 0)
	_, checks["remove"] = e.fs.Remove(e.ctx, out, e.root, "f")
	_, checks["rmdir"] = e.fs.Rmdir(e.ctx, out, e.root, "d")
	_, _, checks["rename"] = e.fs.Rename(e.ctx, out, e.root, "f", d, "f")
	_, _, checks["link"] = e.fs.Link(e.ctx, out, f, d, "f")
	_, _, checks["readdir"] = e.fs.ReadDir(e.ctx, out, e.root, 0, 0, false, func(*DirEntry) bool { return true })
	for op, err := range checks {
		wantErr(t, op, err, ErrAccess)
	}
}

func TestSquash(t *testing.T) {
	tests := []struct {
		name     string
		cfg      ShareConfig
		c        *Caller
		uid, gid uint32
	}{
		{"none root", ShareConfig{Squash: NoSquash}, rootC, 0, 0},
		{"none user", ShareConfig{Squash: NoSquash}, alice, 1000, 1000},
		{"anonymous", ShareConfig{Squash: NoSquash}, &Caller{UID: 5, GID: 5, Anonymous: true}, 65534, 65534},
		{"nil caller", ShareConfig{Squash: NoSquash}, nil, 65534, 65534},
		{"root_squash root", ShareConfig{Squash: RootSquash}, rootC, 65534, 65534},
		{"root_squash gid 0", ShareConfig{Squash: RootSquash}, &Caller{UID: 7, GID: 0}, 7, 65534},
		{"root_squash user", ShareConfig{Squash: RootSquash}, alice, 1000, 1000},
		{"root_squash custom anon", ShareConfig{Squash: RootSquash, AnonUID: 99, AnonGID: 98}, rootC, 99, 98},
		{"all_squash user", ShareConfig{Squash: AllSquash, AnonUID: 500, AnonGID: 501}, alice, 500, 501},
		{"all_squash root", ShareConfig{Squash: AllSquash}, rootC, 65534, 65534},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Name = "export"
			e := newEnvShare(t, tt.cfg)
			h, a, _, err := e.fs.Create(e.ctx, tt.c, e.root, "f", CreateHow{Mode: Guarded, Attr: SetAttr{Mask: SetMode, Mode: 0o600}})
			if err != nil {
				t.Fatal(err)
			}
			if a.UID != tt.uid || a.GID != tt.gid {
				t.Fatalf("owner %d:%d, want %d:%d", a.UID, a.GID, tt.uid, tt.gid)
			}
			_ = h
		})
	}
}

func TestRootSquashDeniesRoot(t *testing.T) {
	e := newEnv(t)
	f := e.create(rootC, e.root, "secret", 0o600)
	g := e.create(rootC, e.root, "group0", 0o060)
	e.write(rootC, f, 0, "x")
	// Root squash maps root and group 0 (also a supplementary group 0) away.
	e.fs.AddShare(e.ctx, ShareConfig{Name: "export", Squash: RootSquash})
	_, _, _, err := e.fs.Read(e.ctx, rootC, f, 0, make([]byte, 1))
	wantErr(t, "squashed root reads 0600 root file", err, ErrAccess)
	_, _, _, err = e.fs.Read(e.ctx, &Caller{UID: 7, GID: 7, Groups: []uint32{3, 0}}, g, 0, make([]byte, 1))
	wantErr(t, "supplementary group 0", err, ErrAccess)
	_, err = e.fs.SetAttr(e.ctx, rootC, f, SetAttr{Mask: SetUID, UID: 5}, nil)
	wantErr(t, "squashed root chowns", err, ErrPerm)
}

func TestReadOnlyShare(t *testing.T) {
	e := newEnv(t)
	f := e.create(alice, e.root, "f", 0o666)
	e.write(alice, f, 0, "hello")
	d := e.mkdir(alice, e.root, "d", 0o777)
	e.create(alice, d, "in", 0o666)
	e.fs.AddShare(e.ctx, ShareConfig{Name: "export", ReadOnly: true})
	e.clock.advance()

	checks := map[string]error{}
	_, checks["setattr"] = e.fs.SetAttr(e.ctx, alice, f, SetAttr{Mask: SetMode, Mode: 0o600}, nil)
	_, _, _, checks["write"] = e.fs.Write(e.ctx, alice, f, 0, []byte("x"), FileSync)
	_, _, _, checks["create"] = e.fs.Create(e.ctx, alice, e.root, "g", CreateHow{})
	_, _, _, checks["create existing"] = e.fs.Create(e.ctx, alice, e.root, "f", CreateHow{})
	_, _, _, checks["mkdir"] = e.fs.Mkdir(e.ctx, alice, e.root, "g", SetAttr{})
	_, _, _, checks["symlink"] = e.fs.Symlink(e.ctx, alice, e.root, "g", "f", SetAttr{})
	_, _, _, checks["mknod"] = e.fs.Mknod(e.ctx, alice, e.root, "g", TypeFIFO, SetAttr{}, 0, 0)
	_, checks["remove"] = e.fs.Remove(e.ctx, alice, e.root, "f")
	_, checks["rmdir"] = e.fs.Rmdir(e.ctx, alice, e.root, "d")
	_, _, checks["rename"] = e.fs.Rename(e.ctx, alice, e.root, "f", e.root, "g")
	_, _, checks["link"] = e.fs.Link(e.ctx, alice, f, e.root, "g")
	for op, err := range checks {
		wantErr(t, op, err, ErrROFS)
	}

	got, _, err := e.fs.Access(e.ctx, alice, f, 0x3f)
	if err != nil || got != AccessRead {
		t.Fatalf("Access on read-only file = %#x, %v", got, err)
	}
	got, _, _ = e.fs.Access(e.ctx, rootC, d, 0x3f)
	if got != AccessRead|AccessLookup {
		t.Fatalf("root Access on read-only dir = %#x", got)
	}
	if s := e.read(alice, f); s != "hello" {
		t.Fatalf("read %q", s)
	}
	if a := e.attr(f); a.Atime != t0 {
		t.Fatalf("read on a read-only share changed atime to %d", a.Atime)
	}
	_, err = e.fs.Commit(e.ctx, alice, f, 0, 0)
	wantErr(t, "commit", err, nil)
}

func TestStaleRevealsNothing(t *testing.T) {
	e := newEnv(t)
	f := e.create(alice, e.root, "f", 0o644)
	forged := Handle{Share: f.Share, ID: f.ID, Gen: f.Gen ^ 2}
	_, _, a, err := e.fs.Read(e.ctx, alice, forged, 0, make([]byte, 1))
	if err != ErrStale || a != (Attr{}) {
		t.Fatalf("read of wrong generation: %+v %v", a, err)
	}
	_, _, a, err = e.fs.Lookup(e.ctx, alice, Handle{Share: e.root.Share, ID: e.root.ID, Gen: e.root.Gen ^ 2}, "f")
	if err != ErrStale || a != (Attr{}) {
		t.Fatalf("lookup in wrong generation: %+v %v", a, err)
	}
}
