package nfs3

import (
	"bytes"
	"testing"

	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// decodeArgs runs the argument decoder of proc over r, as ServeRPC does
// before anything reaches the file system.
func decodeArgs(proc uint32, r *xdr.Reader) {
	switch proc {
	case ProcGetAttr, ProcReadLink, ProcFSStat, ProcFSInfo, ProcPathConf:
		decodeFH(r)
	case ProcSetAttr:
		var a setattrArgs
		a.decode(r)
	case ProcLookup, ProcRemove, ProcRmdir:
		var a diropArgs
		a.decode(r)
	case ProcAccess:
		var a accessArgs
		a.decode(r)
	case ProcRead, ProcCommit:
		var a ioArgs
		a.decode(r)
	case ProcWrite:
		var a writeArgs
		a.decode(r)
	case ProcCreate:
		var a createArgs
		a.decode(r)
	case ProcMkdir:
		var a mkdirArgs
		a.decode(r)
	case ProcSymlink:
		var a symlinkArgs
		a.decode(r)
	case ProcMknod:
		var a mknodArgs
		a.decode(r)
	case ProcRename:
		var a renameArgs
		a.decode(r)
	case ProcLink:
		var a linkArgs
		a.decode(r)
	case ProcReadDir, ProcReadDirPlus:
		var a readdirArgs
		a.decode(r, proc == ProcReadDirPlus)
	}
}

// seedArgs are well-formed arguments of every procedure.
func seedArgs() map[uint32][]byte {
	seeds := map[uint32][]byte{}
	enc := func(proc uint32, f func(w *xdr.Writer)) {
		w := xdr.NewWriter(nil)
		f(w)
		seeds[proc] = append([]byte(nil), w.Bytes()...)
	}
	fh := func(w *xdr.Writer) { w.Opaque(testFH) }
	dirop := func(w *xdr.Writer) { fh(w); w.String("name") }
	for _, p := range []uint32{ProcGetAttr, ProcReadLink, ProcFSStat, ProcFSInfo, ProcPathConf} {
		enc(p, fh)
	}
	for _, p := range []uint32{ProcLookup, ProcRemove, ProcRmdir} {
		enc(p, dirop)
	}
	enc(ProcSetAttr, func(w *xdr.Writer) {
		fh(w)
		encSattr(w, clientSattr{mode: u32(0644), size: u64(10), atimeHow: 2, mtimeHow: 1})
		w.Bool(true)
		w.Uint64(1)
	})
	enc(ProcAccess, func(w *xdr.Writer) { fh(w); w.Uint32(0x3f) })
	enc(ProcRead, func(w *xdr.Writer) { fh(w); w.Uint64(0); w.Uint32(4096) })
	enc(ProcCommit, func(w *xdr.Writer) { fh(w); w.Uint64(0); w.Uint32(0) })
	enc(ProcWrite, func(w *xdr.Writer) { fh(w); w.Uint64(0); w.Uint32(3); w.Uint32(2); w.Opaque([]byte("abc")) })
	enc(ProcCreate, func(w *xdr.Writer) { dirop(w); w.Uint32(2); w.Uint64(99) })
	enc(ProcMkdir, func(w *xdr.Writer) { dirop(w); encSattr(w, clientSattr{mode: u32(0755)}) })
	enc(ProcSymlink, func(w *xdr.Writer) { dirop(w); encSattr(w, clientSattr{}); w.String("../target") })
	enc(ProcMknod, func(w *xdr.Writer) { dirop(w); w.Uint32(3); encSattr(w, clientSattr{}); w.Uint32(1); w.Uint32(2) })
	enc(ProcRename, func(w *xdr.Writer) { dirop(w); dirop(w) })
	enc(ProcLink, func(w *xdr.Writer) { fh(w); dirop(w) })
	enc(ProcReadDir, func(w *xdr.Writer) { fh(w); w.Uint64(0); w.Uint64(0); w.Uint32(4096) })
	enc(ProcReadDirPlus, func(w *xdr.Writer) { fh(w); w.Uint64(0); w.Uint64(0); w.Uint32(512); w.Uint32(4096) })
	return seeds
}

// FuzzArgs feeds arbitrary bytes to the argument decoder of the
// procedure selected by the first byte. Decoders must never panic and
// must never read past the input.
func FuzzArgs(f *testing.F) {
	for proc, b := range seedArgs() {
		f.Add(uint8(proc), b)
		f.Add(uint8(proc), b[:len(b)/2])
	}
	f.Fuzz(func(t *testing.T, proc uint8, data []byte) {
		r := xdr.NewReader(data)
		decodeArgs(uint32(proc)%numProcs, r)
		if r.Offset() > len(data) {
			t.Fatalf("read %d of %d bytes", r.Offset(), len(data))
		}
	})
}

// FuzzServe runs whole calls of any procedure against a live file system.
// The handle placeholder of the seeds (testFH) is replaced by the share
// root's handle, so that mutations reach the file system rather than stop
// at NFS3ERR_BADHANDLE. A call must never panic, and a call answered at the
// NFS level must start with a known nfsstat3.
func FuzzServe(f *testing.F) {
	for proc, b := range seedArgs() {
		f.Add(uint8(proc), b)
	}
	e := newEnv(f, Options{MaxRead: 4096, MaxWrite: 4096})
	root := encodedFH(e.root.Bytes())
	placeholder := encodedFH(testFH)
	f.Fuzz(func(t *testing.T, proc uint8, data []byte) {
		e.t = t
		args := bytes.ReplaceAll(data, placeholder, root)
		b, err := e.serve(uint32(proc)%(numProcs+1), credUser, func(w *xdr.Writer) { w.FixedOpaque(args) })
		if err != nil || proc%(numProcs+1) == ProcNull {
			return
		}
		r := xdr.NewReader(b)
		if st := Status(r.Uint32()); r.Err() != nil || statusNames[st] == "" {
			t.Fatalf("%s: reply %x", procNames[proc%numProcs], b)
		}
	})
}
