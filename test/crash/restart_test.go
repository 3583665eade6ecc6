//go:build e2e

package crash

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/smbclient"
	"github.com/tandemfs/tandem/test/testserver"
)

// Helpers of the restart tests: a server with SMB and a grace period,
// SMB users, clients of both protocols, and the lock table as
// `tandem locks --json` shows it.

// The SMB users of the restart tests.
const (
	alice, alicePass = "alice", "pw-Alice1"
	bob, bobPass     = "bob", "pw-Bob2"
)

// addUsers adds alice (uid 1000) and bob (uid 1001) to a data directory
// no server runs on yet.
func addUsers(t *testing.T, data string) {
	t.Helper()
	for i, u := range []struct{ name, pass string }{{alice, alicePass}, {bob, bobPass}} {
		if err := testserver.AddUser(tandemBin, data, u.name, u.pass, 1000+i); err != nil {
			t.Fatal(err)
		}
	}
}

// startSMB starts a server on data with SMB on a free port and the given
// grace period. A port taken between the choice and the start (by
// whatever else runs on the machine) is chosen again.
func startSMB(t *testing.T, data string, grace time.Duration) *testserver.Process {
	t.Helper()
	for try := 0; ; try++ {
		port, err := testserver.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		p, err := launch(t, data, "--smb-port", strconv.Itoa(port), "--grace-period", grace.String())
		if err != nil {
			if try < 3 && strings.Contains(err.Error(), "address already in use") {
				continue
			}
			t.Fatal(err)
		}
		if p.SMBAddr == "" {
			t.Fatalf("the server did not log its SMB address; log:\n%s", p.Log())
		}
		return p
	}
}

// crashRestart kills p with SIGKILL and starts a server on its data with
// the grace period given; the new server's log is shown if the test
// fails.
func crashRestart(t *testing.T, p *testserver.Process, data string, grace time.Duration) *testserver.Process {
	t.Helper()
	p.Kill()
	p = startSMB(t, data, grace)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log of the last restart:\n%s", p.Log())
		}
	})
	return p
}

