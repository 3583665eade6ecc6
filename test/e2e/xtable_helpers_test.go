//go:build e2e

package e2e

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/smbclient"
)

// The cross-protocol table tests run three clients against one server at
// once: the guest's kernel NFSv3 client (locking on: lockd and statd), its
// kernel CIFS client (SMB 3.1.1, leases and caching on, as mounted with no
// options), and an SMB client of this repository (test/smbclient) on the
// host, in the VM's network namespace. The Linux CIFS client always opens
// with every share mode granted, so the rows about share modes (deny read,
// deny write, no FILE_SHARE_DELETE) and about symbolic links an SMB client
// makes (the 6.1 client cannot make one without mfsymlinks) need a client
// that can ask for them; that is the third one. In `tandem locks` the
// kernel CIFS client is "cifs" and the other SMB client "smbc".

// nameCacheTime bounds how long the Linux CIFS client may go on finding a
// name another client removed, once it has the file closed: its attribute
// cache time (actimeo, 1 s by default), and as much again for a busy
// machine.
const nameCacheTime = 2 * time.Second

// smbcGUID is the client GUID of the host's SMB client, so that `tandem
// locks` can tell it from the kernel's.
var smbcGUID = [16]byte{'x', 't', 'a', 'b', 'l', 'e', '-', 's', 'm', 'b', 'c'}

// xtable is one server with the three clients.
type xtable struct {
	xlock
	smb  *smbclient.Tree
	conn *smbclient.Conn

	mu     sync.Mutex
	breaks []smbclient.Break // lease breaks the host's SMB client acknowledged
}

// newXTable starts a server with a short break timeout, mounts it with
// both kernel clients at nfs and cifs (/mnt/<tag>n, /mnt/<tag>c), checks
// that neither mount turned locking or caching off, and connects the
// host's SMB client, which acknowledges every break it gets keeping what
// the break leaves.
func newXTable(t *testing.T, tag string) *xtable {
	v := client(t)
	srv := newTandemServer(t, v)
	srv.args = append(srv.args, "--break-timeout", "5s")
	addSMBUser(t, srv, "tester", "0")
	srv.start(t)
	waitSMB(t, srv)
	nfs, cifs := "/mnt/"+tag+"n", "/mnt/"+tag+"c"
	sh(t, v, 2*time.Minute, "rm -f /tmp/xt-* /tmp/xl-*; "+nfsMountCmd(v, nfs, "")+" && "+cifsMountCmd(v, cifs, ""))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = v.Exec(ctx, "rm -f /tmp/xt-* /tmp/xl-*; umount "+cifs+" || umount -l "+cifs+"; umount "+nfs+" || umount -f -l "+nfs, nil)
	})
	mounts := sh(t, v, 10*time.Second, `grep -E " (`+nfs+`|`+cifs+`) " /proc/mounts`)
	for _, l := range strings.Split(strings.TrimSpace(mounts), "\n") {
		f := strings.Fields(l)
		if len(f) < 4 {
			t.Fatalf("/proc/mounts: %q", l)
		}
		opts := "," + f[3] + ","
		switch f[2] {
		case "nfs":
			if !strings.Contains(opts, ",vers=3,") || strings.Contains(opts, ",nolock,") || !strings.Contains(opts, ",local_lock=none,") {
				t.Fatalf("NFS mount options: %s", l)
			}
		case "cifs", "smb3":
			if !strings.Contains(opts, ",vers=3.1.1,") || !strings.Contains(opts, ",cache=strict,") || strings.Contains(opts, ",nolease,") {
				t.Fatalf("CIFS mount options: %s", l)
			}
		default:
			t.Fatalf("unexpected mount: %s", l)
		}
	}
	x := &xtable{xlock: xlock{clients: clients{v: v, srv: srv, a: v.Hostname()}, nfs: nfs, cifs: cifs, lv: newLockView()}}
	x.lv.roles[hex.EncodeToString(smbcGUID[:])] = "smbc"
	addr := fmt.Sprintf("%s:%d", v.HostIP(), smbPort)
	err := v.InNS(func() error {
		var err error
		x.conn, x.smb, err = smbclient.Connect(addr, smbclient.Options{ClientGUID: smbcGUID}, "tester", smbPassword, "export")
		return err
	})
	if err != nil {
		t.Fatalf("SMB client in the VM's namespace: %v", err)
	}
	t.Cleanup(func() { x.conn.Close() })
	go x.ackBreaks()
	return x
}

// ackBreaks acknowledges the host SMB client's breaks, as a client that
// has nothing to flush would, and records them.
func (x *xtable) ackBreaks() {
	for b := range x.conn.Breaks() {
		x.mu.Lock()
		x.breaks = append(x.breaks, b)
		x.mu.Unlock()
		switch {
		case b.Lease && b.AckRequired:
			_, _, _ = x.smb.AckLeaseBreak(b.LeaseKey, b.NewState)
		case !b.Lease:
			_, _, _ = x.smb.AckOplockBreak(b.FileID, b.OplockLevel)
		}
	}
}

