package smb

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"

	"github.com/tandemfs/tandem/internal/fs"
)

// Extended attributes (EAs) are name/value pairs a client keeps with a
// file: given at CREATE in an ExtA context, set with SET_INFO
// FileFullEaInformation, read with QUERY_INFO FileFullEaInformation, and
// sized by FileEaInformation (MS-FSCC 2.4.15). They are the file system's
// "user." extended attributes, shared with anything else that reads those.
//
// EA names are ASCII and case-insensitive; as NTFS does, the server keeps
// and returns them in upper case. A value of length zero removes the EA.

// Status codes of EAs (MS-ERREF 2.3).
const (
	StatusInvalidEAName        Status = 0x80000013
	StatusEAListInconsistent   Status = 0x80000014
	StatusInvalidEAFlag        Status = 0x80000015
	StatusEATooLarge           Status = 0xc0000050
	StatusNonexistentEAEntry   Status = 0xc0000051
	statusEANameInvalidSymbols        = `"*+,/:;<=>?[\]|`
)

func init() {
	statusNames[StatusInvalidEAName] = "STATUS_INVALID_EA_NAME"
	statusNames[StatusEAListInconsistent] = "STATUS_EA_LIST_INCONSISTENT"
	statusNames[StatusEATooLarge] = "STATUS_EA_TOO_LARGE"
}

// ea is one extended attribute of a FILE_FULL_EA_INFORMATION list.
type ea struct {
	flags uint8
	name  string // upper case
	value []byte
}

// parseEAList decodes a FILE_FULL_EA_INFORMATION chain: NextEntryOffset,
// Flags, EaNameLength, EaValueLength, the name with a terminating NUL,
// the value; entries 4-byte aligned.
func parseEAList(b []byte) ([]ea, Status) {
	var out []ea
	for {
		if len(b) < 8 {
			return nil, StatusEAListInconsistent
		}
		next := binary.LittleEndian.Uint32(b)
		nameLen := int(b[5])
		valueLen := int(binary.LittleEndian.Uint16(b[6:]))
		end := 8 + nameLen + 1 + valueLen
		if end > len(b) || (next != 0 && (int64(next) < int64(end) || int64(next) > int64(len(b)) || next%4 != 0)) {
			return nil, StatusEAListInconsistent
		}
		if b[4]&^0x80 != 0 { // only FILE_NEED_EA
			return nil, StatusInvalidEAFlag
		}
		name := string(b[8 : 8+nameLen])
		if b[8+nameLen] != 0 || !validEAName(name) {
			return nil, StatusInvalidEAName
		}
		out = append(out, ea{flags: b[4], name: strings.ToUpper(name), value: b[9+nameLen : end]})
		if next == 0 {
			return out, StatusSuccess
		}
		b = b[next:]
	}
}

func validEAName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 0x20 || c >= 0x7f || strings.IndexByte(statusEANameInvalidSymbols, c) >= 0 {
			return false
		}
	}
	return true
}

// eaEntrySize is the size of an entry of a FILE_FULL_EA_INFORMATION list,
// padding to the next entry included.
func eaEntrySize(name string, value []byte) int {
	return (8 + len(name) + 1 + len(value) + 3) &^ 3
}

// xattrsOf turns EAs into the file system's change: an empty value
// removes.
func xattrsOf(eas []ea) []fs.Xattr {
	xs := make([]fs.Xattr, len(eas))
	for i, e := range eas {
		xs[i].Name = fs.XattrUser + e.name
		if len(e.value) > 0 {
			xs[i].Value = e.value
		}
	}
	return xs
}

// setEAs applies a FILE_FULL_EA_INFORMATION list to the file h for the
// caller c.
func (s *Server) setEAs(r *Request, c *fs.Caller, h fs.Handle, list []byte) Status {
	eas, st := parseEAList(list)
	if st != StatusSuccess {
		return st
	}
	err := s.fs.SetXattrs(r.Context(), c, h, xattrsOf(eas))
	if errors.Is(err, fs.ErrFBig) {
		return StatusEATooLarge
	}
	return StatusOf(err)
}

