package conformance

import (
	"io"
	"slices"
	"testing"

	"github.com/tandemfs/tandem/internal/server"
)

// readList reads an XDR linked list (each item preceded by a "follows"
// boolean, RFC 4506 section 4.19) of T.
func readList[T any](c *client, what string, r io.ReadSeeker) []T {
	c.t.Helper()
	var out []T
	for {
		if !decode[bool](c, what, r, false) {
			return out
		}
		out = append(out, decode[T](c, what, r, false))
	}
}

func (c *client) dump() []mountEntry {
	c.t.Helper()
	r := call(c, 100005, mountDump, struct{}{})
	l := readList[mountEntry](c, "DUMP", r)
	end(c, "DUMP", r)
	return l
}

func (c *client) exports() []exportEntry {
	c.t.Helper()
	r := call(c, 100005, mountExport, struct{}{})
	var out []exportEntry
	for decode[bool](c, "EXPORT", r, false) {
		e := exportEntry{Dir: decode[string](c, "EXPORT", r, false)}
		for decode[bool](c, "EXPORT", r, false) {
			e.Groups = append(e.Groups, decode[string](c, "EXPORT", r, false))
		}
		out = append(out, e)
	}
	end(c, "EXPORT", r)
	return out
}

func dirs(l []mountEntry) []string {
	var out []string
	for _, e := range l {
		out = append(out, e.Dir)
	}
	return out
}

func TestMountProcedures(t *testing.T) {
	ts := startServer(t, server.ShareConfig{Name: "export"}, server.ShareConfig{Name: "ro", ReadOnly: true})
	c := dial(t, ts.addr())

	end(c, "MOUNT NULL", call(c, 100005, mountNull, struct{}{}))

	// EXPORT lists both shares, open to everyone (no groups).
	ex := c.exports()
	var names []string
	for _, e := range ex {
		names = append(names, e.Dir)
		if len(e.Groups) != 0 {
			t.Errorf("EXPORT %s: groups %q, want none (open to all clients)", e.Dir, e.Groups)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"/export", "/ro"}) {
		t.Errorf("EXPORT: %q, want [/export /ro]", names)
	}

	if d := c.dump(); len(d) != 0 {
		t.Errorf("DUMP before any MNT: %+v, want empty", d)
	}

	st, res := c.mountStatus("/export")
	if st != 0 {
		t.Fatalf("MNT /export: mountstat3 %d", st)
	}
	if len(res.FH) == 0 || len(res.FH) > 64 {
		t.Errorf("MNT /export: handle of %d bytes, want 1..64", len(res.FH))
	}
	if !slices.Contains(res.Flavors, 1) {
		t.Errorf("MNT /export: auth flavors %v, want AUTH_SYS (1) among them", res.Flavors)
	}
	root := c.getattr(res.FH)
	if root.Type != typeDir {
		t.Errorf("root of /export: type %d, want NF3DIR", root.Type)
	}
	if got := dirs(c.dump()); !slices.Equal(got, []string{"/export"}) {
		t.Errorf("DUMP after MNT /export: %q, want [/export]", got)
	}
	for _, e := range c.dump() {
		if e.Host == "" {
			t.Errorf("DUMP entry %+v: empty host name", e)
		}
	}

	// The handle of a second MNT names the same directory.
	if fh := c.mount("/export"); c.getattr(fh).FileID != root.FileID {
		t.Errorf("second MNT /export: a different root")
	}

	for _, bad := range []string{"/nonexistent", "/export/nonexistent"} {
		if st, _ := c.mountStatus(bad); st != 2 {
			t.Errorf("MNT %s: mountstat3 %d, want MNT3ERR_NOENT (2)", bad, st)
		}
	}

	end(c, "UMNT", call(c, 100005, mountUmnt, "/export"))
	if d := c.dump(); len(d) != 0 {
		t.Errorf("DUMP after UMNT /export: %+v, want empty", d)
	}

	c.mount("/export")
	c.mount("/ro")
	if got := dirs(c.dump()); len(got) != 2 {
		t.Errorf("DUMP after MNT /export and /ro: %q, want 2 entries", got)
	}
	end(c, "UMNTALL", call(c, 100005, mountUmntall, struct{}{}))
	if d := c.dump(); len(d) != 0 {
		t.Errorf("DUMP after UMNTALL: %+v, want empty", d)
	}
}
