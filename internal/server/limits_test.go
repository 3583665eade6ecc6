package server

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	smb2 "github.com/cloudsoda/go-smb2"

	"github.com/tandemfs/tandem/internal/nfs3"
	"github.com/tandemfs/tandem/test/smbclient"
)

// limitsServer starts a server whose limits act within seconds.
func limitsServer(t *testing.T, lim LimitsConfig) *Server {
	t.Helper()
	s := startServer(t, Config{SMBPort: freePort(t), MetricsAddr: "127.0.0.1:0", Limits: lim})
	if err := s.ids.AddUser(context.Background(), "alice", "pw-Alice1", 1000, 1000); err != nil {
		t.Fatal(err)
	}
	return s
}

// wellBehaved runs a whole SMB session (logon, write, read back) and NFS
// calls, failing the test if any fails: the limits must not touch it.
func wellBehaved(t *testing.T, s *Server, name string) {
	t.Helper()
	d := &smb2.Dialer{Initiator: &smb2.NTLMInitiator{User: "alice", Password: "pw-Alice1"}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ss, err := d.Dial(ctx, s.SMBAddr.String())
	if err != nil {
		t.Fatalf("well-behaved SMB client: %v", err)
	}
	defer ss.Logoff()
	sh, err := ss.Mount("export")
	if err != nil {
		t.Fatalf("well-behaved SMB client: %v", err)
	}
	defer sh.Umount()
	if err := sh.WriteFile(name, []byte("fine"), 0o644); err != nil {
		t.Fatalf("well-behaved SMB write: %v", err)
	}
	if b, err := sh.ReadFile(name); err != nil || string(b) != "fine" {
		t.Fatalf("well-behaved SMB read: %q %v", b, err)
	}
	n := dialNFS(t, s)
	if st := n.lookup(name); st != nfs3.StatusOK {
		t.Fatalf("well-behaved NFS LOOKUP: %v", st)
	}
	n.c.Close()
}

// cutWithin waits until the server closes c (a read ends), failing the
// test if that takes longer than d.
func cutWithin(t *testing.T, c net.Conn, d time.Duration, what string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: still connected after %v", what, d)
	}
}

func refusals(t *testing.T, s *Server, proto, limit string) float64 {
	return scrape(t, s)[`tandem_limit_refusals_total{limit="`+limit+`",protocol="`+proto+`"}`]
}

// TestSilentAndSlowClients: a client that connects and sends nothing, and
// one that sends a byte a second, are cut off by the handshake timeout
// (SMB) and the idle timeout (NFS), while a well-behaved client works.
func TestSilentAndSlowClients(t *testing.T) {
	s := limitsServer(t, LimitsConfig{HandshakeTimeout: Duration(2 * time.Second), NFSIdleTimeout: Duration(2 * time.Second)})
	var conns []net.Conn
	dial := func(addr net.Addr) net.Conn {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns = append(conns, c)
		return c
	}
	silentSMB, slowSMB := dial(s.SMBAddr), dial(s.SMBAddr)
	silentNFS, slowNFS := dial(s.NFSAddr), dial(s.NFSAddr)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		// A NetBIOS header announcing a NEGOTIATE, and an RPC record
		// mark, one byte a second.
		smbBytes, nfsBytes := []byte{0, 0, 0, 100}, []byte{0x80, 0, 0, 100}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			slowSMB.Write(smbBytes[i%4 : i%4+1])
			slowNFS.Write(nfsBytes[i%4 : i%4+1])
		}
	}()
	wellBehaved(t, s, "during")
	cutWithin(t, silentSMB, 6*time.Second, "SMB client that sends nothing")
	cutWithin(t, slowSMB, 6*time.Second, "SMB client sending a byte a second")
	cutWithin(t, silentNFS, 6*time.Second, "NFS client that sends nothing")
	cutWithin(t, slowNFS, 6*time.Second, "NFS client sending a byte a second")
	wellBehaved(t, s, "after")
	if n := refusals(t, s, "smb", "handshake_timeout"); n != 2 {
		t.Fatalf("SMB handshake timeouts counted: %v, want 2", n)
	}
}

