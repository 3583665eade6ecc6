package smb

import (
	"bytes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	"github.com/tandemfs/tandem/internal/identity"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// RFC 4493, section 4.
func TestCMAC(t *testing.T) {
	k, err := newCMACKey(unhex(t, "2b7e151628aed2a6abf7158809cf4f3c"))
	if err != nil {
		t.Fatal(err)
	}
	msg := unhex(t, "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710")
	for _, c := range []struct {
		n    int
		want string
	}{
		{0, "bb1d6929e95937287fa37d129b756746"},
		{16, "070a16b46b4d4144f79bdd9dd04a287c"},
		{40, "dfa66747de9ae63030ca32611497c827"},
		{64, "51f0bebf7e3b9d92fc49741779363cfe"},
	} {
		got := k.sum(msg[:c.n])
		if hex.EncodeToString(got[:]) != c.want {
			t.Errorf("CMAC of %d bytes = %x, want %s", c.n, got, c.want)
		}
	}
}

// The CBC chain of CMAC and CCM, assembly or not, is the last block of
// the standard library's CBC encryption of the same bytes, for 128- and
// 256-bit keys and lengths around the loop's edges.
func TestCBCMAC(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	msg := make([]byte, 1<<16+64)
	for i := range msg {
		msg[i] = byte(rng.Uint32())
	}
	for _, keyLen := range []int{16, 32} {
		key := msg[len(msg)-keyLen:]
		m, err := newCBCMAC(key)
		if err != nil {
			t.Fatal(err)
		}
		generic := cbcMAC{b: m.b}
		for _, n := range []int{0, 1, 2, 3, 17, 4096, 1 << 12} {
			p := msg[:16*n]
			var iv [16]byte
			copy(iv[:], msg[100:])
			want := make([]byte, len(p))
			cipher.NewCBCEncrypter(m.b, iv[:]).CryptBlocks(want, p)
			if n == 0 {
				want = iv[:]
			}
			for _, c := range []struct {
				name string
				m    cbcMAC
			}{{"chosen", m}, {"generic", generic}} {
				x := iv
				c.m.blocks(&x, p)
				if !bytes.Equal(x[:], want[len(want)-16:]) {
					t.Errorf("%d-byte key, %d blocks, %s: %x, want %x", keyLen, n, c.name, x, want[len(want)-16:])
				}
			}
		}
	}
	if haveAESAsm {
		k, _ := newCMACKey(msg[:16])
		if n := testing.AllocsPerRun(100, func() { k.sum(msg[:1000]) }); n != 0 {
			t.Errorf("CMAC allocates %v times", n)
		}
	}
}

// NIST SP 800-38C, appendix C, examples 1 to 3.
func TestCCM(t *testing.T) {
	key := unhex(t, "404142434445464748494a4b4c4d4e4f")
	for _, c := range []struct {
		nonce, aad, pt, ct string
		tag                int
	}{
		{"10111213141516", "0001020304050607", "20212223", "7162015b4dac255d", 4},
		{"1011121314151617", "000102030405060708090a0b0c0d0e0f", "202122232425262728292a2b2c2d2e2f", "d2a1f0e051ea5f62081a7792073d593d1fc64fbfaccd", 6},
		{"101112131415161718191a1b", "000102030405060708090a0b0c0d0e0f10111213", "202122232425262728292a2b2c2d2e2f3031323334353637", "e3b201a9f5b71a7a9b1ceaeccd97e70b6176aad9a4428aa5484392fbc1b09951", 8},
	} {
		nonce, aad, pt := unhex(t, c.nonce), unhex(t, c.aad), unhex(t, c.pt)
		a, err := newCCM(key, len(nonce), c.tag)
		if err != nil {
			t.Fatal(err)
		}
		ct := a.Seal(nil, nonce, pt, aad)
		if hex.EncodeToString(ct) != c.ct {
			t.Errorf("Seal = %x, want %s", ct, c.ct)
		}
		back, err := a.Open(nil, nonce, ct, aad)
		if err != nil || !bytes.Equal(back, pt) {
			t.Errorf("Open = %x, %v", back, err)
		}
		ct[0] ^= 1
		if _, err := a.Open(nil, nonce, ct, aad); err == nil {
			t.Error("Open accepted a modified ciphertext")
		}
	}
	// The SMB shape, in place, with a long message: round trip.
	a, _ := newCCM(key, 11, 16)
	msg := bytes.Repeat([]byte("tandem"), 5000)
	buf := append(bytes.Clone(msg), make([]byte, 16)...)[:len(msg)]
	nonce := make([]byte, 11)
	sealed := a.Seal(buf[:0], nonce, buf, []byte("aad"))
	opened, err := a.Open(sealed[:0], nonce, sealed, []byte("aad"))
	if err != nil || !bytes.Equal(opened, msg) {
		t.Fatalf("in-place round trip failed: %v", err)
	}
}

// MS-NLMP 4.2.4: NTLMv2 with the specification's user, password,
// challenges and AV pairs, checked from the server's side.
func TestNTLMv2Vectors(t *testing.T) {
	ntHash := identity.NTHash("Password")
	rk := ntowfv2(ntHash, "User", "Domain")
	if got := hex.EncodeToString(rk[:]); got != "0c868a403bfd7a93a3001ef22ef02e3f" {
		t.Fatalf("NTOWFv2 = %s", got)
	}
	serverChallenge := unhex(t, "0123456789abcdef")
	var info []byte
	info = appendAV(info, avNbDomainName, utf16le("Domain"))
	info = appendAV(info, avNbComputerName, utf16le("Server"))
	info = appendAV(info, avEOL, nil)
	blob := append([]byte{1, 1, 0, 0, 0, 0, 0, 0}, make([]byte, 8)...) // time 0
	blob = append(blob, unhex(t, "aaaaaaaaaaaaaaaa")...)
	blob = append(blob, 0, 0, 0, 0)
	blob = append(blob, info...)
	blob = append(blob, 0, 0, 0, 0)

	h := hmac.New(md5.New, rk[:])
	h.Write(serverChallenge)
	h.Write(blob)
	proof := h.Sum(nil)
	if got := hex.EncodeToString(proof); got != "68cd0ab851e51c96aabc927bebef6a1c" {
		t.Fatalf("NTProofStr = %s", got)
	}
	h = hmac.New(md5.New, rk[:])
	h.Write(proof)
	if got := hex.EncodeToString(h.Sum(nil)); got != "8de40ccadbc14a82f15cb0ad0de95ca3" {
		t.Fatalf("SessionBaseKey = %s", got)
	}
	encKey := unhex(t, "c5dad2544fc9799094ce1ce90bc9d03e")

	// The server verifies the same exchange and recovers the random
	// session key 0x55... through KEY_EXCH.
	n := &ntlmServer{flags: ntlmNegotiateKeyExch | ntlmNegotiateUnicode}
	copy(n.challenge[:], serverChallenge)
	msg := buildAuthenticate(append(proof, blob...), "Domain", "User", "COMPUTER", encKey, 0xe2888215)
	a, err := parseAuthenticate(msg)
	if err != nil {
		t.Fatal(err)
	}
	key, ok := n.verify(a, ntHash)
	if !ok || !bytes.Equal(key[:], bytes.Repeat([]byte{0x55}, 16)) {
		t.Fatalf("verify = %x, %v", key, ok)
	}
	if _, ok := n.verify(a, identity.NTHash("password")); ok {
		t.Fatal("verify accepted the wrong password")
	}
}

// buildAuthenticate makes an AUTHENTICATE message without version or MIC.
func buildAuthenticate(nt []byte, domain, user, wks string, encKey []byte, flags uint32) []byte {
	fields := [][]byte{nil, nt, utf16le(domain), utf16le(user), utf16le(wks), encKey}
	m := make([]byte, 64)
	copy(m, ntlmSignature)
	binary.LittleEndian.PutUint32(m[8:], 3)
	off := 64
	for i, f := range fields {
		putField(m[12+8*i:], len(f), off)
		off += len(f)
	}
	binary.LittleEndian.PutUint32(m[60:], flags)
	for _, f := range fields {
		m = append(m, f...)
	}
	return m
}

// The mechListMIC is NTLM's MAC with sequence number 0; sealing with RC4
// under KEY_EXCH. Checked against a direct computation of MS-NLMP 3.4.4.2.
func TestNTLMMAC(t *testing.T) {
	var key [16]byte
	copy(key[:], bytes.Repeat([]byte{0x55}, 16))
	msg := []byte{0x30, 0x0c, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a}
	flags := ntlmNegotiateKeyExch | ntlmNegotiate128
	got := ntlmMAC(key, flags, true, 0, msg)

	signKey := md5.Sum(append(key[:], "session key to client-to-server signing key magic constant\x00"...))
	sealKey := md5.Sum(append(key[:], "session key to client-to-server sealing key magic constant\x00"...))
	h := hmac.New(md5.New, signKey[:])
	h.Write([]byte{0, 0, 0, 0})
	h.Write(msg)
	sum := h.Sum(nil)[:8]
	c, _ := rc4.NewCipher(sealKey[:])
	c.XORKeyStream(sum, sum)
	want := append(append([]byte{1, 0, 0, 0}, sum...), 0, 0, 0, 0)
	if !bytes.Equal(got[:], want) {
		t.Fatalf("MAC = %x, want %x", got, want)
	}
}

// The SP 800-108 KDF in the form SMB uses it, against a direct HMAC.
func TestKDF(t *testing.T) {
	key := unhex(t, "7cd451825d0450d235424e44ba6e78cc")
	got := kdf(key, label30Sign, ctx30Sign, 128)
	h := hmac.New(sha256.New, key)
	h.Write([]byte("\x00\x00\x00\x01SMB2AESCMAC\x00\x00SmbSign\x00\x00\x00\x00\x80"))
	if want := h.Sum(nil)[:16]; !bytes.Equal(got, want) {
		t.Fatalf("kdf = %x, want %x", got, want)
	}
	if got := kdf(key, label311ServerIn, make([]byte, 64), 256); len(got) != 32 {
		t.Fatalf("256-bit key has %d bytes", len(got))
	}
}

func TestGMACNonce(t *testing.T) {
	// Two messages that differ only in the response flag must sign
	// differently: the nonce carries the role.
	s := newSigner(Dialect311, signAESGMAC, nil, make([]byte, 16))
	if _, ok := s.(gmacSigner); !ok {
		t.Fatalf("signer is %T", s)
	}
	var h Header
	h.Command = CmdEcho
	h.MessageID = 7
	req := make([]byte, 68)
	h.encode(req)
	h.Flags = FlagResponse
	resp := make([]byte, 68)
	h.encode(resp)
	a, c := s.sign(req), s.sign(resp)
	if a == c {
		t.Fatal("request and response signatures collide")
	}
	signMessage(s, resp)
	if !verify(s, bytes.Clone(resp)) {
		t.Fatal("verify refused its own signature")
	}
	resp[66] ^= 1
	if verify(s, resp) {
		t.Fatal("verify accepted a modified message")
	}
}
