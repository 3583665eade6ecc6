package smb

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"strings"
	"unicode/utf16"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
)

// Named streams ("file:name", "file:name:$DATA") are kept as the file
// system's extended attributes "user.DosStream.<name>", as Samba's
// streams_xattr keeps them, so they go with the file and are never shown
// as extended attributes (ea.go skips them). A stream holds at most
// fs.MaxXattrSize bytes; writing past that is STATUS_DISK_FULL.
//
// A stream has share modes, byte-range locks, oplocks and leases and open
// state of its own, under a lock table key made from its file's and its
// name (open.key), as Windows keeps oplocks per stream: a lease key names
// a lease on one stream of one file. A delete pending on the file does
// not reach the opens of its streams; but an open of a stream without
// FILE_SHARE_DELETE keeps its file from being opened for deletion, as on
// Windows (streamops.go). A stream is deleted on close
// (FILE_DELETE_ON_CLOSE, or a disposition set through one of its opens):
// its attribute goes when its last open closes. It is renamed within its
// file, onto another stream or the file's data (streamops.go). Creating a
// stream of a file that does not exist creates the file, empty, as
// Windows does. Stream names are found without regard to case and kept as
// first spelled.

// streamPrefix is the prefix of the extended attributes holding streams,
// after fs.XattrUser.
const streamPrefix = "DosStream."

// splitStream finds a named stream in a CREATE name (UTF-16LE raw): the
// name without it and the stream's name, "" when none is named (the
// default stream "::$DATA" is left for parseName).
func splitStream(raw []byte) ([]byte, string, Status) {
	for i := 0; i+1 < len(raw); i += 2 {
		if raw[i] != ':' || raw[i+1] != 0 {
			continue
		}
		if len(raw)%2 != 0 {
			return raw, "", StatusInvalidParameter
		}
		u := make([]uint16, (len(raw)-i-2)/2)
		for j := range u {
			u[j] = uint16(raw[i+2+2*j]) | uint16(raw[i+3+2*j])<<8
		}
		rest := string(utf16.Decode(u))
		if strings.HasPrefix(rest, ":") {
			return raw, "", StatusSuccess // "::$DATA"
		}
		name, typ, typed := strings.Cut(rest, ":")
		switch {
		case typed && !strings.EqualFold(typ, "$DATA"):
			return raw, "", StatusObjectNameInvalid
		case name == "" || len(name) > fs.MaxXattrName-len(fs.XattrUser)-len(streamPrefix):
			return raw, "", StatusObjectNameInvalid
		case strings.ContainsAny(name, "\\/:\x00"):
			return raw, "", StatusObjectNameInvalid
		}
		return raw[:i], name, StatusSuccess
	}
	return raw, "", StatusSuccess
}

// namesDataStream reports whether a CREATE name (UTF-16LE raw) ends in
// "::$DATA", the default data stream named explicitly.
func namesDataStream(raw []byte) bool {
	const suffix = "::$DATA"
	if len(raw) < 2*len(suffix) {
		return false
	}
	tail := raw[len(raw)-2*len(suffix):]
	for i := range len(suffix) {
		c := tail[2*i]
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		if tail[2*i+1] != 0 || c != suffix[i] {
			return false
		}
	}
	return true
}

// streamAttr is the extended attribute of stream name.
func streamAttr(name string) string { return fs.XattrUser + streamPrefix + name }

// findStream looks for the stream of file h named name, without regard
// to case: its name as kept, its data, and whether it exists.
func (s *Server) findStream(ctx context.Context, r *Request, h fs.Handle, name string) (string, []byte, bool, error) {
	var found string
	var data []byte
	err := s.fs.ListXattrs(ctx, r.Caller(), h, fs.XattrUser, func(n string, v []byte) bool {
		sn, ok := strings.CutPrefix(n[len(fs.XattrUser):], streamPrefix)
		if ok && strings.EqualFold(sn, name) {
			found, data = sn, append([]byte(nil), v...)
			return false
		}
		return true
	})
	return found, data, found != "", err
}