// TestConnectionCap: connections over max_connections are closed at
// once, and counted; once some go, new ones are admitted.
func TestConnectionCap(t *testing.T) {
	s := limitsServer(t, LimitsConfig{MaxConnections: 3, HandshakeTimeout: Duration(2 * time.Second)})
	var held []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", s.SMBAddr.String())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	time.Sleep(100 * time.Millisecond) // let the server accept them
	over, err := net.Dial("tcp", s.SMBAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	cutWithin(t, over, time.Second, "SMB connection over the cap")
	if n := refusals(t, s, "smb", "max_connections"); n != 1 {
		t.Fatalf("refusals counted: %v, want 1", n)
	}
	for _, c := range held {
		c.Close()
	}
	time.Sleep(100 * time.Millisecond)
	wellBehaved(t, s, "after-cap")
}

// TestNonReadingClient: an NFS client that sends READs and never reads
// the replies is cut off when a reply cannot be written within the idle
// timeout; a well-behaved client works meanwhile.
func TestNonReadingClient(t *testing.T) {
	s := limitsServer(t, LimitsConfig{NFSIdleTimeout: Duration(2 * time.Second)})
	n := dialNFS(t, s)
	if st := n.create("big"); st != nfs3.StatusOK {
		t.Fatal(st)
	}
	fh := lookup(t, s, "export", "big")
	if st := n.call(nfs3.ProcWrite, writeArgs(fh, 0, make([]byte, 1<<20))); st != nfs3.StatusOK {
		t.Fatal(st)
	}
	n.c.Close()
	c, err := net.Dial("tcp", s.NFSAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096)
	// 256 READs of 1 MiB: far more than the socket buffers hold.
	go func() {
		for xid := uint32(1); xid <= 256; xid++ {
			var b []byte
			b = binary.BigEndian.AppendUint32(b, 0) // record mark, below
			for _, v := range []uint32{xid, 0, 2, nfs3.Program, 3, nfs3.ProcRead, 0, 0, 0, 0} {
				b = binary.BigEndian.AppendUint32(b, v)
			}
			fhb := fh.Bytes()
			b = binary.BigEndian.AppendUint32(b, uint32(len(fhb)))
			b = append(b, fhb...)
			for len(b)%4 != 0 {
				b = append(b, 0)
			}
			b = binary.BigEndian.AppendUint64(b, 0)
			b = binary.BigEndian.AppendUint32(b, 1<<20)
			binary.BigEndian.PutUint32(b, 0x80000000|uint32(len(b)-4))
			if _, err := c.Write(b); err != nil {
				return
			}
		}
	}()
	wellBehaved(t, s, "during-nonreader")
	deadline := time.Now().Add(15 * time.Second)
	for len(s.rpc.Peers()) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the client that reads no reply was not cut off")
		}
		time.Sleep(200 * time.Millisecond)
	}
	wellBehaved(t, s, "after-nonreader")
}

// TestLogonFlood: an address that keeps failing to log on is refused for
// the lockout; another address logs on meanwhile.
func TestLogonFlood(t *testing.T) {
	s := limitsServer(t, LimitsConfig{LogonFailures: 3, LogonLockout: Duration(time.Minute)})
	hostile := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	failures, refused := 0, 0
	for range 10 {
		nc, err := hostile.Dial("tcp", s.SMBAddr.String())
		if err != nil {
			t.Fatal(err)
		}
		d := &smb2.Dialer{Initiator: &smb2.NTLMInitiator{User: "alice", Password: "wrong"}}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ss, err := d.DialConn(ctx, nc, s.SMBAddr.String())
		cancel()
		var re *smb2.ResponseError
		switch {
		case err == nil:
			ss.Logoff()
			t.Fatal("a wrong password logged on")
		case errors.As(err, &re) && re.Code == uint32(smbclient.StatusLogonFailure):
			failures++
		default:
			refused++
		}
		nc.Close()
	}
	if failures != 3 || refused != 7 {
		t.Fatalf("%d logon failures and %d refused connections, want 3 and 7", failures, refused)
	}
	wellBehaved(t, s, "during-flood")
	if n := refusals(t, s, "smb", "logon_failures"); n != 7 {
		t.Fatalf("refusals counted: %v, want 7", n)
	}
}

