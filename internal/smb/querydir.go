package smb

import (
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/tandemfs/tandem/internal/fs"
)

func init() { register(CmdQueryDirectory, serveQueryDirectory) }

// QUERY_DIRECTORY lists a directory open in pages. The open remembers the
// search: its pattern (fixed by the first query, replaced only by a
// restart or reopen) and the file system cookie of the last entry sent,
// so the next query goes on after it even if entries were removed
// meanwhile. "." and ".." come first, as on Windows. A pattern without
// wildcards is looked up directly instead of matched against every entry.
// An entry that does not fit the client's buffer is sent by the next
// query; the first query that finds nothing answers STATUS_NO_SUCH_FILE,
// every later one STATUS_NO_MORE_FILES.

// Information classes of QUERY_DIRECTORY (MS-FSCC 2.4).
const (
	classFileDirectory        = 0x01
	classFileFullDirectory    = 0x02
	classFileBothDirectory    = 0x03
	classFileNames            = 0x0c
	classFileIDBothDirectory  = 0x25
	classFileIDFullDirectory  = 0x26
	classFileIDExtdDirectory  = 0x3c
	queryRestartScans         = 0x01
	queryReturnSingleEntry    = 0x02
	queryReopen               = 0x10
	queryDirectoryOutputStart = HeaderSize + 8
)

// dirEnum is the state of a search on an open directory.
type dirEnum struct {
	pattern string
	cookie  uint64 // resume after this entry
	sent    bool   // an entry was sent since the search (re)started
	done    bool
}

// entrySize is the fixed part of an entry of class, 0 for an unknown one.
func entrySize(class byte) int {
	switch class {
	case classFileDirectory:
		return 64
	case classFileFullDirectory:
		return 68
	case classFileBothDirectory:
		return 94
	case classFileNames:
		return 12
	case classFileIDBothDirectory:
		return 104
	case classFileIDFullDirectory:
		return 80
	case classFileIDExtdDirectory:
		return 88
	}
	return 0
}

