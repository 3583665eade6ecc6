package fs

import (
	"reflect"
	"testing"

	"github.com/tandemfs/tandem/internal/meta"
)

func (e *env) xattrs(c *Caller, h Handle, prefix string) []string {
	e.t.Helper()
	out := []string{}
	err := e.fs.ListXattrs(e.ctx, c, h, prefix, func(name string, v []byte) bool {
		out = append(out, name+"="+string(v))
		return true
	})
	if err != nil {
		e.t.Fatalf("ListXattrs: %v", err)
	}
	return out
}

func TestXattrs(t *testing.T) {
	e := newEnv(t)
	h := e.create(carol, e.root, "f", 0o640)
	ctime := e.attr(h).Ctime
	e.clock.advance()
	wantErr(t, "set user", e.fs.SetXattr(e.ctx, carol, h, "user.b", []byte("2")), nil)
	wantErr(t, "set several", e.fs.SetXattrs(e.ctx, carol, h, []Xattr{
		{"user.a", []byte("1")}, {"system.sd", []byte("sd")}, {"user.c", []byte{}},
	}), nil)
	if e.attr(h).Ctime == ctime {
		t.Fatal("setting an attribute left ctime alone")
	}
	if got, want := e.xattrs(carol, h, XattrUser), []string{"user.a=1", "user.b=2", "user.c="}; !reflect.DeepEqual(got, want) {
		t.Fatalf("user attributes = %q, want %q", got, want)
	}
	if got, want := e.xattrs(eve, h, XattrSystem), []string{"system.sd=sd"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("system attributes = %q, want %q", got, want)
	}
	v, err := e.fs.GetXattr(e.ctx, bob, h, "user.a") // group r
	if err != nil || string(v) != "1" {
		t.Fatalf("GetXattr = %q, %v", v, err)
	}
	_, err = e.fs.GetXattr(e.ctx, carol, h, "user.none")
	wantErr(t, "get missing", err, ErrNotExist)

	// Permissions: eve (other, no bits) may neither read nor write user
	// attributes; bob (group r) may read but not write; only the owner
	// changes system ones.
	_, err = e.fs.GetXattr(e.ctx, eve, h, "user.a")
	wantErr(t, "other reads", err, ErrAccess)
	wantErr(t, "other lists", e.fs.ListXattrs(e.ctx, eve, h, XattrUser, func(string, []byte) bool { return true }), ErrAccess)
	wantErr(t, "group writes", e.fs.SetXattr(e.ctx, bob, h, "user.a", nil), ErrAccess)
	wantErr(t, "group sets system", e.fs.SetXattr(e.ctx, bob, h, "system.sd", nil), ErrPerm)
	wantErr(t, "root sets system", e.fs.SetXattr(e.ctx, rootC, h, "system.sd", []byte("x")), nil)
	// A batch with one refused change changes nothing.
	e.chmod(h, 0o660)
	wantErr(t, "mixed batch", e.fs.SetXattrs(e.ctx, bob, h, []Xattr{{"user.a", []byte("9")}, {"system.sd", nil}}), ErrPerm)
	if v, _ := e.fs.GetXattr(e.ctx, carol, h, "user.a"); string(v) != "1" {
		t.Fatalf("refused batch changed user.a to %q", v)
	}

	// Names and sizes.
	for name, want := range map[string]error{
		"trusted.x": ErrNotSupp, "user.": ErrNotSupp, "x": ErrNotSupp,
		"user." + string(make([]byte, MaxXattrName)): ErrNameTooLong,
	} {
		wantErr(t, "set "+name[:min(len(name), 10)], e.fs.SetXattr(e.ctx, carol, h, name, nil), want)
	}
	wantErr(t, "oversized", e.fs.SetXattr(e.ctx, carol, h, "user.big", make([]byte, MaxXattrSize+1)), ErrFBig)

	// Remove, then the file's last link takes the rest.
	wantErr(t, "remove", e.fs.RemoveXattr(e.ctx, carol, h, "user.b"), nil)
	wantErr(t, "remove missing", e.fs.RemoveXattr(e.ctx, carol, h, "user.b"), nil)
	if got := e.xattrs(carol, h, XattrUser); len(got) != 2 {
		t.Fatalf("after remove: %q", got)
	}
	if _, err := e.fs.Remove(e.ctx, carol, e.root, "f"); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := e.meta.View(e.ctx, func(tx meta.Tx) error {
		return tx.Xattrs(h.ID, func(string, []byte) bool { n++; return true })
	}); err != nil || n != 0 {
		t.Fatalf("%d attributes left after the file went (%v)", n, err)
	}
	_, err = e.fs.GetXattr(e.ctx, carol, h, "user.a")
	wantErr(t, "get on removed file", err, ErrStale)
}

func TestXattrsReadOnlyShare(t *testing.T) {
	e := newEnvShare(t, ShareConfig{Name: "ro", ReadOnly: true})
	wantErr(t, "set on read-only share", e.fs.SetXattr(e.ctx, rootC, e.root, "user.a", nil), ErrROFS)
}

func TestXattrsSymlink(t *testing.T) {
	e := newEnv(t)
	h, _, _, err := e.fs.Symlink(e.ctx, carol, e.root, "l", "t", SetAttr{})
	if err != nil {
		t.Fatal(err)
	}
	wantErr(t, "user attribute on a symlink", e.fs.SetXattr(e.ctx, carol, h, "user.a", nil), ErrPerm)
	wantErr(t, "system attribute on a symlink", e.fs.SetXattr(e.ctx, carol, h, "system.a", nil), nil)
}