// TestSessionCap: a logon over smb_max_sessions is answered
// STATUS_INSUFFICIENT_RESOURCES and counted; once a session goes, a new
// one is admitted.
func TestSessionCap(t *testing.T) {
	s := limitsServer(t, LimitsConfig{SMBMaxSessions: 2})
	var held []*smbclient.Conn
	for range 2 {
		c, _, err := smbclient.Connect(s.SMBAddr.String(), smbclient.Options{}, "alice", "pw-Alice1", "export")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	c, err := smbclient.Dial(s.SMBAddr.String(), smbclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st, err := c.SessionSetup(smbclient.Logon{User: "alice", Password: "pw-Alice1"}); err != nil || st != smbclient.Status(0xc000009a) {
		t.Fatalf("logon over the cap: %v %v, want STATUS_INSUFFICIENT_RESOURCES", st, err)
	}
	if n := refusals(t, s, "smb", "max_sessions"); n != 1 {
		t.Fatalf("refusals counted: %v, want 1", n)
	}
	held[0].Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(s.smb.Sessions()) > 1 {
		if time.Now().After(deadline) {
			t.Fatal("the closed session is still counted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	wellBehaved(t, s, "under-session-cap")
	held[1].Close()
}

// TestNonReadingSMBClient: an SMB client whose replies are not taken (a
// proxy between it and the server stops reading the server's side while
// READs keep coming) is cut off by the write timeout; a well-behaved
// client works meanwhile.
func TestNonReadingSMBClient(t *testing.T) {
	s := limitsServer(t, LimitsConfig{WriteTimeout: Duration(2 * time.Second)})
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	stall := make(chan struct{})
	go func() {
		cc, err := pl.Accept()
		if err != nil {
			return
		}
		defer cc.Close()
		sc, err := net.Dial("tcp", s.SMBAddr.String())
		if err != nil {
			return
		}
		defer sc.Close()
		sc.(*net.TCPConn).SetReadBuffer(4096)
		go io.Copy(sc, cc)
		// Replies flow until stall, then nobody reads them.
		buf := make([]byte, 64<<10)
		for {
			select {
			case <-stall:
				<-time.After(time.Minute)
				return
			default:
			}
			_ = sc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			n, err := sc.Read(buf)
			if n > 0 {
				cc.Write(buf[:n])
			}
			var ne net.Error
			if err != nil && !(errors.As(err, &ne) && ne.Timeout()) {
				return
			}
		}
	}()
	c, tr, err := smbclient.Connect(pl.Addr().String(), smbclient.Options{Timeout: 30 * time.Second}, "alice", "pw-Alice1", "export")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rw := smbclient.CreateRequest{DesiredAccess: smbclient.AccessReadWrite, ShareAccess: smbclient.ShareAll, Disposition: smbclient.DispositionOpenIf}
	r, err := tr.Create("big", rw)
	if err != nil || r.Status != smbclient.StatusSuccess {
		t.Fatalf("CREATE: %v %v", r, err)
	}
	if _, st, err := tr.Write(r.FileID, 0, make([]byte, 1<<20)); err != nil || st != smbclient.StatusSuccess {
		t.Fatalf("WRITE: %v %v", st, err)
	}
	if len(s.smb.Sessions()) != 1 {
		t.Fatal("no session through the proxy")
	}
	close(stall)
	for range 64 {
		go tr.Read(r.FileID, 0, 1<<20)
	}
	wellBehaved(t, s, "during-smb-nonreader")
	deadline := time.Now().Add(15 * time.Second)
	for s.smb.Connections() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the SMB client that takes no reply was not cut off")
		}
		time.Sleep(100 * time.Millisecond)
	}
	wellBehaved(t, s, "after-smb-nonreader")
}