// leaseBreaks returns the lease breaks the host's SMB client got since the
// last call, as "current->new".
func (x *xtable) leaseBreaks() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []string
	for _, b := range x.breaks {
		if b.Lease {
			out = append(out, b.CurrentState.String()+"->"+b.NewState.String())
		}
	}
	x.breaks = nil
	return out
}

// smbOpen opens name with the host's SMB client for read and write (and
// delete) with the share modes given, asking for lease (none if zero), and
// returns the response, failing t unless it succeeded.
func (x *xtable) smbOpen(t *testing.T, name string, share uint32, lease smbclient.LeaseState, disp uint32) *smbclient.CreateResponse {
	t.Helper()
	q := smbclient.CreateRequest{
		DesiredAccess: smbclient.AccessReadWrite | smbclient.AccessDelete,
		ShareAccess:   share, Disposition: disp, Options: smbclient.OptionNonDirectory,
	}
	if lease != 0 {
		q.OplockLevel = smbclient.OplockLease
		q.Lease = &smbclient.LeaseRequest{Key: [16]byte{'k', byte(len(name))}, State: lease, V2: true}
		copy(q.Lease.Key[2:], name)
	}
	r, err := x.smb.Create(name, q)
	if err != nil || r.Status != smbclient.StatusSuccess {
		t.Fatalf("SMB CREATE %s (share %#x): %v %v", name, share, r, err)
	}
	return r
}

// smbClose closes an open of the host's SMB client.
func (x *xtable) smbClose(t *testing.T, fid smbclient.FileID) {
	t.Helper()
	if st, err := x.smb.Close(fid); err != nil || st != smbclient.StatusSuccess {
		t.Fatalf("SMB CLOSE: %v %v", st, err)
	}
}

// guest runs a shell script in the guest and returns its output and exit
// status, without failing: a refused operation is an outcome to check.
func (x *xtable) guest(t *testing.T, script string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := x.v.Exec(ctx, script, nil)
	if err != nil {
		t.Fatalf("guest %q: %v", script, err)
	}
	return string(r.Stdout) + string(r.Stderr), r.RC
}

// run runs ops in one probe and returns its results, whatever each
// operation's outcome.
func (x *xtable) run(t *testing.T, ops ...probeOp) []probeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return probe(ctx, t, x.v, ops...)
}

// wantEntries fails t unless `tandem locks` shows exactly want among the
// entries of the file called name (any order).
func (x *xtable) wantEntries(t *testing.T, name string, want ...string) {
	t.Helper()
	x.awaitEntries(t, name, 0, want...)
}

// awaitEntries polls `tandem locks` until the entries of the file called name
// are exactly want, for up to timeout.
func (x *xtable) awaitEntries(t *testing.T, name string, timeout time.Duration, want ...string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	if want == nil {
		want = []string{}
	}
	deadline := time.Now().Add(timeout)
	for {
		got := []string{}
		for _, e := range x.lv.all(x.srv.entries(t)) {
			if strings.HasPrefix(e, name+" ") {
				got = append(got, e)
			}
		}
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tandem locks for %s:\n got %q\nwant %q", name, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// errnoOf is an operation's outcome: "ok" or the errno's name.
func errnoOf(r probeResult) string {
	if r.OK {
		return "ok"
	}
	if r.Errno != "" {
		return r.Errno
	}
	return "error: " + r.Err
}

// wantOutcomes checks the outcome ("ok" or an errno name) of each id.
func wantOutcomes(t *testing.T, rs []probeResult, want map[string]string) {
	t.Helper()
	ids := slices.Sorted(func(yield func(string) bool) {
		for id := range want {
			if !yield(id) {
				return
			}
		}
	})
	for _, id := range ids {
		if got := errnoOf(byID(t, rs, id)); got != want[id] {
			t.Errorf("%s: %s, want %s", id, byID(t, rs, id), want[id])
		}
	}
}

// showsWithin runs script in the guest until it prints want, and fails t
// unless that took less than max.
func (x *xtable) showsWithin(t *testing.T, script, want string, max time.Duration) {
	t.Helper()
	start := time.Now()
	for {
		out, _ := x.guest(t, script)
		if out == want {
			t.Logf("%q printed %q after %v", script, want, time.Since(start).Round(time.Millisecond))
			if time.Since(start) >= max {
				t.Fatalf("%q took %v to print %q, want under %v", script, time.Since(start), want, max)
			}
			return
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%q prints %q, want %q", script, out, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
