package rpc

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// Decoding any message must not panic, must respect the credential bounds,
// and a call that decodes must decode the same after being written again
// by the client's encoder.
func FuzzCallHeader(f *testing.F) {
	f.Add(call(1, 2, procNull))
	f.Add(call(2, 3, procEcho, xdrString("abc")))
	f.Add(callAuth(3, 2, 100003, 3, 1, authSys(7, "host", 0, 0, 1, 2, 3), authNone, be(1, 2, 3)))
	f.Add(callAuth(4, 2, 100003, 3, 1, authSys(7, "h", 1, 1, make([]uint32, 17)...), authNone))
	f.Add(callAuth(5, 3, 1, 1, 1, authNone, authNone))
	f.Add(callAuth(6, 2, 1, 1, 1, be(6, 4, 0), be(1, 0)))
	f.Add(be(7, MsgReply, 0, 0, 0, 0))
	f.Add(be(8, 5))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		var args xdr.Reader
		c := Call{Args: &args}
		var names nameCache
		verdict, stat := decodeCall(msg, &c, &names)
		switch verdict {
		case verdictAuthError:
			if stat != AuthBadCred && stat != AuthBadVerf {
				t.Fatalf("auth_stat %d", stat)
			}
		case verdictCall:
			cr := c.Cred
			if cr.Flavor != AuthNone && cr.Flavor != AuthSys || len(cr.MachineName) > maxMachineName || len(cr.GIDs) > maxAuthGIDs {
				t.Fatalf("accepted credential %+v", cr)
			}
			rest := slices.Clone(args.Rest())
			w := xdr.NewWriter(nil)
			appendCallHeader(w, c.XID, c.Prog, c.Vers, c.Proc, &cr)
			again := append(w.Bytes(), rest...)
			var args2 xdr.Reader
			c2 := Call{Args: &args2}
			if v, _ := decodeCall(again, &c2, nil); v != verdictCall {
				t.Fatalf("re-encoded call gives verdict %d", v)
			}
			if c2.XID != c.XID || c2.Prog != c.Prog || c2.Vers != c.Vers || c2.Proc != c.Proc ||
				c2.Cred.Flavor != cr.Flavor || c2.Cred.Stamp != cr.Stamp || c2.Cred.MachineName != cr.MachineName ||
				c2.Cred.UID != cr.UID || c2.Cred.GID != cr.GID || !slices.Equal(c2.Cred.GIDs, cr.GIDs) ||
				!bytes.Equal(args2.Rest(), rest) {
				t.Fatalf("round trip changed the call: %+v %+v", c, c2)
			}
		}
	})
}

// Reassembly of any byte stream must stay within its bounds and end in one
// of the expected errors; a message cut into fragments any way must come
// back whole.
func FuzzRecordReader(f *testing.F) {
	f.Add(cat(be(lastFragment|4), be(1)), uint8(0))
	f.Add(cat(be(2), []byte("ab"), be(0), be(lastFragment|2), []byte("cd")), uint8(1))
	f.Add(be(0x7fffffff), uint8(3))
	f.Add(cat(be(4, 0), be(4, 0), be(4, 0), be(4, 0), be(4, 0), be(4, 0), be(4, 0), be(4, 0), be(lastFragment|4, 0)), uint8(2))
	f.Add(cat(be(lastFragment|100), be(1)), uint8(7))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), uint8(255))
	const maxSize = 4096
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		rr := recordReader{r: bufio.NewReaderSize(bytes.NewReader(data), 16), maxSize: maxSize, maxFrags: 8}
		var buf []byte
		for {
			rec, err := rr.read(buf)
			if len(rec) > maxSize {
				t.Fatalf("record of %d bytes", len(rec))
			}
			if err != nil {
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.Is(err, errRecordTooLarge) && !errors.Is(err, errTooManyFragments) {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			buf = rec
		}

		if len(data) > maxSize {
			return
		}
		step := int(split) + 1
		var stream []byte
		for off := 0; ; off += step {
			end := min(off+step, len(data))
			h := uint32(end - off)
			if end == len(data) {
				h |= lastFragment
			}
			stream = append(stream, be(h)...)
			stream = append(stream, data[off:end]...)
			if end == len(data) {
				break
			}
		}
		rr = recordReader{r: bufio.NewReader(bytes.NewReader(stream)), maxSize: maxSize, maxFrags: maxSize + 1}
		rec, err := rr.read(nil)
		if err != nil || !bytes.Equal(rec, data) {
			t.Fatalf("fragmented by %d: got %x, %v", step, rec, err)
		}
		if _, err := rr.read(nil); err != io.EOF {
			t.Fatalf("after the record: %v", err)
		}
	})
}
