package smbtorture

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func load(t *testing.T) (map[string]Known, map[string]string) {
	t.Helper()
	f, err := os.Open("knownfail.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	known, err := ParseKnownFail(f)
	if err != nil {
		t.Fatalf("knownfail.txt: %v", err)
	}
	g, err := os.Open("samba-4.17.verdicts")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ref, err := ParseReference(g)
	if err != nil {
		t.Fatalf("samba-4.17.verdicts: %v", err)
	}
	return known, ref
}

// Every class in knownfail.txt must be true to the reference, so the list
// says honestly which failures Samba shares and which are Tandem's alone.
func TestKnownFailClassesMatchReference(t *testing.T) {
	known, ref := load(t)
	for name, k := range known {
		if SuiteOf(name) == "" {
			t.Errorf("%s: not in any suite of Suites", name)
			continue
		}
		v, ok := ref[name]
		if !ok {
			t.Errorf("%s: not in samba-4.17.verdicts", name)
			continue
		}
		switch {
		case k.Class == "samba-also" && v == Success:
			t.Errorf("%s: classed samba-also, but Samba 4.17 passes it", name)
		case k.Class == "tandem-only" && v != Success:
			t.Errorf("%s: classed tandem-only, but Samba 4.17 gets %s", name, v)
		}
	}
}

// TestReferenceCounts logs, per suite, how many tests pass against Samba
// and how many of those are still known to fail against Tandem.
func TestReferenceCounts(t *testing.T) {
	known, ref := load(t)
	for _, s := range Suites {
		var pass, owed int
		for name, v := range ref {
			if SuiteOf(name) != s || v != Success {
				continue
			}
			pass++
			if _, ok := known[name]; ok {
				owed++
			}
		}
		if pass == 0 && s != "smb2.setinfo" {
			t.Errorf("%s: no passing test in the reference", s)
		}
		t.Logf("%-28s Samba passes %3d; Tandem still fails %3d of those", s, pass, owed)
	}
}

func TestParseSubunit(t *testing.T) {
	in := `time: 2026-11-26 00:00:00
test: smb2.read.eof
success: smb2.read.eof
test: smb2.read.position
failure: smb2.read.position [
../../source4/torture/smb2/read.c:174: position was 0, expected 10
more
]
test: smb2.read.bug14607
skip: smb2.read.bug14607 [
no padding fsctl
]
test: smb2.delete-on-close-perms.CREATE Existing
success: smb2.delete-on-close-perms.CREATE Existing
test: smb2.read.dir
`
	got, order, err := ParseSubunit(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Result{
		"smb2.read.eof":      {Verdict: Success},
		"smb2.read.position": {Verdict: Failure, Reason: "../../source4/torture/smb2/read.c:174: position was 0, expected 10"},
		"smb2.read.bug14607": {Verdict: Skip, Reason: "no padding fsctl"},
		"smb2.read.dir":      {Verdict: Unfinished},
		"smb2.delete-on-close-perms.CREATE Existing": {Verdict: Success}, // names may hold spaces
	}
	if len(got) != len(want) {
		t.Fatalf("got %d results, want %d: %v", len(got), len(want), got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %+v, want %+v", k, got[k], v)
		}
	}
	if !slices.Equal(order, []string{"smb2.read.eof", "smb2.read.position", "smb2.read.bug14607", "smb2.delete-on-close-perms.CREATE Existing", "smb2.read.dir"}) {
		t.Errorf("order %v", order)
	}
}

func TestCompare(t *testing.T) {
	known := map[string]Known{
		"smb2.read.a": {Verdict: Failure, Class: "samba-also", Reason: "r"},
		"smb2.read.b": {Verdict: Skip, Class: "samba-also", Reason: "r"},
		"smb2.read.c": {Verdict: Failure, Class: "samba-also", Reason: "r"},
		"smb2.read.d": {Verdict: Failure, Class: "samba-also", Reason: "r"},
		"smb2.rw.x":   {Verdict: Failure, Class: "samba-also", Reason: "r"},
	}
	got := map[string]Result{
		"smb2.read.a":   {Verdict: Failure},                // as listed
		"smb2.read.b":   {Verdict: Success},                // listed, passes now
		"smb2.read.c":   {Verdict: Error, Reason: "boom"},  // listed with another verdict
		"smb2.read.new": {Verdict: Failure, Reason: "why"}, // not listed
		"smb2.read.ok":  {Verdict: Success},                // fine
		// smb2.read.d did not run; smb2.rw.x belongs to another suite
	}
	bad := Compare("smb2.read", got, known)
	slices.Sort(bad)
	want := []string{
		"smb2.read.b: passes now; remove it from knownfail.txt",
		"smb2.read.c: error, but knownfail.txt says failure: boom",
		"smb2.read.d: listed in knownfail.txt but did not run",
		"smb2.read.new: failure (not in knownfail.txt): why",
	}
	if !slices.Equal(bad, want) {
		t.Errorf("Compare:\n got %q\nwant %q", bad, want)
	}
}

func TestParseKnownFailRejects(t *testing.T) {
	for _, in := range []string{
		"smb2.read.a\tfailure\tsamba-also",                                          // no reason
		"smb2.read.a\tsuccess\tsamba-also\twhy",                                     // success is not a known failure
		"smb2.read.a\tfailure\tmaybe\twhy",                                          // unknown class
		"smb2.read.a\tfailure\tsamba-also\twhy\nsmb2.read.a\tskip\tsamba-also\twhy", // twice
	} {
		if _, err := ParseKnownFail(strings.NewReader(in)); err == nil {
			t.Errorf("accepted %q", in)
		}
	}
}
