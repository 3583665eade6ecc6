package ntlm

import (
	"bytes"
	"encoding/hex"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The NTLMv2 example of MS-NLMP section 4.2.4: user "User", domain
// "Domain", password "Password", the fixed challenges, time zero, and a
// target info of NetBIOS domain "Domain" and computer "Server".
func TestNTLMv2SpecExample(t *testing.T) {
	key := ntowfv2("User", "Domain", "Password")
	if want := unhex(t, "0c868a403bfd7a93a3001ef22ef02e3f"); !bytes.Equal(key, want) {
		t.Fatalf("NTOWFv2 = %x, want %x", key, want)
	}
	var info []byte
	info = append(info, 2, 0, 12, 0)
	info = append(info, UTF16LE("Domain")...)
	info = append(info, 1, 0, 12, 0)
	info = append(info, UTF16LE("Server")...)
	info = append(info, 0, 0, 0, 0)
	nt, lm, sbk := ntlmv2Responses(key, unhex(t, "0123456789abcdef"), unhex(t, "aaaaaaaaaaaaaaaa"), 0, info)
	if want := unhex(t, "68cd0ab851e51c96aabc927bebef6a1c"); !bytes.Equal(nt[:16], want) {
		t.Errorf("NTProofStr = %x, want %x", nt[:16], want)
	}
	if want := unhex(t, "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa"); !bytes.Equal(lm, want) {
		t.Errorf("LMv2 response = %x, want %x", lm, want)
	}
	if want := unhex(t, "8de40ccadbc14a82f15cb0ad0de95ca3"); !bytes.Equal(sbk, want) {
		t.Errorf("session base key = %x, want %x", sbk, want)
	}
	// The rest of the NT response is the client blob.
	blob := append([]byte{1, 1, 0, 0, 0, 0, 0, 0}, make([]byte, 8)...)
	blob = append(blob, unhex(t, "aaaaaaaaaaaaaaaa")...)
	blob = append(blob, 0, 0, 0, 0)
	blob = append(blob, info...)
	blob = append(blob, 0, 0, 0, 0)
	if !bytes.Equal(nt[16:], blob) {
		t.Errorf("NT response blob = %x, want %x", nt[16:], blob)
	}
}

func TestNTLMChallengeAndAuthenticate(t *testing.T) {
	// A CHALLENGE carrying a timestamp in its target info.
	info := []byte{7, 0, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0}
	ch := append([]byte("NTLMSSP\x00"), 2, 0, 0, 0)
	ch = append(ch, make([]byte, 8)...)                                  // target name: none
	ch = append(ch, 0x05, 0x82, 0x8a, 0xe2)                              // flags
	ch = append(ch, 1, 2, 3, 4, 5, 6, 7, 8)                              // server challenge
	ch = append(ch, make([]byte, 8)...)                                  // reserved
	ch = append(ch, byte(len(info)), 0, byte(len(info)), 0, 48, 0, 0, 0) // target info at 48
	ch = append(ch, info...)
	c, err := ParseChallenge(ch)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.challenge, []byte{1, 2, 3, 4, 5, 6, 7, 8}) || !bytes.Equal(c.targetInfo, info) || c.flags != 0xe28a8205 {
		t.Fatalf("parsed %+v", c)
	}
	if ts, ok := avTimestamp(info); !ok || ts != 0x0807060504030201 {
		t.Fatalf("timestamp %x %v", ts, ok)
	}
	msg, key, err := Authenticate(c, "u", "", "p")
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 16 || string(msg[:8]) != "NTLMSSP\x00" || msg[8] != 3 {
		t.Fatalf("AUTHENTICATE header %x", msg[:12])
	}
	// LM response: 24 zero bytes at the payload start (a timestamp was given).
	if lmLen, lmOff := int(msg[12]), int(msg[16]); lmLen != 24 || lmOff != 64 || !bytes.Equal(msg[64:88], make([]byte, 24)) {
		t.Errorf("LM response field len %d off %d", lmLen, lmOff)
	}
	// User name "u" in UTF-16 is the fourth field.
	if n, off := int(msg[36]), int(msg[40]); n != 2 || string(msg[off:off+n]) != "u\x00" {
		t.Errorf("user field len %d off %d", n, off)
	}
}

func TestSPNEGO(t *testing.T) {
	tok := bytes.Repeat([]byte{0xab}, 300) // long-form DER lengths
	got, err := SPNEGOToken(SPNEGOResponse(tok))
	if err != nil || !bytes.Equal(got, tok) {
		t.Fatalf("round trip: %v", err)
	}
	bare := []byte("NTLMSSP\x00rest")
	if got, err := SPNEGOToken(bare); err != nil || !bytes.Equal(got, bare) {
		t.Fatalf("bare NTLMSSP: %v", err)
	}
	init := SPNEGOInit([]byte{1, 2, 3})
	want := []byte{0x60, 0x23, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02, 0xa0, 0x19, 0x30, 0x17,
		0xa0, 0x0e, 0x30, 0x0c, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a,
		0xa2, 0x05, 0x04, 0x03, 1, 2, 3}
	if !bytes.Equal(init, want) {
		t.Fatalf("NegTokenInit\n got %x\nwant %x", init, want)
	}
	if _, err := SPNEGOToken([]byte{0xa1, 0x05, 0x30}); err == nil {
		t.Fatal("truncated token accepted")
	}
}
