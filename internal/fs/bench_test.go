package fs

import (
	"fmt"
	"testing"
)

func BenchmarkCreate(b *testing.B) {
	e := newEnv(b)
	d := e.mkdir(alice, e.root, "d", 0o755)
	how := CreateHow{Mode: Guarded, Attr: SetAttr{Mask: SetMode, Mode: 0o644}}
	names := make([]string, b.N)
	for i := range names {
		names[i] = fmt.Sprintf("file-%d", i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, _, _, err := e.fs.Create(e.ctx, alice, d, names[i], how); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkWrite(b *testing.B, stable Stability) {
	e := newEnv(b)
	f := e.create(alice, e.root, "f", 0o644)
	data := make([]byte, 4096)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		off := uint64(i%1024) * 4096
		if _, _, _, err := e.fs.Write(e.ctx, alice, f, off, data, stable); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteUnstable(b *testing.B) { benchmarkWrite(b, Unstable) }
func BenchmarkWriteFileSync(b *testing.B) { benchmarkWrite(b, FileSync) }

func BenchmarkRead(b *testing.B) {
	e := newEnv(b)
	f := e.create(alice, e.root, "f", 0o644)
	e.fs.Write(e.ctx, alice, f, 0, make([]byte, 1<<20), Unstable)
	e.clock.advance()
	e.read(alice, f) // atime is now newer than mtime: reads do not write
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, _, _, err := e.fs.Read(e.ctx, alice, f, uint64(i%256)*4096, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	e := newEnv(b)
	for i := range 1000 {
		e.create(alice, e.root, fmt.Sprint(i), 0o644)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, _, _, err := e.fs.Lookup(e.ctx, alice, e.root, "500"); err != nil {
			b.Fatal(i, err)
		}
	}
}
