package smb

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/tandemfs/tandem/internal/fs"
)

func TestMatchPattern(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"*", "anything", true},
		{"*", "", true},
		{"*.txt", "a.txt", true},
		{"*.txt", "A.TXT", true},
		{"*.txt", "a.txt.bak", false},
		{"*.*", "noext", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXbYY", false},
		{"ß*", "SS", false},
		{"straße", "STRASSE", false},
		{"ÄB*", "äbc", true},
		// DOS wildcards: < is * up to the last period, > is ? that also
		// matches nothing at a period or the end, " is a period or
		// nothing at the end.
		{"<.txt", "a.b.txt", true},
		{"<.txt", "a.txt", true},
		{"<", "a.b", false},
		{"<", "ab", true},
		{"a>>", "a", true},
		{"a>>", "abc", true},
		{"a>>", "abcd", false},
		{"a>>.c", "a.c", true},
		{"a>.c", "ab.c", true},
		{"a\"", "a", true},
		{"a\"", "a.", true},
		{"a\"b", "a.b", true},
		{"a\"b", "ab", false},
		{"<\"*", "readme", true},
		{"**********************x", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaay", false},
	} {
		if got := matchPattern(c.pattern, c.name); got != c.want {
			t.Errorf("matchPattern(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

// names of the entries.
func names(es []dirEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.name
	}
	return out
}

func TestQueryDirectory(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	c.close(c.mustCreate(createReq{name: "d", access: fileGenericRead, share: shareAll, disp: dispCreate, options: optDirectory}))
	for _, n := range []string{"a.txt", "B.TXT", "c.dat", "long-name-", "smile-😀"} {
		f := c.mustCreate(createReq{name: `d\` + n, access: rw, share: shareAll, disp: dispCreate})
		c.write(f, 0, []byte(n))
		c.close(f)
	}
	c.close(c.mustCreate(createReq{name: `d\sub`, access: fileGenericRead, share: shareAll, disp: dispCreate, options: optDirectory}))
	dir := c.mustCreate(createReq{name: "d", access: fileGenericRead, share: shareAll, disp: dispOpen, options: optDirectory})

	all := []string{".", "..", "a.txt", "B.TXT", "c.dat", "long-name-", "smile-😀", "sub"}
	es, st := c.queryDir(dir, classFileIDBothDirectory, 0, "*", 65536)
	if st != StatusSuccess || !slices.Equal(names(es), all) {
		t.Fatalf("listing: %v %v", names(es), st)
	}
	ctx := context.Background()
	droot, _, _, _ := e.fs.Lookup(ctx, nil, e.root(), "d")
	for _, x := range es {
		_, a, _, err := e.fs.Lookup(ctx, nil, droot, x.name)
		if err != nil {
			t.Fatal(err)
		}
		wantAttrs, wantSize := uint32(attrArchive), uint64(len(x.name)) // each file holds its name
		if x.name == "sub" || x.name == "." || x.name == ".." {
			wantAttrs, wantSize = attrDirectory, 0
		}
		if x.fileID != a.FileID || x.attrs != wantAttrs || x.size != wantSize {
			t.Errorf("%s: file id %d attrs %#x size %d, want %d %#x %d", x.name, x.fileID, x.attrs, x.size, a.FileID, wantAttrs, wantSize)
		}
	}
	if _, st := c.queryDir(dir, classFileIDBothDirectory, 0, "*", 65536); st != StatusNoMoreFiles {
		t.Errorf("after the end: %v", st)
	}

	// Every class lists the same names with its own fixed part.
	for _, class := range []byte{classFileDirectory, classFileFullDirectory, classFileBothDirectory, classFileNames, classFileIDFullDirectory, classFileIDExtdDirectory} {
		es, st := c.queryDir(dir, class, queryRestartScans, "*", 65536)
		if st != StatusSuccess || !slices.Equal(names(es), all) {
			t.Errorf("class %d: %v %v", class, names(es), st)
		}
	}

	for _, tc := range []struct {
		pattern string
		want    []string
		st      Status
	}{
		{"*.txt", []string{"a.txt", "B.TXT"}, StatusSuccess},
		{"?.dat", []string{"c.dat"}, StatusSuccess},
		{"<.TXT", []string{"a.txt", "B.TXT"}, StatusSuccess},
		{"b.txt", []string{"B.TXT"}, StatusSuccess}, // no wildcard: looked up
		{"SUB", []string{"sub"}, StatusSuccess},
		{"nothing*", nil, StatusNoSuchFile},
		{"nothing", nil, StatusNoSuchFile},
	} {
		es, st := c.queryDir(dir, classFileDirectory, queryReopen, tc.pattern, 65536)
		if st != tc.st || !slices.Equal(names(es), tc.want) {
			t.Errorf("pattern %q: %v %v, want %v %v", tc.pattern, names(es), st, tc.want, tc.st)
		}
		if _, st := c.queryDir(dir, classFileDirectory, 0, "", 65536); st != StatusNoMoreFiles {
			t.Errorf("pattern %q, second query: %v", tc.pattern, st)
		}
	}

	// One entry per query.
	var got []string
	flags := byte(queryRestartScans | queryReturnSingleEntry)
	for {
		es, st := c.queryDir(dir, classFileNames, flags, "*", 65536)
		flags = queryReturnSingleEntry
		if st == StatusNoMoreFiles {
			break
		}
		if st != StatusSuccess || len(es) != 1 {
			t.Fatalf("single entry: %v %v", names(es), st)
		}
		got = append(got, es[0].name)
	}
	if !slices.Equal(got, all) {
		t.Errorf("single entries: %v", got)
	}

	// Pages of a buffer that holds two entries.
	got = nil
	flags = queryRestartScans
	for {
		es, st := c.queryDir(dir, classFileIDBothDirectory, flags, "*", 2*(104+24))
		flags = 0
		if st == StatusNoMoreFiles {
			break
		}
		if st != StatusSuccess || len(es) > 2 {
			t.Fatalf("page: %v %v", names(es), st)
		}
		got = append(got, names(es)...)
	}
	if !slices.Equal(got, all) {
		t.Errorf("pages: %v", got)
	}
	if _, st := c.queryDir(dir, classFileIDBothDirectory, queryRestartScans, "*", 50); st != StatusInfoLengthMismatch {
		t.Errorf("buffer smaller than an entry: %v", st)
	}
	if _, st := c.queryDir(dir, 0x55, queryRestartScans, "*", 4096); st != StatusInvalidInfoClass {
		t.Errorf("unknown class: %v", st)
	}
	f := c.mustCreate(openReq(`d\a.txt`))
	if _, st := c.queryDir(f, classFileDirectory, 0, "*", 4096); st != StatusInvalidParameter {
		t.Errorf("QUERY_DIRECTORY on a file: %v", st)
	}
	noList := c.mustCreate(createReq{name: "d", access: fileReadAttributes, share: shareAll, disp: dispOpen})
	if _, st := c.queryDir(noList, classFileDirectory, 0, "*", 4096); st != StatusAccessDenied {
		t.Errorf("QUERY_DIRECTORY without LIST_DIRECTORY: %v", st)
	}
}

// A listing goes on where it stopped though entries go and come between
// pages: nothing is listed twice and nothing that stayed is missed.
func TestQueryDirectoryChanging(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.connect("export")
	ctx := context.Background()
	root := e.root()
	for i := range 100 {
		if _, _, _, err := e.fs.Create(ctx, nil, root, "f"+strconv.Itoa(i), fsGuarded()); err != nil {
			t.Fatal(err)
		}
	}
	dir := c.mustCreate(createReq{name: "", access: fileGenericRead, share: shareAll, disp: dispOpen})
	seen := map[string]int{}
	for page := 0; ; page++ {
		es, st := c.queryDir(dir, classFileNames, 0, "*", 10*(12+8))
		if st == StatusNoMoreFiles {
			break
		}
		if st != StatusSuccess {
			t.Fatal(st)
		}
		for _, x := range es {
			seen[x.name]++
		}
		// Remove an entry already listed and one not yet, add one.
		e.fs.Remove(ctx, nil, root, "f"+strconv.Itoa(page))
		e.fs.Remove(ctx, nil, root, "f"+strconv.Itoa(99-page))
		e.fs.Create(ctx, nil, root, "new"+strconv.Itoa(page), fsGuarded())
	}
	for name, n := range seen {
		if n != 1 {
			t.Errorf("%s listed %d times", name, n)
		}
	}
	// What was never removed was listed.
	for i := range 100 {
		name := "f" + strconv.Itoa(i)
		if _, _, _, err := e.fs.Lookup(ctx, nil, root, name); err == nil && seen[name] == 0 {
			t.Errorf("%s stayed but was not listed", name)
		}
	}
}

func fsGuarded() fs.CreateHow { return fs.CreateHow{Mode: fs.Guarded} }