// createStream opens or creates a named stream (CREATE of "file:name").
func (s *Server) createStream(ctx context.Context, r *Request, q *createRequest, stream string) (*open, uint32, fs.Attr, Status) {
	if q.options&optDirectory != 0 {
		return nil, 0, fs.Attr{}, StatusNotADirectory
	}
	res, st := s.resolve(ctx, r, q.comps, false)
	if st != StatusSuccess {
		q.link = res.link
		return nil, 0, fs.Attr{}, st
	}
	created := false
	if !res.exists {
		if q.disp == dispOpen || q.disp == dispOverwrite {
			return nil, 0, fs.Attr{}, StatusObjectNameNotFound
		}
		if st := checkComponent(res.name); st != StatusSuccess {
			return nil, 0, fs.Attr{}, st
		}
		psd, c, st := s.mayAdd(ctx, r, res.dir, false) // access.go
		if st != StatusSuccess {
			return nil, 0, fs.Attr{}, st
		}
		sa := fs.SetAttr{Mask: fs.SetDOSAttrs, DOSAttrs: attrArchive}
		h, a, _, err := s.fs.Create(ctx, c, res.dir, res.name, fs.CreateHow{Mode: fs.Guarded, Attr: sa})
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, 0, fs.Attr{}, StatusOf(err)
		}
		if err == nil {
			a = s.inheritSD(ctx, r, psd, h, a) // sdinherit.go
			res.h, res.attr, res.exists, created = h, a, true, true
		} else if res, st = s.resolve(ctx, r, q.comps, false); st != StatusSuccess || !res.exists {
			return nil, 0, fs.Attr{}, StatusObjectNameNotFound
		}
	}
	name, data, exists, err := s.findStream(ctx, r, res.h, stream)
	if err != nil && !errors.Is(err, fs.ErrPerm) {
		return nil, 0, fs.Attr{}, StatusOf(err)
	}
	overwrite := q.disp == dispOverwrite || q.disp == dispOverwriteIf || q.disp == dispSupersede
	switch {
	case exists && q.disp == dispCreate:
		return nil, 0, fs.Attr{}, StatusObjectNameCollision
	case !exists && (q.disp == dispOpen || q.disp == dispOverwrite):
		return nil, 0, fs.Attr{}, StatusObjectNameNotFound
	}
	var access uint32
	judged := false
	if created {
		access = mapGeneric(q.access)
		if access&maximumAllowed != 0 {
			access = access&^maximumAllowed | fileAllAccess
		}
		access &= r.Tree.MaximalAccess()
	} else {
		want := mapGeneric(q.access)
		var maximal uint32
		maximal, judged = s.maximalAccess(ctx, r, res.h, &res.attr, res.dir, want&(accessDelete|maximumAllowed) != 0)
		if access, st = grant(q.access, maximal); st != StatusSuccess {
			return nil, 0, fs.Attr{}, st
		}
		if (!exists || overwrite) && maximal&fileWriteData == 0 {
			return nil, 0, fs.Attr{}, StatusAccessDenied
		}
	}
	action := uint32(actionOpened)
	switch {
	case !exists:
		name, data, action = stream, nil, actionCreated
	case overwrite:
		data, action = nil, actionOverwritten
		if q.disp == dispSupersede {
			action = actionSuperseded
		}
	}
	o := s.newOpen(r, res.h, false, access, q.share, q.options)
	o.caller.Judged = judged
	o.stream = name
	o.cacheRequest(r.Conn, q)
	if q.options&optDeleteOnClose != 0 {
		if res.attr.Type != fs.TypeDir && res.attr.Mode&0o200 == 0 {
			return nil, 0, fs.Attr{}, StatusCannotDelete
		}
		o.deleteOnClose = true
	}
	if st := s.breakForOpen(o, q, exists && overwrite); st != StatusSuccess {
		return nil, 0, fs.Attr{}, st
	}
	if action != actionOpened {
		if err := s.fs.SetXattr(ctx, judgedAs(r.Caller(), judged), res.h, streamAttr(name), []byte{}); err != nil {
			return nil, 0, fs.Attr{}, StatusOf(err)
		}
	}
	if st := o.register(res.dir, res.name, res.path); st != StatusSuccess {
		return nil, 0, fs.Attr{}, st
	}
	a := res.attr
	setStreamSize(&a, len(data))
	return o, action, a, StatusSuccess
}

