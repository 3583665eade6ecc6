package smb

import (
	"context"
	"errors"
	"strings"
	"unicode/utf16"

	"github.com/tandemfs/tandem/internal/fs"
)

// Names in SMB2 are paths relative to the share's root, in UTF-16, with
// backslashes between components. They are found without regard to case
// (fs.LookupFold) and created as spelled. Symbolic links are left to the
// client to resolve, as Windows does (symlink.go); FILE_OPEN_REPARSE_POINT
// opens the link itself.

// parseName decodes and checks the name of a CREATE or rename: the
// components, or the status that refuses it. The empty name is the
// share's root. A trailing backslash is allowed; the default data stream
// suffix "::$DATA" is dropped, and other streams are not found (CREATE
// takes a named stream off first, streams.go).
func parseName(raw []byte) ([]string, Status) {
	if len(raw)%2 != 0 {
		return nil, StatusInvalidParameter
	}
	if len(raw) == 0 {
		return nil, StatusSuccess
	}
	u := make([]uint16, len(raw)/2)
	for i := range u {
		u[i] = uint16(raw[2*i]) | uint16(raw[2*i+1])<<8
	}
	name := string(utf16.Decode(u))
	if name[0] == '\\' {
		return nil, StatusInvalidParameter
	}
	name = strings.TrimSuffix(name, `\`)
	if i := strings.IndexByte(name, ':'); i >= 0 {
		if !strings.EqualFold(name[i:], "::$DATA") || strings.IndexByte(name[:i], ':') >= 0 {
			if strings.ContainsAny(name[i+1:], `\`) {
				return nil, StatusObjectNameInvalid
			}
			return nil, StatusObjectNameNotFound
		}
		name = name[:i]
	}
	if name == "" {
		return nil, StatusSuccess
	}
	comps := strings.Split(name, `\`)
	out := comps[:0]
	for _, c := range comps {
		if c == ".." {
			// A ".." goes back up, as Samba resolves it, but never above
			// the share's root.
			if len(out) == 0 {
				return nil, StatusObjectPathSyntaxBad
			}
			out = out[:len(out)-1]
			continue
		}
		if st := checkComponent(c); st != StatusSuccess {
			return nil, st
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, StatusSuccess
	}
	return out, StatusSuccess
}

// checkComponent checks one path component: not empty, not "." or "..",
// without the characters Windows refuses in names, and not too long.
func checkComponent(c string) Status {
	if c == "" || c == "." || c == ".." {
		return StatusObjectNameInvalid
	}
	if len(c) > fs.MaxNameLen {
		return StatusObjectNameInvalid
	}
	for i := 0; i < len(c); i++ {
		switch b := c[i]; {
		case b < 0x20:
			return StatusObjectNameInvalid
		case b == '"' || b == '*' || b == '/' || b == ':' || b == '<' || b == '>' || b == '?' || b == '|':
			return StatusObjectNameInvalid
		}
	}
	return StatusSuccess
}

// resolved is where a path leads.
type resolved struct {
	dir    fs.Handle // the directory holding the last component; zero for the root
	name   string    // the last component as spelled in the directory (or as asked, if it does not exist)
	path   string    // the whole path as found, backslash-separated
	h      fs.Handle // the file, if it exists
	attr   fs.Attr
	exists bool
	link   *linkStop // with STATUS_STOPPED_ON_SYMLINK: the link met
}

// resolve walks comps from the share's root. A missing or non-directory
// intermediate component is STATUS_OBJECT_PATH_NOT_FOUND; a missing last
// component is no error (exists is false). A symbolic link stops the walk
// with STATUS_STOPPED_ON_SYMLINK and res.link set, for the client to
// resolve (symlink.go), unless it is the last component and noFollow.
func (s *Server) resolve(ctx context.Context, r *Request, comps []string, noFollow bool) (resolved, Status) {
	root := r.Tree.Root()
	c := r.Caller()
	var res resolved
	if len(comps) == 0 {
		a, err := s.fs.GetAttr(ctx, root)
		if err != nil {
			return res, StatusOf(err)
		}
		return resolved{h: root, attr: a, exists: true}, StatusSuccess
	}
	dir := root
	names := make([]string, 0, len(comps))
	for i, comp := range comps {
		last := i == len(comps)-1
		name, h, a, err := s.fs.LookupFold(ctx, c, dir, comp)
		if errors.Is(err, fs.ErrAccess) && s.hasStoredSD(ctx, r, dir) {
			// A directory with a DACL is passed through as Windows
			// passes through any (bypass traverse checking): the mode
			// it leaves does not stop the walk.
			name, h, a, err = s.fs.LookupFold(ctx, judgedAs(c, true), dir, comp)
		}
		if errors.Is(err, fs.ErrNotExist) {
			if long, ok, uerr := s.unmangle(ctx, c, dir, comp); uerr != nil {
				err = uerr
			} else if ok {
				name, h, a, err = s.fs.LookupFold(ctx, c, dir, long) // shortname.go
			}
		}
		switch {
		case errors.Is(err, fs.ErrNotExist) && last:
			return resolved{dir: dir, name: comp, path: joinPath(names, comp)}, StatusSuccess
		case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrNotDir):
			return res, StatusObjectPathNotFound
		case errors.Is(err, fs.ErrInval), errors.Is(err, fs.ErrNameTooLong):
			return res, StatusObjectNameInvalid
		case err != nil:
			return res, StatusOf(err)
		}
		if a.Type == fs.TypeSymlink && !(last && noFollow) {
			target, _, err := s.fs.ReadLink(ctx, c, h)
			if err != nil {
				return res, StatusOf(err)
			}
			return resolved{link: &linkStop{target: target, rest: comps[i+1:]}}, StatusStoppedOnSymlink
		}
		if last {
			return resolved{dir: dir, name: name, path: joinPath(names, name), h: h, attr: a, exists: true}, StatusSuccess
		}
		if a.Type != fs.TypeDir {
			return res, StatusObjectPathNotFound
		}
		dir = h
		names = append(names, name)
	}
	return res, StatusObjectPathNotFound
}

func joinPath(dirs []string, name string) string {
	if len(dirs) == 0 {
		return name
	}
	return strings.Join(dirs, `\`) + `\` + name
}