// listEAs calls fn for each EA of the open's file.
func listEAs(r *Request, o *open, fn func(name string, value []byte)) Status {
	err := r.Conn.srv.fs.ListXattrs(r.Context(), &o.caller, o.h, fs.XattrUser, func(name string, v []byte) bool {
		if name = name[len(fs.XattrUser):]; !strings.HasPrefix(name, streamPrefix) { // streams.go
			fn(name, v)
		}
		return true
	})
	if errors.Is(err, fs.ErrPerm) {
		return StatusSuccess // a file that cannot have EAs has none
	}
	return StatusOf(err)
}

// eaNamesAsked decodes the FILE_GET_EA_INFORMATION list of a QUERY_INFO
// (upper case names), nil when it has none.
func eaNamesAsked(r *Request) ([]string, Status) {
	off, n := uint32(binary.LittleEndian.Uint16(r.Body[8:])), binary.LittleEndian.Uint32(r.Body[12:])
	if n == 0 {
		return nil, StatusSuccess
	}
	b, ok := r.Buffer(off, n)
	if !ok {
		return nil, StatusInvalidParameter
	}
	var names []string
	for {
		if len(b) < 5 {
			return nil, StatusEAListInconsistent
		}
		next, l := binary.LittleEndian.Uint32(b), int(b[4])
		if 6+l > len(b) || (next != 0 && (int64(next) < int64(6+l) || int64(next) > int64(len(b)))) {
			return nil, StatusEAListInconsistent
		}
		name := string(b[5 : 5+l])
		if b[5+l] != 0 || !validEAName(name) {
			return nil, StatusInvalidEAName
		}
		names = append(names, strings.ToUpper(name))
		if next == 0 {
			return names, StatusSuccess
		}
		b = b[next:]
	}
}

// eaSize is FileEaInformation's EaSize: the bytes the file's EAs take as
// a FILE_FULL_EA_INFORMATION list, 0 without EAs.
func eaSize(r *Request, o *open) (uint32, Status) {
	var n int
	st := listEAs(r, o, func(name string, v []byte) { n += eaEntrySize(name, v) })
	return uint32(n), st
}

// queryFullEa appends the file's EAs as a FILE_FULL_EA_INFORMATION list
// (STATUS_NO_EAS_ON_FILE without any). A QUERY_INFO whose input buffer
// names EAs (FILE_GET_EA_INFORMATION) gets those, in its order, an EA the
// file lacks with an empty value (MS-FSA 2.1.5.11.12).
func queryFullEa(w *Response, r *Request, o *open) (int, Status) {
	names, st := eaNamesAsked(r)
	if st != StatusSuccess {
		return 0, st
	}
	var found map[string][]byte
	if names != nil {
		found = make(map[string][]byte, len(names))
	}
	last, end := -1, 0
	put := func(name string, v []byte) {
		start := w.Len()
		end = start + 9 + len(name) + len(v)
		if last >= 0 {
			binary.LittleEndian.PutUint32(w.Bytes()[last:], uint32(start-last))
		}
		last = start
		b := w.Grow(eaEntrySize(name, v))
		b[5] = byte(len(name))
		binary.LittleEndian.PutUint16(b[6:], uint16(len(v)))
		copy(b[8:], name)
		copy(b[9+len(name):], v)
	}
	has := false
	st = listEAs(r, o, func(name string, v []byte) {
		has = true
		if names == nil {
			put(name, v)
		} else if slices.Contains(names, name) {
			found[name] = append([]byte(nil), v...)
		}
	})
	if st != StatusSuccess {
		return 0, st
	}
	if !has {
		return 0, StatusNoEASOnFile
	}
	for _, n := range names {
		put(n, found[n])
	}
	if last < 0 {
		return 0, StatusNoEASOnFile
	}
	w.Truncate(end) // the last entry's padding is not part of the list
	return 0, StatusSuccess
}