// key is the lock table key of what o opened: its file's, or for a named
// stream one of the stream's own. Real file ids stay far below 2^63, so
// the stream keys, which have that bit set, never meet a file's.
func (o *open) key() lock.FileKey { return streamKey(o.h, o.stream) }

// streamKey is the lock table key of stream of the file h ("" for its
// data).
func streamKey(fh fs.Handle, stream string) lock.FileKey {
	k := lock.KeyOf(fh)
	if stream == "" {
		return k
	}
	h := fnv.New64a()
	h.Write(binary.LittleEndian.AppendUint64(nil, k.ID))
	h.Write([]byte(strings.ToLower(stream)))
	k.ID = 1<<63 | h.Sum64()>>1
	return k
}

// streamSuffix is what names the open's stream after its file's name.
func (o *open) streamSuffix() string {
	if o.stream == "" {
		return ""
	}
	return ":" + o.stream
}

// setStreamSize makes a file's attributes those of a stream of n bytes.
func setStreamSize(a *fs.Attr, n int) {
	a.Size = uint64(n)
	a.Used = (uint64(n) + fsAllocUnit - 1) / fsAllocUnit * fsAllocUnit
	if a.Type == fs.TypeDir {
		a.Type = fs.TypeRegular // a directory's stream is data
	}
}

// streamData is the data of the open's stream.
func (o *open) streamData(ctx context.Context, r *Request) ([]byte, Status) {
	v, err := o.srv.fs.GetXattr(ctx, &o.caller, o.h, streamAttr(o.stream))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, StatusFileDeleted
	}
	return v, StatusOf(err)
}

// streamAttrs adjusts a, the attributes of the open's file, to its
// stream.
func (o *open) streamAttrs(ctx context.Context, r *Request, a *fs.Attr) Status {
	v, st := o.streamData(ctx, r)
	if st == StatusSuccess {
		setStreamSize(a, len(v))
	}
	return st
}

// readStream answers a READ of a stream open.
func readStream(w *Response, r *Request, o *open, off uint64, length, minCount uint32) {
	if length > 0 {
		if _, held := o.srv.locks().CheckIO(o.key(), o.owner, off, uint64(length), false); held {
			w.Error(StatusFileLockConflict)
			return
		}
	}
	v, st := o.streamData(r.Context(), r)
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	var n int
	if off < uint64(len(v)) {
		n = min(int(length), len(v)-int(off))
		v = v[off:]
	}
	if length > 0 && (n == 0 || uint32(n) < minCount) {
		w.Error(StatusEndOfFile)
		return
	}
	out := w.Grow(16 + n)
	binary.LittleEndian.PutUint16(out, 17)
	out[2] = readDataOffset
	binary.LittleEndian.PutUint32(out[4:], uint32(n))
	copy(out[16:], v[:n])
	if n == 0 {
		w.Grow(1)
	}
}

