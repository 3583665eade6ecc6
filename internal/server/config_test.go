package server

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
)

func TestDefaultShare(t *testing.T) {
	c := Defaults()
	got, err := c.FSShares()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "export" || got[0].ReadOnly || got[0].Squash != fs.NoSquash ||
		got[0].AnonUID != 65534 || got[0].AnonGID != 65534 || len(got[0].Clients) != 0 {
		t.Fatalf("default shares = %+v", got)
	}
}

func TestLoadFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tandem.toml")
	err := os.WriteFile(p, []byte(`
data = "/srv/tandem"
nfs_port = 2049
portmap_port = 0

[[share]]
name = "home"
squash = "root"
anon_uid = 99
clients = ["10.0.0.0/8", "192.168.1.7"]

[[share]]
name = "ro"
read_only = true
squash = "all"
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	c := Defaults()
	if err := c.LoadFile(p); err != nil {
		t.Fatal(err)
	}
	if c.Data != "/srv/tandem" || c.NFSPort != 2049 || c.PortmapPort != 0 || c.SMBPort != 12445 {
		t.Fatalf("config = %+v", c)
	}
	sh, err := c.FSShares()
	if err != nil {
		t.Fatal(err)
	}
	want := []fs.ShareConfig{
		{Name: "home", Squash: fs.RootSquash, AnonUID: 99, AnonGID: 65534,
			Clients: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32")}},
		{Name: "ro", ReadOnly: true, Squash: fs.AllSquash, AnonUID: 65534, AnonGID: 65534},
	}
	if len(sh) != len(want) {
		t.Fatalf("shares = %+v", sh)
	}
	for i := range want {
		g, w := sh[i], want[i]
		if g.Name != w.Name || g.ReadOnly != w.ReadOnly || g.Squash != w.Squash || g.AnonUID != w.AnonUID ||
			g.AnonGID != w.AnonGID || len(g.Clients) != len(w.Clients) {
			t.Fatalf("share %d = %+v, want %+v", i, g, w)
		}
		for j := range w.Clients {
			if g.Clients[j] != w.Clients[j] {
				t.Fatalf("share %d clients = %v, want %v", i, g.Clients, w.Clients)
			}
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{`nfs_prot = 1`, "unknown keys: nfs_prot"},
		{"[[share]]\nname = \"a/b\"", "must be 1-80 characters"},
		{"[[share]]\nname = \"a\"\n[[share]]\nname = \"a\"", `share "a" defined twice`},
		{"[[share]]\nname = \"a\"\nsquash = \"some\"", "squash must be none, root or all"},
		{"[[share]]\nname = \"a\"\nclients = [\"nonsense\"]", "clients"},
		{"[[share]]\nname = \"a\"\nlocking = \"posix\"", "locking must be unified or unix"},
	} {
		p := filepath.Join(t.TempDir(), "c.toml")
		if err := os.WriteFile(p, []byte(tc.file), 0o600); err != nil {
			t.Fatal(err)
		}
		c := Defaults()
		err := c.LoadFile(p)
		if err == nil {
			_, err = c.FSShares()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.file, err, tc.want)
		}
	}
}
