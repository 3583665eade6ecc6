package nsm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/tandemfs/tandem/internal/meta"
)

// The monitor's records in the metadata store, bucket "nsm":
//
//	"state"            the state number, 4 bytes big-endian
//	"h" host           a client host holding locks: uvarint-prefixed
//	                   client address, then the server address it used
//	"m" uvarint-prefixed mon_name, uvarint-prefixed my_name, then
//	    my_prog, my_vers, my_proc (4 bytes each)
//	                   an SM_MON registration: the 16-byte priv, then the
//	                   address the SM_MON came from
//
// Addresses are in netip.Addr's binary form.
const bucket = "nsm"

var keyState = []byte("state")

const (
	prefixHost = 'h'
	prefixMon  = 'm'
)

// bumpState reads the stored state number and stores the next odd one:
// odd means up, and every start is a reboot that peers must see as one.
func bumpState(ctx context.Context, st meta.Store, by int32) (int32, error) {
	var state int32
	err := st.Update(ctx, func(tx meta.Tx) error {
		v, err := tx.Get(bucket, keyState)
		switch {
		case errors.Is(err, meta.ErrNotFound):
			state = 1
		case err != nil:
			return err
		case len(v) != 4:
			return fmt.Errorf("nsm: stored state number has %d bytes", len(v))
		default:
			state = int32(binary.BigEndian.Uint32(v))
			if state&1 == 0 {
				state++
			} else {
				state += by
			}
		}
		return tx.Put(bucket, keyState, binary.BigEndian.AppendUint32(nil, uint32(state)))
	})
	return state, err
}

func hostKey(name string) []byte { return append([]byte{prefixHost}, name...) }

func appendAddr(b []byte, a netip.Addr) []byte {
	ab, _ := a.MarshalBinary()
	b = binary.AppendUvarint(b, uint64(len(ab)))
	return append(b, ab...)
}

func readAddr(b []byte) (netip.Addr, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > 16 || uint64(len(b)-k) < n {
		return netip.Addr{}, nil, false
	}
	var a netip.Addr
	if err := a.UnmarshalBinary(b[k : k+int(n)]); err != nil {
		return netip.Addr{}, nil, false
	}
	return a, b[k+int(n):], true
}

func encodeHost(h *host) []byte {
	return appendAddr(appendAddr(nil, h.client), h.server)
}

func decodeHost(v []byte) (host, bool) {
	c, rest, ok := readAddr(v)
	if !ok {
		return host{}, false
	}
	s, rest, ok := readAddr(rest)
	if !ok || len(rest) != 0 {
		return host{}, false
	}
	return host{client: c, server: s}, true
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func readStr(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxName || uint64(len(b)-k) < n {
		return "", nil, false
	}
	return string(b[k : k+int(n)]), b[k+int(n):], true
}

func monKeyBytes(k monKey) []byte {
	b := appendStr([]byte{prefixMon}, k.monName)
	b = appendStr(b, k.myName)
	b = binary.BigEndian.AppendUint32(b, k.prog)
	b = binary.BigEndian.AppendUint32(b, k.vers)
	return binary.BigEndian.AppendUint32(b, k.proc)
}

func decodeMon(key, v []byte) (monKey, registration, bool) {
	var k monKey
	var ok bool
	if k.monName, key, ok = readStr(key[1:]); !ok {
		return k, registration{}, false
	}
	if k.myName, key, ok = readStr(key); !ok || len(key) != 12 {
		return k, registration{}, false
	}
	k.prog = binary.BigEndian.Uint32(key)
	k.vers = binary.BigEndian.Uint32(key[4:])
	k.proc = binary.BigEndian.Uint32(key[8:])
	if len(v) < privSize {
		return k, registration{}, false
	}
	var r registration
	copy(r.priv[:], v)
	from, rest, ok := readAddr(v[privSize:])
	if !ok || len(rest) != 0 {
		return k, registration{}, false
	}
	r.from = from
	return k, r, true
}

func encodeMon(r *registration) []byte {
	return appendAddr(bytes.Clone(r.priv[:]), r.from)
}

// load reads the monitored hosts and the registrations. Records that do
// not decode are skipped with a warning: they cannot be acted on, and
// refusing to start would be worse.
func (s *Service) load(ctx context.Context) error {
	return s.store.View(ctx, func(tx meta.Tx) error {
		err := tx.Scan(bucket, []byte{prefixHost}, func(k, v []byte) bool {
			h, ok := decodeHost(v)
			if !ok {
				s.log.Warn("nsm: skipping a malformed monitored-host record", "key", string(k))
				return true
			}
			h.lastRun = true
			s.hosts[string(k[1:])] = &h
			return true
		})
		if err != nil {
			return err
		}
		return tx.Scan(bucket, []byte{prefixMon}, func(k, v []byte) bool {
			mk, r, ok := decodeMon(k, v)
			if !ok {
				s.log.Warn("nsm: skipping a malformed SM_MON record")
				return true
			}
			s.mons[mk] = &r
			return true
		})
	})
}

func (s *Service) put(ctx context.Context, key, value []byte) error {
	return s.store.Update(ctx, func(tx meta.Tx) error { return tx.Put(bucket, key, value) })
}

func (s *Service) del(ctx context.Context, keys ...[]byte) error {
	return s.store.Update(ctx, func(tx meta.Tx) error {
		for _, k := range keys {
			if err := tx.Delete(bucket, k); err != nil && !errors.Is(err, meta.ErrNotFound) {
				return err
			}
		}
		return nil
	})
}
