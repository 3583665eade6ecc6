package smb

import (
	"context"
	"errors"
	"os"
	"testing"

	smb2 "github.com/cloudsoda/go-smb2"
)

// dial logs on with the go-smb2 client.
func (e *env) dial(user, pass string, neg smb2.Negotiator) (*smb2.Session, error) {
	d := &smb2.Dialer{
		Negotiator: neg,
		Initiator:  &smb2.NTLMInitiator{User: user, Password: pass},
	}
	return d.Dial(context.Background(), e.addr)
}

// ntStatus extracts the NT status of a go-smb2 error. The client turns
// three statuses into os errors; they are turned back.
func ntStatus(err error) Status {
	var re *smb2.ResponseError
	switch {
	case errors.As(err, &re):
		return Status(re.Code)
	case errors.Is(err, os.ErrPermission):
		return StatusAccessDenied
	case errors.Is(err, os.ErrNotExist):
		return StatusObjectNameNotFound
	case errors.Is(err, os.ErrExist):
		return StatusObjectNameCollision
	}
	return 0
}

func TestGoSMB2Logon(t *testing.T) {
	e := newEnv(t, Options{})
	for _, d := range []uint16{0, Dialect202, Dialect210, Dialect300, Dialect302, Dialect311} {
		s, err := e.dial("alice", alicePass, smb2.Negotiator{SpecifiedDialect: d})
		if err != nil {
			t.Fatalf("dialect %#x: %v", d, err)
		}
		sh, err := s.Mount("export")
		if err != nil {
			t.Fatalf("dialect %#x: mount: %v", d, err)
		}
		if err := sh.Umount(); err != nil {
			t.Fatalf("dialect %#x: umount: %v", d, err)
		}
		if err := s.Echo(); err != nil {
			t.Fatalf("dialect %#x: echo: %v", d, err)
		}
		if _, err := s.Mount("nosuch"); ntStatus(err) != StatusBadNetworkName {
			t.Fatalf("dialect %#x: mount of a missing share: %v, want STATUS_BAD_NETWORK_NAME", d, err)
		}
		if err := s.Logoff(); err != nil {
			t.Fatalf("dialect %#x: logoff: %v", d, err)
		}
	}
}

func TestGoSMB2WrongPassword(t *testing.T) {
	e := newEnv(t, Options{})
	_, err := e.dial("alice", "wrong", smb2.Negotiator{})
	if ntStatus(err) != StatusLogonFailure {
		t.Fatalf("wrong password: %v, want STATUS_LOGON_FAILURE", err)
	}
	_, err = e.dial("nobody", "x", smb2.Negotiator{})
	if ntStatus(err) != StatusLogonFailure {
		t.Fatalf("unknown user: %v, want STATUS_LOGON_FAILURE", err)
	}
}

func TestGoSMB2Signing(t *testing.T) {
	for _, serverRequires := range []bool{false, true} {
		e := newEnv(t, Options{RequireSigning: serverRequires})
		for _, d := range []uint16{Dialect202, Dialect210, Dialect300, Dialect302, Dialect311} {
			s, err := e.dial("bob", bobPass, smb2.Negotiator{SpecifiedDialect: d, RequireMessageSigning: true})
			if err != nil {
				t.Fatalf("dialect %#x: %v", d, err)
			}
			sh, err := s.Mount(`\\127.0.0.1\export`)
			if err != nil {
				t.Fatalf("dialect %#x: mount: %v", d, err)
			}
			if err := s.Echo(); err != nil {
				t.Fatalf("dialect %#x: echo: %v", d, err)
			}
			sh.Umount()
			s.Logoff()
		}
	}
}

func TestGoSMB2Encryption(t *testing.T) {
	e := newEnv(t, Options{})
	for _, d := range []uint16{Dialect300, Dialect302, Dialect311} {
		s, err := e.dial("alice", alicePass, smb2.Negotiator{SpecifiedDialect: d})
		if err != nil {
			t.Fatalf("dialect %#x: %v", d, err)
		}
		sh, err := s.Mount("secret")
		if err != nil {
			t.Fatalf("dialect %#x: mount: %v", d, err)
		}
		// The tree requires encryption: go-smb2 encrypts what it sends on
		// it, and the server answers encrypted.
		if _, err := sh.Stat("x"); ntStatus(err) != StatusObjectNameNotFound {
			t.Fatalf("dialect %#x: stat on encrypted tree: %v", d, err)
		}
		data := []byte("sealed")
		if err := sh.WriteFile("x", data, 0o644); err != nil {
			t.Fatalf("dialect %#x: write on encrypted tree: %v", d, err)
		}
		if got, err := sh.ReadFile("x"); err != nil || string(got) != string(data) {
			t.Fatalf("dialect %#x: read on encrypted tree: %q %v", d, got, err)
		}
		if err := sh.Remove("x"); err != nil {
			t.Fatalf("dialect %#x: remove on encrypted tree: %v", d, err)
		}
		if err := sh.Umount(); err != nil {
			t.Fatalf("dialect %#x: umount: %v", d, err)
		}
		s.Logoff()
	}
	// Below 3.0 there is no encryption: the share refuses.
	s, err := e.dial("alice", alicePass, smb2.Negotiator{SpecifiedDialect: Dialect210})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mount("secret"); ntStatus(err) != StatusAccessDenied {
		t.Fatalf("2.1 mount of an encrypted share: %v, want STATUS_ACCESS_DENIED", err)
	}
	s.Logoff()
}

// With Options.Encrypt every 3.x session encrypts, and 2.x cannot log on.
func TestGoSMB2SessionEncryption(t *testing.T) {
	e := newEnv(t, Options{Encrypt: true})
	for _, d := range []uint16{Dialect300, Dialect311} {
		s, err := e.dial("alice", alicePass, smb2.Negotiator{SpecifiedDialect: d})
		if err != nil {
			t.Fatalf("dialect %#x: %v", d, err)
		}
		sh, err := s.Mount("export")
		if err != nil {
			t.Fatalf("dialect %#x: mount: %v", d, err)
		}
		if err := s.Echo(); err != nil {
			t.Fatalf("dialect %#x: echo: %v", d, err)
		}
		sh.Umount()
		s.Logoff()
	}
	if _, err := e.dial("alice", alicePass, smb2.Negotiator{SpecifiedDialect: Dialect210}); ntStatus(err) != StatusAccessDenied {
		t.Fatalf("2.1 logon with encryption required: %v", err)
	}
}
