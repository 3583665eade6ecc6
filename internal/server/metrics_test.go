package server

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/nfs3"
	"github.com/tandemfs/tandem/internal/nlm"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
	"github.com/tandemfs/tandem/test/smbclient"
)

// scrape reads /metrics into series -> value, a series spelled as the
// exposition format does: name{label="value",...} with labels sorted.
func scrape(t *testing.T, s *Server) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.MetricsAddr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

func readArgs(fh []byte, off uint64, n uint32) func(*xdr.Writer) {
	return func(w *xdr.Writer) { w.Opaque(fh); w.Uint64(off); w.Uint32(n) }
}

// TestMetricsMove: after a mixed NFS and SMB workload, each metric moved
// by what the workload did: requests by operation name, errors by status
// name, bytes both ways, SMB and NLM lock outcomes, a lease break and its
// acknowledgment, connections and sessions, open files, metadata commits.
func TestMetricsMove(t *testing.T) {
	ctx := context.Background()
	s := startServer(t, Config{SMBPort: freePort(t), MetricsAddr: "127.0.0.1:0", BreakTimeout: Duration(10 * time.Second)})
	if err := s.ids.AddUser(ctx, "alice", "pw-Alice1", 1000, 1000); err != nil {
		t.Fatal(err)
	}
	before := scrape(t, s)

	// NFS: CREATE, WRITE 1000 bytes, READ them, LOOKUP of a missing name.
	n := dialNFS(t, s)
	if st := n.create("nfsfile"); st != nfs3.StatusOK {
		t.Fatal(st)
	}
	fh := lookup(t, s, "export", "nfsfile")
	if st := n.call(nfs3.ProcWrite, writeArgs(fh, 0, make([]byte, 1000))); st != nfs3.StatusOK {
		t.Fatal(st)
	}
	if st := n.call(nfs3.ProcRead, readArgs(fh.Bytes(), 0, 4096)); st != nfs3.StatusOK {
		t.Fatal(st)
	}
	if st := n.lookup("missing"); st != nfs3.StatusNoEnt {
		t.Fatal(st)
	}
	// NLM: one lock granted, one denied.
	lc, err := rpc.Dial(ctx, "tcp", s.NFSAddr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	if st := nlmLock(t, lc, fh, "hostA", 0, 10, false); st != uint32(nlm.StatGranted) {
		t.Fatal(st)
	}
	if st := nlmLock(t, lc, fh, "hostB", 0, 10, false); st != uint32(nlm.StatDenied) {
		t.Fatal(st)
	}

	// SMB: two clients; a writes 3000 bytes and reads them back, opens a
	// missing file, locks a range; b is denied it, then waits for it and
	// gets it when a unlocks. c holds a lease that an NFS WRITE breaks.
	addr := s.SMBAddr.String()
	conn := func() (*smbclient.Conn, *smbclient.Tree) {
		c, tr, err := smbclient.Connect(addr, smbclient.Options{}, "alice", "pw-Alice1", "export")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, tr
	}
	_, a := conn()
	_, b := conn()
	cc, c := conn()
	rw := smbclient.CreateRequest{DesiredAccess: smbclient.AccessReadWrite, ShareAccess: smbclient.ShareAll, Disposition: smbclient.DispositionOpenIf}
	fa := mustOpen(t, a, "smbfile", rw)
	if _, st, err := a.Write(fa, 0, make([]byte, 3000)); st != smbclient.StatusSuccess || err != nil {
		t.Fatal(st, err)
	}
	if data, st, err := a.Read(fa, 0, 3000); st != smbclient.StatusSuccess || err != nil || len(data) != 3000 {
		t.Fatal(len(data), st, err)
	}
	open := rw
	open.Disposition = smbclient.DispositionOpen
	if r, err := a.Create("nope", open); err != nil || r.Status != smbclient.StatusObjectNameNotFound {
		t.Fatalf("CREATE of a missing file: %v %v", r, err)
	}
	fb := mustOpen(t, b, "smbfile", rw)
	excl := smbclient.LockElement{Offset: 0, Length: 10, Flags: smbclient.LockExclusive | smbclient.LockFailImmediately}
	if st, err := a.Lock(fa, excl); st != smbclient.StatusSuccess || err != nil {
		t.Fatal(st, err)
	}
	if st, err := b.Lock(fb, excl); st != smbclient.StatusLockNotGranted || err != nil {
		t.Fatal(st, err)
	}
	waited := make(chan smbclient.Status, 1)
	go func() {
		st, _ := b.Lock(fb, smbclient.LockElement{Offset: 0, Length: 10, Flags: smbclient.LockExclusive})
		waited <- st
	}()
	time.Sleep(200 * time.Millisecond)
	if st, err := a.Lock(fa, smbclient.LockElement{Offset: 0, Length: 10, Flags: smbclient.LockUnlock}); st != smbclient.StatusSuccess || err != nil {
		t.Fatal(st, err)
	}
	if st := <-waited; st != smbclient.StatusSuccess {
		t.Fatalf("waiting LOCK = %v", st)
	}
	leased := rw
	leased.OplockLevel = smbclient.OplockLease
	leased.Lease = &smbclient.LeaseRequest{Key: [16]byte{1}, State: smbclient.LeaseRWH}
	mustOpen(t, c, "leased", leased)
	ackBreaks(c, cc)
	lfh := lookup(t, s, "export", "leased")
	if st := n.callRetry(nfs3.ProcWrite, writeArgs(lfh, 0, []byte("x")), nil); st != nfs3.StatusOK {
		t.Fatal(st)
	}

	after := scrape(t, s)
	delta := func(series string) float64 { return after[series] - before[series] }
	want := map[string]float64{
		`tandem_requests_total{op="CREATE",protocol="nfs"}`:                                 1,
		`tandem_requests_total{op="WRITE",protocol="nfs"}`:                                  2, // one is the break's
		`tandem_requests_total{op="READ",protocol="nfs"}`:                                   1,
		`tandem_requests_total{op="LOCK",protocol="nlm"}`:                                   2,
		`tandem_request_errors_total{protocol="nfs",status="NFS3ERR_NOENT"}`:                1,
		`tandem_request_errors_total{protocol="nlm",status="NLM4_DENIED"}`:                  1,
		`tandem_written_bytes_total{protocol="nfs"}`:                                        1001,
		`tandem_read_bytes_total{protocol="nfs"}`:                                           1000,
		`tandem_lock_grants_total{protocol="nlm"}`:                                          1,
		`tandem_lock_denials_total{protocol="nlm"}`:                                         1,
		`tandem_requests_total{op="WRITE",protocol="smb"}`:                                  1,
		`tandem_requests_total{op="READ",protocol="smb"}`:                                   1,
		`tandem_requests_total{op="LOCK",protocol="smb"}`:                                   4,
		`tandem_requests_total{op="OPLOCK_BREAK",protocol="smb"}`:                           1,
		`tandem_request_errors_total{protocol="smb",status="STATUS_OBJECT_NAME_NOT_FOUND"}`: 1,
		`tandem_request_errors_total{protocol="smb",status="STATUS_LOCK_NOT_GRANTED"}`:      1,
		`tandem_written_bytes_total{protocol="smb"}`:                                        3000,
		`tandem_read_bytes_total{protocol="smb"}`:                                           3000,
		`tandem_lock_grants_total{protocol="smb"}`:                                          2,
		`tandem_lock_denials_total{protocol="smb"}`:                                         1,
		`tandem_lock_waits_total{protocol="smb"}`:                                           1,
		`tandem_lock_deadlocks_total{protocol="smb"}`:                                       0,
		`tandem_smb_breaks_total{kind="lease"}`:                                             1,
		`tandem_smb_break_ack_seconds_count`:                                                1,
		`tandem_smb_break_timeouts_total`:                                                   0,
		`tandem_connections_accepted_total{protocol="smb"}`:                                 3,
		`tandem_connections{protocol="smb"}`:                                                3,
		`tandem_connections{protocol="nfs"}`:                                                2,
		`tandem_smb_sessions`:                                                               3,
		`tandem_open_files{protocol="smb"}`:                                                 3,
	}
	for series, d := range want {
		if _, ok := after[series]; !ok {
			t.Errorf("%s: not exported", series)
			continue
		}
		if got := delta(series); got != d {
			t.Errorf("%s moved by %v, want %v", series, got, d)
		}
	}
	if d := delta(`tandem_meta_commit_duration_seconds_count{kind="update"}`); d < 3 {
		t.Errorf("metadata commits counted: %v, want at least the CREATE, the WRITEs and the SMB create", d)
	}
	if d := delta(`tandem_request_duration_seconds_count{op="WRITE",protocol="smb"}`); d != 1 {
		t.Errorf("SMB WRITE latency observations: %v, want 1", d)
	}
}

func mustOpen(t *testing.T, tr *smbclient.Tree, name string, q smbclient.CreateRequest) smbclient.FileID {
	t.Helper()
	r, err := tr.Create(name, q)
	if err != nil || r.Status != smbclient.StatusSuccess {
		t.Fatalf("CREATE %s: %v %v", name, r, err)
	}
	return r.FileID
}
