package smbtorture

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Suites are the smbtorture suites Tandem is held to.
var Suites = []string{
	"smb2.connect", "smb2.read", "smb2.rw", "smb2.create", "smb2.getinfo",
	"smb2.setinfo", "smb2.dir", "smb2.rename", "smb2.delete-on-close-perms",
	"smb2.compound", "smb2.session", "smb2.notify",
	"smb2.durable-open", "smb2.durable-v2-open",
	"smb2.lock", "smb2.oplock", "smb2.lease",
}

// SignedSuites run with --client-protection=sign, as Samba's selftest runs
// them and as the reference was taken (its change notify and oplock tests
// expect signed sessions).
var SignedSuites = map[string]bool{"smb2.notify": true, "smb2.oplock": true}

// Verdicts of a test.
const (
	Success    = "success"
	Failure    = "failure"
	Error      = "error"
	Skip       = "skip"
	XFail      = "xfail"
	Unfinished = "unfinished"
)

// Result is one test's verdict and, for a non-success, the first line of
// its reason.
type Result struct {
	Verdict string
	Reason  string
}

// ParseSubunit reads smbtorture's --format=subunit output: "test: NAME"
// starts a test; "success: NAME", or "failure|error|skip|xfail: NAME ["
// followed by reason lines up to a line "]", ends it. A test that starts
// and never ends is Unfinished. Names come back in the order they started.
func ParseSubunit(r io.Reader) (map[string]Result, []string, error) {
	res := make(map[string]Result)
	var order []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var open string // the verdict whose reason block is being read
	for sc.Scan() {
		line := sc.Text()
		if open != "" {
			if line == "]" {
				open = ""
				continue
			}
			if rs := res[open]; rs.Reason == "" && strings.TrimSpace(line) != "" {
				rs.Reason = strings.TrimSpace(line)
				res[open] = rs
			}
			continue
		}
		verdict, rest, ok := strings.Cut(line, ": ")
		if !ok {
			continue
		}
		name, block := strings.CutSuffix(rest, " [")
		name = strings.TrimSpace(name)
		switch verdict {
		case "test":
			if _, seen := res[name]; !seen {
				order = append(order, name)
			}
			res[name] = Result{Verdict: Unfinished}
		case Success, Failure, Error, Skip, XFail:
			if _, seen := res[name]; !seen {
				order = append(order, name)
			}
			res[name] = Result{Verdict: verdict}
			if block {
				open = name
			}
		}
	}
	return res, order, sc.Err()
}

// Known is one entry of knownfail.txt.
type Known struct {
	Verdict string // the verdict the test gets today
	Class   string // "samba-also" or "tandem-only"
	Reason  string
}

// ParseKnownFail reads lines "NAME<TAB>VERDICT<TAB>CLASS<TAB>REASON";
// blank lines and lines starting with # are comments.
func ParseKnownFail(r io.Reader) (map[string]Known, error) {
	out := make(map[string]Known)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.SplitN(line, "\t", 4)
		if len(f) != 4 || f[3] == "" {
			return nil, fmt.Errorf("line %d: want NAME, VERDICT, CLASS and REASON separated by tabs: %q", n, line)
		}
		switch f[1] {
		case Failure, Error, Skip, Unfinished:
		default:
			return nil, fmt.Errorf("line %d: verdict %q is not failure, error, skip or unfinished", n, f[1])
		}
		if f[2] != "samba-also" && f[2] != "tandem-only" {
			return nil, fmt.Errorf("line %d: class %q is not samba-also or tandem-only", n, f[2])
		}
		if _, dup := out[f[0]]; dup {
			return nil, fmt.Errorf("line %d: %s listed twice", n, f[0])
		}
		out[f[0]] = Known{Verdict: f[1], Class: f[2], Reason: f[3]}
	}
	return out, sc.Err()
}

// ParseReference reads lines "NAME<TAB>VERDICT" (samba-4.17.verdicts).
func ParseReference(r io.Reader) (map[string]string, error) {
	out := make(map[string]string)
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		name, verdict, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			return nil, fmt.Errorf("line %d: want NAME<TAB>VERDICT", n)
		}
		out[name] = verdict
	}
	return out, sc.Err()
}

// SuiteOf returns the suite a test belongs to ("smb2.setinfo" is both a
// suite and its only test).
func SuiteOf(test string) string {
	for _, s := range Suites {
		if test == s || strings.HasPrefix(test, s+".") {
			return s
		}
	}
	return ""
}

// Compare checks one suite's results against the known failures and
// returns one line per mismatch.
func Compare(suite string, got map[string]Result, known map[string]Known) []string {
	var bad []string
	for name, r := range got {
		k, listed := known[name]
		switch {
		case !listed && r.Verdict != Success:
			bad = append(bad, fmt.Sprintf("%s: %s (not in knownfail.txt): %s", name, r.Verdict, r.Reason))
		case listed && r.Verdict == Success:
			bad = append(bad, fmt.Sprintf("%s: passes now; remove it from knownfail.txt", name))
		case listed && r.Verdict != k.Verdict:
			bad = append(bad, fmt.Sprintf("%s: %s, but knownfail.txt says %s: %s", name, r.Verdict, k.Verdict, r.Reason))
		}
	}
	for name := range known {
		if SuiteOf(name) != suite {
			continue
		}
		if _, ran := got[name]; !ran {
			bad = append(bad, fmt.Sprintf("%s: listed in knownfail.txt but did not run", name))
		}
	}
	return bad
}
