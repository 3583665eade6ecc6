package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/admin"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/server"
	"github.com/tandemfs/tandem/test/smbclient"
)

func adminCall(t *testing.T, data, method string, params, out any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return admin.Call(ctx, data, method, params, out)
}

// TestStatusAndControl: `tandem status` shows an SMB session (user,
// address, dialect, signing, encryption, its open file), the NFS host and
// the SMB lock; `tandem locks break` frees the SMB client's lock for
// another client, and `tandem sessions close` cuts a session off.
func TestStatusAndControl(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	data := s.Status().Data
	if _, err := server.UserOp(ctx, s.Identities(), "user.add", server.UserRequest{Name: "alice", Password: "pw-Alice1", UID: 1000, GID: 1000}); err != nil {
		t.Fatal(err)
	}
	nc, err := rpc.Dial(ctx, "tcp", s.NFSAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, st := mnt(t, nc, "/export"); st != 0 {
		t.Fatalf("MNT = %d", st)
	}
	a, ta, err := smbclient.Connect(s.SMBAddr.String(), smbclient.Options{}, "alice", "pw-Alice1", "export")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	rw := smbclient.CreateRequest{DesiredAccess: smbclient.AccessReadWrite, ShareAccess: smbclient.ShareAll, Disposition: smbclient.DispositionOpenIf}
	ra, err := ta.Create("locked", rw)
	if err != nil || ra.Status != smbclient.StatusSuccess {
		t.Fatalf("CREATE: %v %v", ra, err)
	}
	excl := smbclient.LockElement{Offset: 0, Length: 10, Flags: smbclient.LockExclusive | smbclient.LockFailImmediately}
	if st, err := ta.Lock(ra.FileID, excl); st != smbclient.StatusSuccess || err != nil {
		t.Fatalf("LOCK: %v %v", st, err)
	}

	var st server.Status
	if err := adminCall(t, data, "status", nil, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.SMB.Sessions) != 1 {
		t.Fatalf("SMB sessions = %+v, want alice's", st.SMB.Sessions)
	}
	si := st.SMB.Sessions[0]
	want := server.SMBSession{ID: fmt.Sprintf("%016x", a.SessionID()), User: "alice", Client: "127.0.0.1", Dialect: "3.1.1",
		Signing: "on", Channels: 1, Shares: []string{"export"}, Opens: 1}
	if fmt.Sprint(si) != fmt.Sprint(want) {
		t.Fatalf("session = %+v\nwant      %+v", si, want)
	}
	if st.SMB.Connections != 1 || st.SMB.OpenFiles != 1 {
		t.Fatalf("SMB connections %d, open files %d; want 1, 1", st.SMB.Connections, st.SMB.OpenFiles)
	}
	if len(st.NFS.Clients) != 1 || st.NFS.Clients[0].Addr != "127.0.0.1" || st.NFS.Clients[0].Conns != 1 {
		t.Fatalf("NFS clients = %+v, want 127.0.0.1 with 1 connection", st.NFS.Clients)
	}
	if c := st.Locks["smb"]; c.Ranges != 1 || c.Shares != 1 {
		t.Fatalf("SMB lock counts = %+v, want 1 range and 1 share reservation", c)
	}
	if len(st.Listeners) != 2 || st.Listeners[0].Proto != "tcp,udp" || st.Listeners[1].Service != "smb" {
		t.Fatalf("listeners = %+v, want NFS tcp+udp and SMB", st.Listeners)
	}

	var es []server.LockEntry
	if err := adminCall(t, data, "locks", nil, &es); err != nil {
		t.Fatal(err)
	}
	client := ""
	for _, e := range es {
		if e.Kind == "range" {
			client = e.Client
		}
	}
	if client == "" {
		t.Fatalf("no range lock in %+v", es)
	}
	if err := locksBreak([]string{client, "--data", data}); err != nil {
		t.Fatal(err)
	}
	b, tb, err := smbclient.Connect(s.SMBAddr.String(), smbclient.Options{}, "alice", "pw-Alice1", "export")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rb, err := tb.Create("locked", rw)
	if err != nil || rb.Status != smbclient.StatusSuccess {
		t.Fatalf("CREATE: %v %v", rb, err)
	}
	if st, err := tb.Lock(rb.FileID, excl); st != smbclient.StatusSuccess || err != nil {
		t.Fatalf("LOCK after `tandem locks break` of the holder: %v %v", st, err)
	}
	if _, _, err := ta.Write(ra.FileID, 0, []byte("x")); err == nil {
		t.Fatal("the broken client's connection still works")
	}

	if err := sessions([]string{"close", fmt.Sprintf("%x", b.SessionID()), "--data", data}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tb.Write(rb.FileID, 0, []byte("x")); err == nil {
		t.Fatal("a closed session still works")
	}
	if err := sessions([]string{"close", "--client", "127.0.0.1", "--data", data}); err != nil {
		t.Fatalf("closing the NFS connection: %v", err)
	}
	// A cut connection is torn down by its own goroutine, at once but not
	// before the command returns.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		st = server.Status{}
		if err := adminCall(t, data, "status", nil, &st); err != nil {
			t.Fatal(err)
		}
		if len(st.SMB.Sessions) == 0 && len(st.NFS.Clients) == 0 && st.Locks["smb"] == (server.LockCounts{}) {
			break
		}
		if time.Now().After(deadline) {
			_ = adminCall(t, data, "locks", nil, &es)
			t.Fatalf("after closing everything: %+v\nlocks %+v", st, es)
		}
	}
}