// smbConnect logs user on to the export with a ClientGuid of its own
// (SMB 3.1.1).
func smbConnect(t *testing.T, p *testserver.Process, guid [16]byte, user, pass string) (*smbclient.Conn, *smbclient.Tree) {
	t.Helper()
	c, tree, err := smbclient.Connect(p.SMBAddr, smbclient.Options{ClientGUID: guid, Timeout: 20 * time.Second}, user, pass, "export")
	if err != nil {
		t.Fatalf("SMB logon of %s: %v", user, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, tree
}

// guid is a recognizable 16-byte id: the name, zero-padded.
func guid(name string) (g [16]byte) {
	copy(g[:], name)
	return g
}

// clientOf is how `tandem locks` names an SMB client: its ClientGuid in
// hex.
func clientOf(g [16]byte) string { return hex.EncodeToString(g[:]) }

// durableOpen is a CREATE asking for read/write access, sharing
// everything, a version 2 lease of state and a version 2 durable handle.
func durableOpen(key, createGUID [16]byte, state smbclient.LeaseState) smbclient.CreateRequest {
	return smbclient.CreateRequest{
		DesiredAccess: smbclient.AccessReadWrite, ShareAccess: smbclient.ShareAll,
		Disposition: smbclient.DispositionOpenIf, Options: smbclient.OptionNonDirectory,
		OplockLevel: smbclient.OplockLease,
		Lease:       &smbclient.LeaseRequest{Key: key, State: state, V2: true},
		DurableV2:   &smbclient.DurableV2Request{CreateGUID: createGUID},
	}
}

// reconnect is the DH2C CREATE that reclaims a durable open: the same
// request with the durable request replaced by the reconnect context and
// the lease's epoch as last granted.
func reconnect(q smbclient.CreateRequest, fid smbclient.FileID, createGUID [16]byte, epoch uint16) smbclient.CreateRequest {
	q.DurableV2 = nil
	q.ReconnectV2 = &smbclient.DurableV2Reconnect{FileID: fid, CreateGUID: createGUID}
	if q.Lease != nil {
		l := *q.Lease
		l.Epoch = epoch
		q.Lease = &l
	}
	return q
}

// plainOpen is a CREATE for read/write access sharing everything, without
// lease or durability.
func plainOpen() smbclient.CreateRequest {
	return smbclient.CreateRequest{
		DesiredAccess: smbclient.AccessReadWrite, ShareAccess: smbclient.ShareAll,
		Disposition: smbclient.DispositionOpenIf, Options: smbclient.OptionNonDirectory,
	}
}

// create opens name and fails the test unless it succeeded.
func create(t *testing.T, tree *smbclient.Tree, name string, q smbclient.CreateRequest) *smbclient.CreateResponse {
	t.Helper()
	r, err := tree.Create(name, q)
	if err != nil {
		t.Fatalf("CREATE %s: %v", name, err)
	}
	if r.Status != smbclient.StatusSuccess {
		t.Fatalf("CREATE %s: %v", name, r.Status)
	}
	return r
}

// want fails the test unless a call returned the status expected.
func want(t *testing.T, what string, got smbclient.Status, err error, expected smbclient.Status) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got != expected {
		t.Fatalf("%s: %v, want %v", what, got, expected)
	}
}

// excl is an exclusive, fail-immediately SMB lock element.
func excl(off, n uint64) smbclient.LockElement {
	return smbclient.LockElement{Offset: off, Length: n, Flags: smbclient.LockExclusive | smbclient.LockFailImmediately}
}

func unlock(off, n uint64) smbclient.LockElement {
	return smbclient.LockElement{Offset: off, Length: n, Flags: smbclient.LockUnlock}
}

// locks reads the lock table; an entry that waits is not a lock held and
// is left out unless waiting is asked for.
func locks(t *testing.T, p *testserver.Process) []testserver.LockEntry {
	t.Helper()
	es, err := p.Locks()
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// entriesOf selects the entries of one client.
func entriesOf(es []testserver.LockEntry, client string) []testserver.LockEntry {
	var out []testserver.LockEntry
	for _, e := range es {
		if e.Client == client {
			out = append(out, e)
		}
	}
	return out
}

// table is a lock table as sorted text without ages, to compare two.
func table(es []testserver.LockEntry) string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.String()
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// grace reads the grace period from `tandem status --json`.
func grace(t *testing.T, p *testserver.Process) testserver.Grace {
	t.Helper()
	st, err := p.Status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Grace == nil {
		t.Fatal(`tandem status --json has no "grace"`)
	}
	return *st.Grace
}

// waitGraceOver waits until the grace period is over, at most within.
func waitGraceOver(t *testing.T, p *testserver.Process, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for grace(t, p).Active {
		if time.Now().After(deadline) {
			t.Fatalf("the grace period still runs %v later", within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// nlmClient dials the server's NLM (on the NFS port) and finds the handle
// of name in the export, creating the file.
func nlmClient(t *testing.T, p *testserver.Process, name string) (*testserver.Conn, []byte) {
	t.Helper()
	c, root := connect(t, p)
	t.Cleanup(func() { c.Close() })
	fh, err := c.Create(root, name, 0o666)
	if err != nil {
		t.Fatalf("CREATE %s over NFS: %v", name, err)
	}
	return c, fh
}

// nlmWant fails the test unless an NLM call answered the status expected.
func nlmWant(t *testing.T, what string, got testserver.NLMStat, err error, expected testserver.NLMStat) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got != expected {
		t.Fatalf("%s: %v, want %v", what, got, expected)
	}
}

// noErrors fails the test if the server logged an error.
func noErrors(t *testing.T, p *testserver.Process) {
	t.Helper()
	if errs := p.ErrorLines(); len(errs) > 0 {
		t.Errorf("the server logged errors:\n%s", strings.Join(errs, "\n"))
	}
}

// describe lists a table for a failure message.
func describe(es []testserver.LockEntry) string {
	if len(es) == 0 {
		return "(no entries)"
	}
	return fmt.Sprintf("%d entries:\n%s", len(es), table(es))
}
