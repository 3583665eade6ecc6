package testserver

import (
	"bytes"
	"testing"
)

// nlmServer answers every call with the nlm4_res (or nlm4_testres) in
// reply and hands the call's arguments to got.
func nlmServer(t *testing.T, reply []byte, got chan<- []byte) string {
	return fakeRPC(t, func(_ uint32, args []byte) (uint32, []byte, bool) {
		got <- append([]byte(nil), args...)
		return 0, reply, false
	})
}

// TestNLMCalls: LOCK, UNLOCK and TEST arguments as RFC 1813's NLM4
// appendix lays them out, and the replies decoded.
func TestNLMCalls(t *testing.T) {
	var res enc
	res.opaque([]byte("ck"))
	res.u32(uint32(NLMDeniedGracePeriod))
	got := make(chan []byte, 1)
	c, err := Dial(nlmServer(t, res, got))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l := NLMLock{Caller: "host-a", FH: []byte{1, 2, 3, 4, 5}, OH: []byte("own"), Svid: 7, Offset: 9, Length: 1}
	st, err := c.NLMLock(l, NLMLockArgs{Exclusive: true, Reclaim: true, State: 3})
	if err != nil || st != NLMDeniedGracePeriod {
		t.Fatalf("LOCK: %v, %v", st, err)
	}
	var lock enc
	lock.str("host-a")
	lock.opaque([]byte{1, 2, 3, 4, 5})
	lock.opaque([]byte("own"))
	lock.u32(7)
	lock.u64(9)
	lock.u64(1)
	var want enc
	want.opaque(nlmCookie)
	want.u32(0) // block
	want.u32(1) // exclusive
	want = append(want, lock...)
	want.u32(1) // reclaim
	want.u32(3) // state
	if a := <-got; !bytes.Equal(a, want) {
		t.Fatalf("LOCK args\n got %x\nwant %x", a, want)
	}
	if st, err := c.NLMUnlock(l); err != nil || st != NLMDeniedGracePeriod {
		t.Fatalf("UNLOCK: %v, %v", st, err)
	}
	want = want[:0]
	want.opaque(nlmCookie)
	want = append(want, lock...)
	if a := <-got; !bytes.Equal(a, want) {
		t.Fatalf("UNLOCK args\n got %x\nwant %x", a, want)
	}
	if NLMDeniedGracePeriod.String() != "NLM4_DENIED_GRACE_PERIOD" || NLMStat(42).String() != "NLM4 stat 42" {
		t.Fatalf("names: %v, %v", NLMDeniedGracePeriod, NLMStat(42))
	}
}

// TestNLMTestHolder: a TEST denied reports the holder.
func TestNLMTestHolder(t *testing.T) {
	var res enc
	res.opaque([]byte("ck"))
	res.u32(uint32(NLMDenied))
	res.u32(1) // exclusive
	res.u32(42)
	res.opaque([]byte("holder"))
	res.u64(100)
	res.u64(0)
	got := make(chan []byte, 1)
	c, err := Dial(nlmServer(t, res, got))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, h, err := c.NLMTest(NLMLock{Caller: "b", FH: []byte{9}, Svid: 1, Length: 5}, false)
	if err != nil || st != NLMDenied || h == nil {
		t.Fatalf("TEST: %v %v %v", st, h, err)
	}
	if !h.Exclusive || h.Svid != 42 || string(h.OH) != "holder" || h.Offset != 100 || h.Length != 0 {
		t.Fatalf("holder %+v", *h)
	}
	a := <-got
	var want enc
	want.opaque(nlmCookie)
	want.u32(0) // shared
	if !bytes.HasPrefix(a, want) {
		t.Fatalf("TEST args %x", a)
	}
}
