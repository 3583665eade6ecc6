package identity

import (
	"context"
	"encoding/hex"
	"errors"
	"testing"

	"github.com/tandemfs/tandem/internal/meta/memory"
)

func TestMD4(t *testing.T) {
	// RFC 1320, appendix A.5.
	for _, c := range []struct{ in, want string }{
		{"", "31d6cfe0d16ae931b73c59d7e0c089c0"},
		{"a", "bde52cb31de33e46245e05fbdbd6fb24"},
		{"abc", "a448017aaf21d8525fc10ae87aa6729d"},
		{"message digest", "d9130a8164549fe818874806e1c7014b"},
		{"abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "043f8582f241db351ce627e153e7f0e4"},
		{"12345678901234567890123456789012345678901234567890123456789012345678901234567890", "e33b4ddc9c38f2199c3e7b164fcc0536"},
	} {
		got := md4Sum([]byte(c.in))
		if hex.EncodeToString(got[:]) != c.want {
			t.Errorf("md4(%q) = %x, want %s", c.in, got, c.want)
		}
	}
}

func TestNTHash(t *testing.T) {
	// MS-NLMP 4.2.2.1.2: NTOWFv1("Password").
	h := NTHash("Password")
	if got := hex.EncodeToString(h[:]); got != "a4f49c406510bdcab6824ee7c30fd852" {
		t.Fatalf("NTHash = %s", got)
	}
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	s := New(memory.New())
	if err := s.AddUser(ctx, "Alice", "secret", 1000, 100); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUser(ctx, "ALICE", "x", 1, 1); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate add: %v, want ErrExists", err)
	}
	for _, bad := range []string{"", "a/b", `a\b`, "a@b", "...", "a\x01", string(make([]byte, 65))} {
		if err := s.AddUser(ctx, bad, "x", 1, 1); !errors.Is(err, ErrBadName) {
			t.Errorf("AddUser(%q) = %v, want ErrBadName", bad, err)
		}
	}
	if err := s.AddUser(ctx, "bob", "", 1001, 100); err != nil {
		t.Fatal(err)
	}
	u, err := s.Lookup(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	want := User{Name: "Alice", UID: 1000, GID: 100, NTHash: NTHash("secret")}
	if u != want {
		t.Fatalf("Lookup = %+v, want %+v", u, want)
	}
	if err := s.SetPassword(ctx, "ALICE", "other"); err != nil {
		t.Fatal(err)
	}
	if u, _ := s.Lookup(ctx, "Alice"); u.NTHash != NTHash("other") || u.Name != "Alice" {
		t.Fatalf("after SetPassword: %+v", u)
	}
	if err := s.SetPassword(ctx, "carol", "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetPassword(missing) = %v", err)
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "Alice" || list[1].Name != "bob" || list[1].NTHash != NTHash("") {
		t.Fatalf("List = %+v", list)
	}
	if err := s.DelUser(ctx, "BOB"); err != nil {
		t.Fatal(err)
	}
	if err := s.DelUser(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second DelUser = %v", err)
	}
	if _, err := s.Lookup(ctx, "bob"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup(deleted) = %v", err)
	}
	if _, err := s.Lookup(ctx, "a/b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup(invalid) = %v", err)
	}
}

func TestMachineSIDPersists(t *testing.T) {
	ctx := context.Background()
	m := memory.New()
	a, err := New(m).Mapper(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(m).Mapper(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a.Domain() != b.Domain() {
		t.Fatalf("machine SID changed: %v then %v", a.Domain(), b.Domain())
	}
	d := a.Domain()
	if d.N != 4 || d.Authority != 5 || d.Sub[0] != 21 {
		t.Fatalf("machine SID %v is not S-1-5-21-a-b-c", d)
	}
	c, _ := New(memory.New()).Mapper(ctx)
	if c.Domain() == d {
		t.Fatal("two stores made the same machine SID")
	}
}

func TestMapper(t *testing.T) {
	dom, err := ParseSID("S-1-5-21-1-2-3")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMapper(dom)
	for _, c := range []struct {
		sid  string
		kind IDKind
		id   uint32
		fwd  bool // produced by UserSID/GroupSID
	}{
		{"S-1-5-21-1-2-3-1000", UserID, 0, true},
		{"S-1-5-21-1-2-3-1001", GroupID, 0, true},
		{"S-1-5-21-1-2-3-3000", UserID, 1000, true},
		{"S-1-5-21-1-2-3-3201", GroupID, 1100, true},
		{"S-1-5-21-1-2-3-4294967294", UserID, 2147483147, true},
		{"S-1-22-1-2147483148", UserID, 2147483148, true},
		{"S-1-5-21-1-2-3-4294967295", GroupID, 2147483147, true},
		{"S-1-22-2-4294967295", GroupID, 4294967295, true},
		{"S-1-5-18", UserID, 0, false},
		{"S-1-5-32-544", GroupID, 0, false},
		{"S-1-1-0", NoID, 0, false},
		{"S-1-5-21-1-2-3-500", NoID, 0, false},
		{"S-1-5-21-9-9-9-1000", NoID, 0, false},
	} {
		s, err := ParseSID(c.sid)
		if err != nil {
			t.Fatalf("ParseSID(%s): %v", c.sid, err)
		}
		if s.String() != c.sid {
			t.Errorf("String(ParseSID(%s)) = %s", c.sid, s)
		}
		k, id := m.ID(s)
		if k != c.kind || id != c.id {
			t.Errorf("ID(%s) = %d,%d want %d,%d", c.sid, k, id, c.kind, c.id)
		}
		if !c.fwd {
			continue
		}
		var back SID
		if k == UserID {
			back = m.UserSID(id)
		} else {
			back = m.GroupSID(id)
		}
		if back != s {
			t.Errorf("forward mapping of %d,%d = %s, want %s", k, id, back, c.sid)
		}
	}
}

func TestSIDBinary(t *testing.T) {
	s, _ := ParseSID("S-1-5-21-1-2-3-1000")
	b := s.Append(nil)
	want := "010500000000000515000000010000000200000003000000e8030000"
	if hex.EncodeToString(b) != want {
		t.Fatalf("binary = %x, want %s", b, want)
	}
	d, n, err := DecodeSID(append(b, 0xff))
	if err != nil || n != len(b) || d != s {
		t.Fatalf("DecodeSID = %v, %d, %v", d, n, err)
	}
	for _, bad := range []string{"", "0105", "02000000000000", "0110000000000005", "01010000000000050000"} {
		raw, _ := hex.DecodeString(bad)
		if _, _, err := DecodeSID(raw); err == nil {
			t.Errorf("DecodeSID(%s) accepted", bad)
		}
	}
	for _, bad := range []string{"", "S-1-", "S-2-5", "S-1-x", "S-1-5-99999999999", "S-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1-1"} {
		if _, err := ParseSID(bad); err == nil {
			t.Errorf("ParseSID(%q) accepted", bad)
		}
	}
	big := SID{Authority: 1 << 40}
	if big.String() != "S-1-0x10000000000" {
		t.Errorf("hex authority: %s", big)
	}
	if p, err := ParseSID(big.String()); err != nil || p != big {
		t.Errorf("ParseSID(hex) = %v, %v", p, err)
	}
}