// writeStream answers a WRITE of a stream open; an open that may only
// append writes at the end.
func writeStream(w *Response, r *Request, o *open, off uint64, data []byte) {
	ctx := r.Context()
	v, st := o.streamData(ctx, r)
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	if !o.may(fileWriteData) {
		off = uint64(len(v))
	}
	if off > fs.MaxXattrSize || uint64(len(data)) > fs.MaxXattrSize-off {
		w.Error(StatusDiskFull)
		return
	}
	if len(data) > 0 {
		if _, held := o.srv.locks().CheckIO(o.key(), o.owner, off, uint64(len(data)), true); held {
			w.Error(StatusFileLockConflict)
			return
		}
	}
	if end := int(off) + len(data); end > len(v) {
		v = append(v, make([]byte, end-len(v))...)
	}
	copy(v[off:], data)
	if st := StatusOf(o.srv.fs.SetXattr(ctx, &o.caller, o.h, streamAttr(o.stream), v)); st != StatusSuccess {
		w.Error(st)
		return
	}
	out := w.Grow(17)
	binary.LittleEndian.PutUint16(out, 17)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(data)))
}

// setStreamInfo applies a SET_INFO file class to a stream open; handled
// is false for the classes that apply to the file itself.
func setStreamInfo(r *Request, o *open, class byte, in []byte) (st Status, handled bool) {
	switch class {
	case classFileLink:
		return StatusNotSupported, true
	case classFileRename, classFileRenameEx:
		if !o.may(accessDelete) {
			return StatusAccessDenied, true
		}
		return renameStream(r, o, in, class == classFileRenameEx), true
	case classFileDisposition, classFileDispositionEx:
		del, onClose := in[0] != 0, false
		if class == classFileDispositionEx {
			flags := binary.LittleEndian.Uint32(in)
			del, onClose = flags&dispositionDelete != 0, flags&dispositionOnClose != 0
		}
		return streamDisposition(r, o, del, onClose), true
	case classFileAllocation, classFileEndOfFile:
		if !o.may(fileWriteData) {
			return StatusAccessDenied, true
		}
		size := binary.LittleEndian.Uint64(in)
		ctx := r.Context()
		v, st := o.streamData(ctx, r)
		if st != StatusSuccess {
			return st, true
		}
		switch {
		case size > fs.MaxXattrSize:
			return StatusDiskFull, true
		case size < uint64(len(v)):
			v = v[:size]
		case class == classFileEndOfFile:
			v = append(v, make([]byte, int(size)-len(v))...)
		}
		return StatusOf(o.srv.fs.SetXattr(ctx, &o.caller, o.h, streamAttr(o.stream), v)), true
	}
	return StatusSuccess, false
}

// putStreams appends FileStreamInformation: the default stream of a
// file, then its named streams.
func putStreams(w *Response, r *Request, o *open, a *fs.Attr) Status {
	last := -1
	entry := func(name string, size, used uint64) {
		if pad := w.Len() % 8; last >= 0 && pad != 0 {
			w.Grow(8 - pad)
		}
		start := w.Len()
		if last >= 0 {
			binary.LittleEndian.PutUint32(w.Bytes()[last:], uint32(start-last))
		}
		last = start
		b := w.Grow(24 + utf16Len(name))
		binary.LittleEndian.PutUint32(b[4:], uint32(utf16Len(name)))
		binary.LittleEndian.PutUint64(b[8:], size)
		binary.LittleEndian.PutUint64(b[16:], used)
		putUTF16(b[24:], name)
	}
	if a.Type != fs.TypeDir {
		entry("::$DATA", a.Size, a.Used)
	}
	err := o.srv.fs.ListXattrs(r.Context(), &o.caller, o.h, fs.XattrUser, func(n string, v []byte) bool {
		if sn, ok := strings.CutPrefix(n[len(fs.XattrUser):], streamPrefix); ok {
			entry(":"+sn+":$DATA", uint64(len(v)), (uint64(len(v))+fsAllocUnit-1)/fsAllocUnit*fsAllocUnit)
		}
		return true
	})
	if errors.Is(err, fs.ErrPerm) || errors.Is(err, fs.ErrAccess) {
		err = nil // no named streams to show
	}
	return StatusOf(err)
}
