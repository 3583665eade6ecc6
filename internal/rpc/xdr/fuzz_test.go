package xdr

import (
	"bytes"
	"fmt"
	"testing"
)

// Any sequence of reads over any bytes must not panic, must keep the
// offset within the input and stop it at the first error; the values read
// before the error, written back and read again, must come out the same.
func FuzzXDRReader(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7}, []byte{0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1})
	f.Add([]byte{6, 6, 7}, []byte{0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0, 1, 'x', 0, 0, 0})
	f.Add([]byte{5 | 3<<4, 0}, []byte{1, 2, 3, 0, 0, 0, 0, 9})
	f.Add([]byte{4}, []byte{0, 0, 0, 2})
	f.Add([]byte{6}, []byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{2, 2, 2}, []byte{1})
	f.Fuzz(func(t *testing.T, ops, data []byte) {
		r := NewReader(data)
		var log []any
		for _, op := range ops {
			before, hadErr := r.Offset(), r.Err() != nil
			v := readOp(r, op)
			if r.Offset() < before || r.Offset() > len(data) || r.Remaining() != len(data)-r.Offset() || len(r.Rest()) != r.Remaining() {
				t.Fatalf("op %d: offset %d -> %d of %d", op, before, r.Offset(), len(data))
			}
			if hadErr && r.Offset() != before {
				t.Fatalf("op %d moved after an error", op)
			}
			if r.Err() == nil {
				log = append(log, v)
			}
		}

		w := NewWriter(nil)
		for i, v := range log {
			writeOp(w, ops[i], v)
		}
		r2 := NewReader(w.Bytes())
		for i, want := range log {
			if got := readOp(r2, ops[i]); fmt.Sprint(got) != fmt.Sprint(want) || r2.Err() != nil {
				t.Fatalf("op %d: wrote %v, read %v (%v)", ops[i], want, got, r2.Err())
			}
		}
		if r2.Remaining() != 0 {
			t.Fatalf("%d bytes left over", r2.Remaining())
		}
	})
}

func readOp(r *Reader, op byte) any {
	switch op % 8 {
	case 0:
		return r.Uint32()
	case 1:
		return r.Int32()
	case 2:
		return r.Uint64()
	case 3:
		return r.Int64()
	case 4:
		return r.Bool()
	case 5:
		return bytes.Clone(r.FixedOpaque(int(op >> 4)))
	case 6:
		return bytes.Clone(r.Opaque(int(op)))
	default:
		return r.String(int(op))
	}
}

func writeOp(w *Writer, op byte, v any) {
	switch op % 8 {
	case 0:
		w.Uint32(v.(uint32))
	case 1:
		w.Int32(v.(int32))
	case 2:
		w.Uint64(v.(uint64))
	case 3:
		w.Int64(v.(int64))
	case 4:
		w.Bool(v.(bool))
	case 5:
		w.FixedOpaque(v.([]byte))
	case 6:
		w.Opaque(v.([]byte))
	default:
		w.String(v.(string))
	}
}
