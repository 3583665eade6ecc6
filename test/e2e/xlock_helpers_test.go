//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The cross-protocol lock tests look at `tandem locks` with every kind of
// entry (byte ranges, share reservations, leases), name files by the
// name the test gave them and clients by their role: lockView does that.

// entries runs `tandem locks --json` against the server.
func (s *tandemServer) entries(t *testing.T) []lockEntry {
	t.Helper()
	out, err := exec.Command(s.bin, "locks", "--json", "--data", s.data).Output()
	if err != nil {
		t.Fatalf("tandem locks: %v", err)
	}
	var es []lockEntry
	if err := json.Unmarshal(out, &es); err != nil {
		t.Fatalf("tandem locks: %v\n%s", err, out)
	}
	return es
}

// lockView shows lock entries as "file kind mode range proto client
// [state]": files by the names in files (file id → name), NLM clients by
// their caller names, SMB clients named in roles by their role, and
// every other SMB client as "cifs" (the guest mounts one share once), its
// client GUID remembered in guids.
type lockView struct {
	files map[string]string
	guids map[string]bool
	// roles names SMB clients other than the guest's mount, by client
	// GUID (hex).
	roles map[string]string
	// owners adds who owns an entry, where it outlives a restart: an NLM
	// owner (svid and owner handle) and an SMB lease (its key); not an
	// SMB open, which a restart replaces.
	owners bool
}

func newLockView() *lockView {
	return &lockView{files: map[string]string{}, guids: map[string]bool{}, roles: map[string]string{}}
}

// name records that the file with inode number ino is called name.
func (lv *lockView) name(ino uint64, name string) {
	lv.files[strconv.FormatUint(ino, 10)] = name
}

// file names a file of `tandem locks` ("share:id").
func (lv *lockView) file(f string) string {
	if i := strings.LastIndexByte(f, ':'); i >= 0 {
		if n, ok := lv.files[f[i+1:]]; ok {
			return n
		}
	}
	return f
}

func (lv *lockView) show(e lockEntry) string {
	file := lv.file(e.File)
	client := e.Client
	if r, ok := lv.roles[client]; ok && e.Proto == "smb" {
		client = r
	} else if e.Proto == "smb" {
		lv.guids[client] = true
		client = "cifs"
	}
	s := fmt.Sprintf("%s %s %s", file, e.Kind, e.Mode)
	if e.Kind == "range" {
		s += fmt.Sprintf(" %d+%d", e.Offset, e.Length)
	}
	s += " " + e.Proto + " " + client
	if e.Waiting {
		s += " waiting"
	}
	if e.Unreclaimed {
		s += " unreclaimed"
	}
	if lv.owners && !strings.HasPrefix(e.Owner, "open ") {
		s += " (" + e.Owner + ")"
	}
	return s
}

// ranges shows the byte-range entries (held and waiting) of es, sorted.
func (lv *lockView) ranges(es []lockEntry) []string {
	return lv.filter(es, func(e lockEntry) bool { return e.Kind == "range" })
}

// all shows every entry of es, sorted.
func (lv *lockView) all(es []lockEntry) []string {
	return lv.filter(es, func(lockEntry) bool { return true })
}

func (lv *lockView) filter(es []lockEntry, keep func(lockEntry) bool) []string {
	out := []string{}
	for _, e := range es {
		if keep(e) {
			out = append(out, lv.show(e))
		}
	}
	slices.Sort(out)
	return out
}

// awaitRanges polls `tandem locks` until its byte-range entries are
// exactly want (in any order) and returns every entry it then showed.
func (s *tandemServer) awaitRanges(t *testing.T, lv *lockView, timeout time.Duration, want ...string) []lockEntry {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	if want == nil {
		want = []string{}
	}
	plain := *lv // ranges as the caller names them, without owners
	plain.owners = false
	deadline := time.Now().Add(timeout)
	for {
		es := s.entries(t)
		got := plain.ranges(es)
		if slices.Equal(got, want) {
			return es
		}
		if time.Now().After(deadline) {
			t.Fatalf("tandem locks (byte ranges) after %v:\n got %q\nwant %q\nall entries: %q\nserver log:\n%s",
				timeout, got, want, lv.all(es), withoutAdmin(s.lastLog()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// inode returns the inode number of a file in the guest.
func inode(t *testing.T, rs []probeResult, id string) uint64 {
	t.Helper()
	r := wantOK(t, rs, id)
	if r.Stat == nil {
		t.Fatalf("%s: no stat in %s", id, r)
	}
	return r.Stat.Ino
}

// took is how long one operation took.
func took(r probeResult) time.Duration { return time.Duration(r.T1 - r.T0) }

// statOp stats a path (for its inode number).
func statOp(id, path string) probeOp { return probeOp{"op": "stat", "id": id, "path": path} }

// wantGetlk checks an F_GETLK: it reports a lock of type typ at start,
// length n, held by pid.
func wantGetlk(t *testing.T, rs []probeResult, id, typ string, start, n int64, pid int32) {
	t.Helper()
	r := wantOK(t, rs, id)
	if r.Lock == nil || r.Lock.Type != typ || r.Lock.Start != start || r.Lock.Len != n || r.Lock.Pid != pid {
		t.Fatalf("%s (F_GETLK): %s, want %s %d+%d pid %d", id, r, typ, start, n, pid)
	}
}

// wantData checks what a read returned.
func wantData(t *testing.T, rs []probeResult, id, want string) {
	t.Helper()
	r := wantOK(t, rs, id)
	if r.Data == nil || *r.Data != want {
		t.Fatalf("%s read %s, want %q", id, r, want)
	}
}

// withoutAdmin drops the server's log lines about admin requests (this
// test's own `tandem locks` and `tandem status`).
func withoutAdmin(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if !strings.Contains(l, `msg="admin request"`) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
