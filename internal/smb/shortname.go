package smb

import (
	"context"
	"errors"
	"hash/fnv"
	"strings"

	"github.com/tandemfs/tandem/internal/fs"
)

// shortName is the 8.3 name (FileAlternateNameInformation) of a file
// named name. The server keeps no short names: a name that is a valid 8.3
// name already is its own, in upper case; another gets a mangled one made
// from it, as Samba's "mangled names" do: up to five characters of the
// base, a tilde, two characters of a hash of the whole name and up to
// three of the extension. The same name always mangles the same way.
//
// Listings report it (FileBothDirectoryInformation and
// FileIdBothDirectoryInformation), and it is a name of the file: a path
// component that names nothing is looked for among the short names of its
// directory when it has the shape of a mangled one (MS-FSA 2.1.5.1), so
// that a client can open, rename and delete a file by the name it listed.
func shortName(name string) string {
	base, ext := name, ""
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		base, ext = name[:i], name[i+1:]
	}
	if valid83(base, 8) && valid83(ext, 3) && (ext != "" || !strings.Contains(name, ".")) {
		return strings.ToUpper(name)
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	sum := h.Sum32()
	const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	out := make([]byte, 0, 12)
	for i := 0; i < len(base) && len(out) < 5; i++ {
		if c := upper83(base[i]); c != 0 {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		out = append(out, '_')
	}
	out = append(out, '~', digits[sum%36], digits[sum/36%36])
	var e []byte
	for i := 0; i < len(ext) && len(e) < 3; i++ {
		if c := upper83(ext[i]); c != 0 {
			e = append(e, c)
		}
	}
	if len(e) > 0 {
		out = append(append(out, '.'), e...)
	}
	return string(out)
}

// valid83 reports whether s is a valid part of an 8.3 name at most max
// characters long.
func valid83(s string, max int) bool {
	if len(s) > max || (max == 8 && s == "") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if upper83(s[i]) == 0 {
			return false
		}
	}
	return true
}

// upper83 is c in upper case if it may appear in an 8.3 name, else 0.
func upper83(c byte) byte {
	switch {
	case c >= 'a' && c <= 'z':
		return c - 'a' + 'A'
	case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return c
	case strings.IndexByte("!#$%&'()-@^_`{}~", c) >= 0:
		return c
	}
	return 0
}

// putListedShortName writes the ShortNameLength and ShortName of a
// directory entry b of a Both class. "." and ".." have none.
func putListedShortName(b []byte, name string) {
	if name == "." || name == ".." {
		return
	}
	sn := shortName(name)
	b[68] = byte(2 * len(sn)) // at most 12 ASCII characters
	putUTF16(b[70:94], sn)
}

// mangled reports whether name has the shape of a mangled short name: a
// valid 8.3 name with a tilde in its base.
func mangled(name string) bool {
	base, ext, _ := strings.Cut(name, ".")
	return strings.Contains(base, "~") && valid83(base, 8) && valid83(ext, 3) && !strings.Contains(ext, ".")
}

// unmangle finds the entry of dir whose short name is name, a name that
// looked up as it is names nothing. found is false when name is not
// mangled or no entry has it as its short name.
func (s *Server) unmangle(ctx context.Context, c *fs.Caller, dir fs.Handle, name string) (long string, found bool, err error) {
	if !mangled(name) {
		return "", false, nil
	}
	want := strings.ToUpper(name)
	_, _, err = s.fs.ReadDir(ctx, c, dir, 0, 0, false, func(d *fs.DirEntry) bool {
		if d.Name != "." && d.Name != ".." && shortName(d.Name) == want {
			long, found = d.Name, true
			return false
		}
		return true
	})
	if errors.Is(err, fs.ErrAccess) {
		err = nil // a directory that may not be listed keeps its short names
	}
	return long, found, err
}