func serveQueryDirectory(w *Response, r *Request) {
	b := r.Body
	if len(b) < 32 || binary.LittleEndian.Uint16(b) != 33 {
		w.Error(StatusInvalidParameter)
		return
	}
	class, flags := b[2], b[3]
	nameOff, nameLen := uint32(binary.LittleEndian.Uint16(b[24:])), uint32(binary.LittleEndian.Uint16(b[26:]))
	outLen := binary.LittleEndian.Uint32(b[28:])
	if outLen > r.Conn.MaxTransact() || !r.ChargeCovers(outLen) {
		w.Error(StatusInvalidParameter)
		return
	}
	raw, ok := r.Buffer(nameOff, nameLen)
	if !ok || nameLen%2 != 0 {
		w.Error(StatusInvalidParameter)
		return
	}
	o, st := r.openOf(b[8:24])
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	fixed := entrySize(class)
	switch {
	case fixed == 0:
		w.Error(StatusInvalidInfoClass)
		return
	case !o.isDir:
		w.Error(StatusInvalidParameter)
		return
	case !o.may(fileReadData):
		w.Error(StatusAccessDenied)
		return
	}
	pattern, err := fromUTF16le(raw)
	if err != nil {
		w.Error(StatusInvalidParameter)
		return
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	e := o.enum
	if e == nil || flags&(queryRestartScans|queryReopen) != 0 {
		if pattern == "" {
			pattern = "*"
			if e != nil {
				pattern = e.pattern
			}
		}
		e = &dirEnum{pattern: pattern}
		o.enum = e
	}
	if e.done {
		w.Error(StatusNoMoreFiles)
		return
	}
	out := w.Grow(8)
	binary.LittleEndian.PutUint16(out, 9)
	lw := listWriter{w: w, class: class, fixed: fixed, room: int(outLen), single: flags&queryReturnSingleEntry != 0}
	s := r.Conn.srv
	ctx := r.Context()
	if !hasWildcard(e.pattern) {
		// One name: look it up rather than read the directory.
		e.done = true
		if st := checkComponent(e.pattern); st == StatusSuccess || e.pattern == "." || e.pattern == ".." {
			name, _, a, err := s.fs.LookupFold(ctx, &o.caller, o.h, e.pattern)
			if err == nil && !lw.add(name, &a) {
				e.done = false // the client may ask again with room for it
			}
		}
	} else {
		var ferr error
		_, _, ferr = s.fs.ReadDir(ctx, &o.caller, o.h, e.cookie, 0, true, func(d *fs.DirEntry) bool {
			if !matchPattern(e.pattern, d.Name) {
				e.cookie = d.Cookie
				return true
			}
			if !lw.add(d.Name, &d.Attr) {
				return false
			}
			e.cookie = d.Cookie
			return !lw.single && !lw.full
		})
		if ferr != nil {
			w.Error(StatusOf(ferr))
			return
		}
		if !lw.full && (!lw.single || lw.n == 0) {
			e.done = true // the directory has no more
		}
	}
	switch {
	case lw.n == 0 && lw.overflow:
		w.Error(StatusInfoLengthMismatch)
		return
	case lw.n == 0:
		e.done = true
		if e.sent {
			w.Error(StatusNoMoreFiles)
		} else {
			w.Error(StatusNoSuchFile)
		}
		return
	}
	e.sent = true
	out = w.Bytes()
	binary.LittleEndian.PutUint16(out[2:], queryDirectoryOutputStart)
	binary.LittleEndian.PutUint32(out[4:], uint32(w.Len()-8))
}

// listWriter appends directory entries to a response.
type listWriter struct {
	w        *Response
	class    byte
	fixed    int
	room     int  // bytes left of the client's buffer
	single   bool // one entry only
	n        int  // entries written
	last     int  // body offset of the last entry
	full     bool // an entry did not fit
	overflow bool // the first entry did not fit
}

// add appends an entry; false if it does not fit.
func (lw *listWriter) add(name string, a *fs.Attr) bool {
	nameLen := utf16Len(name)
	size := lw.fixed + nameLen
	pad := 0
	if lw.n > 0 {
		pad = (8 - (lw.w.Len()-8)%8) % 8
	}
	if pad+size > lw.room {
		lw.full = true
		lw.overflow = lw.n == 0
		return false
	}
	w := lw.w
	w.Grow(pad)
	off := w.Len()
	if lw.n > 0 {
		binary.LittleEndian.PutUint32(w.Bytes()[lw.last:], uint32(off-lw.last))
	}
	lw.room -= pad + size
	lw.last = off
	lw.n++
	b := w.Grow(size)
	if lw.class == classFileNames {
		binary.LittleEndian.PutUint32(b[8:], uint32(nameLen))
		putUTF16(b[12:], name)
		return true
	}
	putTimes(b[8:], a)
	binary.LittleEndian.PutUint64(b[40:], endOfFile(a))
	binary.LittleEndian.PutUint64(b[48:], allocSize(a))
	binary.LittleEndian.PutUint32(b[56:], dosAttrs(a))
	binary.LittleEndian.PutUint32(b[60:], uint32(nameLen))
	if tag := reparseTag(a); tag != 0 {
		// A reparse point's tag goes where the EA size would (MS-FSCC
		// 2.4.14), or in its own field.
		switch lw.class {
		case classFileFullDirectory, classFileBothDirectory, classFileIDBothDirectory, classFileIDFullDirectory:
			binary.LittleEndian.PutUint32(b[64:], tag)
		case classFileIDExtdDirectory:
			binary.LittleEndian.PutUint32(b[68:], tag)
		}
	}
	if lw.class == classFileBothDirectory || lw.class == classFileIDBothDirectory {
		putListedShortName(b, name) // shortname.go
	}
	switch lw.class {
	case classFileIDFullDirectory:
		binary.LittleEndian.PutUint64(b[72:], a.FileID)
	case classFileIDBothDirectory:
		binary.LittleEndian.PutUint64(b[96:], a.FileID)
	case classFileIDExtdDirectory:
		binary.LittleEndian.PutUint64(b[72:], a.FileID)
	}
	putUTF16(b[lw.fixed:], name)
	return true
}

// utf16Len is the length of s in UTF-16 bytes.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		if r >= 0x10000 {
			n += 4
		} else {
			n += 2
		}
	}
	return n
}

// putUTF16 writes s as UTF-16LE into b, which has room for it.
func putUTF16(b []byte, s string) {
	i := 0
	for _, r := range s {
		if r == utf8.RuneError {
			r = 0xfffd
		}
		if r >= 0x10000 {
			r1, r2 := utf16.EncodeRune(r)
			binary.LittleEndian.PutUint16(b[i:], uint16(r1))
			binary.LittleEndian.PutUint16(b[i+2:], uint16(r2))
			i += 4
			continue
		}
		binary.LittleEndian.PutUint16(b[i:], uint16(r))
		i += 2
	}
}
