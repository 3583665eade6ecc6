//go:build e2e

package crash

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/smbclient"
	"github.com/tandemfs/tandem/test/testserver"
)

// The lock load of TestLockCrashRounds: clients lock and unlock slots,
// ranges of 10 bytes 100 bytes apart, of a few files. Slots of one owner
// never touch, so that every protocol's rules leave each one a lock of
// its own (no POSIX merging or splitting, no Windows stacking).
const (
	lockRounds    = 50
	lockFiles     = 3
	slotsPerFile  = 6
	slotLen       = 10
	nlmClients    = 3
	smbDurables   = 2
	smbPlains     = 2
	naturalGrace  = 3 * time.Second // every fifth round waits for the grace period to end
	manualGrace   = time.Minute     // the others end it with `tandem grace end`
	nlmStateValue = 1               // the NSM state of every NLM client: none of them reboots
)

type slot struct{ file, n int }

func (s slot) offset() uint64 { return uint64(s.n) * 100 }

// lockOp is a request a client sent: a lock of a slot in a mode, or its
// unlock.
type lockOp struct {
	unlock bool
	s      slot
	mode   string // "shared" or "exclusive"
}

// lockClient is one client of the load: it knows what it holds (what the
// server acknowledged) and what it had in flight when the server died.
type lockClient interface {
	// name identifies the client in messages.
	name() string
	// load locks and unlocks random slots until a request fails because
	// the server is gone.
	load(t *testing.T, rng *rand.Rand, acked *counts)
	// entry is how `tandem locks` shows a lock the client holds.
	entry(s slot, mode string) string
	// reclaim reconnects to the restarted server and takes back what the
	// client holds, and tries what was in flight.
	reclaim(t *testing.T, p *testserver.Process)
	// state is what the client believes it holds and the request it
	// had in flight (nil if none).
	state() (held map[slot]string, inflight *lockOp)
	// client is how `tandem locks` names the client.
	client() string
	// takeReleased returns the locks the client let go since the last
	// call, as entry() spells them: the restart after may still show
	// them, as releases are persisted lazily.
	takeReleased() []string
}

// counts are the acknowledged grants and unlocks of a round.
type counts struct {
	mu             sync.Mutex
	locks, unlocks int
	denied         int
}

func (c *counts) add(lock, unlock, denied int) {
	c.mu.Lock()
	c.locks += lock
	c.unlocks += unlock
	c.denied += denied
	c.mu.Unlock()
}

// fileIDs maps the test files to the file names of `tandem locks`.
var fileIDs [lockFiles]string

// base holds what every kind of client tracks.
type base struct {
	mu       sync.Mutex
	held     map[slot]string
	inflight *lockOp
	released []string
}

func (b *base) state() (map[slot]string, *lockOp) {
	b.mu.Lock()
	defer b.mu.Unlock()
	held := make(map[slot]string, len(b.held))
	for k, v := range b.held {
		held[k] = v
	}
	return held, b.inflight
}

func (b *base) takeReleased() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	rel := b.released
	b.released = nil
	return rel
}

// answered records the answer to a request of the load: granted (the
// lock is held, or the unlock done), denied (a lock another owner's
// conflicts with) or anything else, an error that ends the client's load.
// It reports whether the load goes on.
func (b *base) answered(t *testing.T, who string, op lockOp, entry string, granted, denied bool, answer fmt.Stringer, acked *counts) bool {
	switch {
	case granted:
		b.settle(op, true, entry)
		if op.unlock {
			acked.add(0, 1, 0)
		} else {
			acked.add(1, 0, 0)
		}
	case denied && !op.unlock:
		b.settle(op, false, "")
		acked.add(0, 0, 1)
	default:
		t.Errorf("%s: %+v: %v", who, op, answer)
		b.settle(op, false, "")
		return false
	}
	return true
}

// retake asks the restarted server, through take, for every lock the
// client holds but the one it was unlocking at the kill. Each must be
// granted; one that is not is an error and no longer held.
func (b *base) retake(t *testing.T, what string, held map[slot]string, inflight *lockOp, take func(s slot, mode string) (bool, fmt.Stringer, error)) {
	for s, mode := range held {
		if inflight != nil && inflight.unlock && inflight.s == s {
			continue
		}
		granted, answer, err := take(s, mode)
		if err != nil {
			t.Fatalf("%s of %v: %v", what, s, err)
		}
		if !granted {
			t.Errorf("%s of the acknowledged %s lock of slot %v: %v", what, mode, s, answer)
			b.mu.Lock()
			delete(b.held, s)
			b.mu.Unlock()
		}
	}
}

// next picks the next request: the unlock of a held slot or the lock of
// another, in a random mode.
func (b *base) next(rng *rand.Rand) lockOp {
	s := slot{rng.IntN(lockFiles), rng.IntN(slotsPerFile)}
	b.mu.Lock()
	defer b.mu.Unlock()
	if m, ok := b.held[s]; ok {
		return lockOp{unlock: true, s: s, mode: m}
	}
	mode := "shared"
	if rng.IntN(2) == 0 {
		mode = "exclusive"
	}
	return lockOp{s: s, mode: mode}
}

// begin records a request as in flight.
func (b *base) begin(op lockOp) {
	b.mu.Lock()
	b.inflight = &op
	b.mu.Unlock()
}

// settle records the answer to the request in flight: granted (the lock
// is held, or the unlock done) or not.
func (b *base) settle(op lockOp, granted bool, entry string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.inflight = nil
	switch {
	case !granted:
	case op.unlock:
		delete(b.held, op.s)
		if entry != "" {
			b.released = append(b.released, entry)
		}
	default:
		b.held[op.s] = op.mode
	}
}

// nlmLoadClient is an NFS client host with one process locking through
// NLM: caller name, svid and owner handle of its own.
type nlmLoadClient struct {
	base
	caller string
	svid   uint32
	fhs    [lockFiles][]byte
	c      *testserver.Conn
}

func (n *nlmLoadClient) name() string { return "nlm " + n.caller }

func (n *nlmLoadClient) client() string { return n.caller }

func (n *nlmLoadClient) lock(s slot) testserver.NLMLock {
	return testserver.NLMLock{Caller: n.caller, FH: n.fhs[s.file], OH: []byte("oh-" + n.caller),
		Svid: n.svid, Offset: s.offset(), Length: slotLen}
}

func (n *nlmLoadClient) entry(s slot, mode string) string {
	return fmt.Sprintf("%s range %s %d+%d nlm %q %q", fileIDs[s.file], mode, s.offset(), slotLen, n.caller,
		fmt.Sprintf("svid %d oh oh-%s", n.svid, n.caller))
}

func (n *nlmLoadClient) args(mode string, reclaim bool) testserver.NLMLockArgs {
	return testserver.NLMLockArgs{Exclusive: mode == "exclusive", Reclaim: reclaim, State: nlmStateValue}
}

func (n *nlmLoadClient) load(t *testing.T, rng *rand.Rand, acked *counts) {
	for {
		op := n.next(rng)
		n.begin(op)
		var st testserver.NLMStat
		var err error
		if op.unlock {
			st, err = n.c.NLMUnlock(n.lock(op.s))
		} else {
			st, err = n.c.NLMLock(n.lock(op.s), n.args(op.mode, false))
		}
		if err != nil {
			if rpcFailure(err) {
				t.Errorf("%s: %v", n.name(), err)
			}
			return // the server is gone; the request stays in flight
		}
		if !n.answered(t, n.name(), op, n.entry(op.s, op.mode), st == testserver.NLMGranted, st == testserver.NLMDenied, st, acked) {
			return
		}
	}
}

func (n *nlmLoadClient) reclaim(t *testing.T, p *testserver.Process) {
	c, err := testserver.Dial(p.NFSAddr)
	if err != nil {
		t.Fatal(err)
	}
	c.Timeout = 30 * time.Second
	n.c = c
	held, inflight := n.state()
	n.retake(t, n.name()+": reclaim", held, inflight, func(s slot, mode string) (bool, fmt.Stringer, error) {
		st, err := c.NLMLock(n.lock(s), n.args(mode, true))
		return st == testserver.NLMGranted, st, err
	})
	if inflight == nil {
		return
	}
	if inflight.unlock {
		// An unlock the client never heard of is sent again; unlocking
		// is always granted.
		st, err := c.NLMUnlock(n.lock(inflight.s))
		if err != nil || st != testserver.NLMGranted {
			t.Errorf("%s: UNLOCK of %v again after the restart: %v %v", n.name(), inflight.s, st, err)
		}
		n.settle(*inflight, true, n.entry(inflight.s, inflight.mode))
		return
	}
	// A lock in flight is reclaimed: granted if the server had granted
	// it, denied (or refused after grace) if not.
	st, err := c.NLMLock(n.lock(inflight.s), n.args(inflight.mode, true))
	if err != nil {
		t.Fatalf("%s: reclaim of the lock in flight: %v", n.name(), err)
	}
	switch st {
	case testserver.NLMGranted:
		n.settle(*inflight, true, "")
	case testserver.NLMDenied, testserver.NLMDeniedGracePeriod:
		n.settle(*inflight, false, "")
	default:
		t.Errorf("%s: reclaim of the lock in flight %v: %v", n.name(), *inflight, st)
		n.settle(*inflight, false, "")
	}
}

// smbOpen is an SMB client's open of one test file.
type smbOpen struct {
	fid        smbclient.FileID
	createGUID [16]byte
	leaseKey   [16]byte
	epoch      uint16
}

// smbLoadClient is an SMB client with an open of each test file. A
// durable client's opens are durable handles with a read/handle lease,
// reconnected after a restart by DH2C; a plain client opens anew and
// sends its locks again, as the Linux client does.
type smbLoadClient struct {
	base
	id      string
	guid    [16]byte
	durable bool
	refused string // why the durable handles were not granted
	tree    *smbclient.Tree
	opens   [lockFiles]smbOpen
}

func (m *smbLoadClient) name() string { return "smb " + m.id }

func (m *smbLoadClient) client() string { return clientOf(m.guid) }

func (m *smbLoadClient) entry(s slot, mode string) string {
	return fmt.Sprintf("%s range %s %d+%d smb %q %q", fileIDs[s.file], mode, s.offset(), slotLen, clientOf(m.guid),
		fmt.Sprintf("open %x", m.opens[s.file].fid.Persistent))
}

func (m *smbLoadClient) element(op lockOp) smbclient.LockElement {
	e := smbclient.LockElement{Offset: op.s.offset(), Length: slotLen, Flags: smbclient.LockFailImmediately}
	switch {
	case op.unlock:
		e.Flags = smbclient.LockUnlock
	case op.mode == "exclusive":
		e.Flags |= smbclient.LockExclusive
	default:
		e.Flags |= smbclient.LockShared
	}
	return e
}

func (m *smbLoadClient) request(f int) smbclient.CreateRequest {
	if !m.durable {
		return plainOpen()
	}
	o := m.opens[f]
	return durableOpen(o.leaseKey, o.createGUID, smbclient.LeaseRead|smbclient.LeaseHandle)
}

// connect logs on as the client and (re)opens its files: a durable
// client reconnects its handles when reconnecting is set.
func (m *smbLoadClient) connect(t *testing.T, p *testserver.Process, reconnecting bool) {
	c, tree, err := smbclient.Connect(p.SMBAddr, smbclient.Options{ClientGUID: m.guid, Timeout: 30 * time.Second}, alice, alicePass, "export")
	if err != nil {
		t.Fatalf("%s: %v", m.name(), err)
	}
	t.Cleanup(func() { c.Close() })
	go ackBreaks(c, tree)
	m.tree = tree
	for f := range lockFiles {
		q := m.request(f)
		if m.durable && reconnecting {
			q = reconnect(q, m.opens[f].fid, m.opens[f].createGUID, m.opens[f].epoch)
		}
		r, err := tree.Create(fmt.Sprintf("lockfile-%d", f), q)
		if err != nil {
			t.Fatalf("%s: CREATE: %v", m.name(), err)
		}
		if r.Status != smbclient.StatusSuccess {
			t.Fatalf("%s: CREATE of file %d (durable reconnect %v): %v", m.name(), f, m.durable && reconnecting, r.Status)
		}
		if m.durable && reconnecting && r.FileID != m.opens[f].fid {
			t.Errorf("%s: reconnected FileId %v, want %v", m.name(), r.FileID, m.opens[f].fid)
		}
		if m.durable && !reconnecting && (r.DurableV2 == nil || r.Lease == nil) {
			// Reported at the end, so that the rounds still run.
			m.refused = fmt.Sprintf("%s: DH2Q with an RH lease granted durable %+v, lease %+v; it carried on as a client that relocks",
				m.name(), r.DurableV2, r.Lease)
			m.durable = false
		}
		m.opens[f].fid = r.FileID
		if r.Lease != nil {
			m.opens[f].epoch = r.Lease.Epoch
		}
	}
}

// ackBreaks acknowledges every break that wants it, keeping what the
// server leaves.
func ackBreaks(c *smbclient.Conn, tree *smbclient.Tree) {
	for b := range c.Breaks() {
		switch {
		case b.Lease && b.AckRequired:
			tree.AckLeaseBreak(b.LeaseKey, b.NewState)
		case !b.Lease:
			tree.AckOplockBreak(b.FileID, b.OplockLevel)
		}
	}
}

func (m *smbLoadClient) load(t *testing.T, rng *rand.Rand, acked *counts) {
	for {
		op := m.next(rng)
		m.begin(op)
		entry := m.entry(op.s, op.mode)
		st, err := m.tree.Lock(m.opens[op.s.file].fid, m.element(op))
		if err != nil {
			if errors.Is(err, smbclient.ErrTimeout) {
				t.Errorf("%s: %v", m.name(), err)
			}
			return
		}
		if !m.answered(t, m.name(), op, entry, st == smbclient.StatusSuccess, st == smbclient.StatusLockNotGranted, st, acked) {
			return
		}
	}
}

func (m *smbLoadClient) reclaim(t *testing.T, p *testserver.Process) {
	held, inflight := m.state()
	var before string // the request in flight's entry, of the open before the restart
	if inflight != nil {
		before = m.entry(inflight.s, inflight.mode)
	}
	m.connect(t, p, true)
	if !m.durable {
		// The client sends its locks again through its new opens.
		m.retake(t, m.name()+": relock", held, inflight, func(s slot, mode string) (bool, fmt.Stringer, error) {
			st, err := m.tree.Lock(m.opens[s.file].fid, m.element(lockOp{s: s, mode: mode}))
			return st == smbclient.StatusSuccess, st, err
		})
	}
	if inflight == nil {
		return
	}
	switch {
	case !m.durable && inflight.unlock:
		// The new open holds nothing there: the unlock is moot. What
		// the old open may still hold goes when grace ends.
		m.settle(*inflight, true, before)
	case !m.durable:
		// The lock in flight is sent again: a relock if the server had
		// granted it, a new lock if not.
		st, err := m.tree.Lock(m.opens[inflight.s.file].fid, m.element(*inflight))
		if err != nil {
			t.Fatalf("%s: the lock in flight again: %v", m.name(), err)
		}
		if st != smbclient.StatusSuccess && st != smbclient.StatusLockNotGranted {
			t.Errorf("%s: the lock in flight %v again: %v", m.name(), *inflight, st)
		}
		m.settle(*inflight, st == smbclient.StatusSuccess, "")
	default:
		// The reconnected open has the lock in flight if the server
		// granted it: the client, unsure, unlocks the range, which
		// succeeds if it had it and is STATUS_RANGE_NOT_LOCKED if not;
		// either way it holds it no more. An unlock in flight is sent
		// again the same way.
		op := lockOp{unlock: true, s: inflight.s, mode: inflight.mode}
		st, err := m.tree.Lock(m.opens[inflight.s.file].fid, m.element(op))
		if err != nil {
			t.Fatalf("%s: unlock of the request in flight: %v", m.name(), err)
		}
		if st != smbclient.StatusSuccess && st != smbclient.StatusRangeNotLocked {
			t.Errorf("%s: unlock of the request in flight %v: %v", m.name(), *inflight, st)
		}
		m.settle(op, true, m.entry(op.s, op.mode))
	}
}

// rpcFailure reports an RPC error that is not the connection going away
// with the killed server.
func rpcFailure(err error) bool {
	var rerr *testserver.RPCError
	return errors.As(err, &rerr) || errors.Is(err, testserver.ErrTimeout)
}

// TestLockCrashRounds kills the server with SIGKILL at random moments of a
// mixed lock load, lockRounds times, and checks after each restart that
// no acknowledged lock was lost and no acknowledged unlock came back.
// NLM clients (each a host of its own) and SMB clients (half with durable
// handles, half relocking through new opens) lock and unlock slots of a
// few files and keep a ledger of what the server acknowledged and of the
// request they had in flight at the kill. After the restart:
//
//   - every acknowledged lock is in `tandem locks --json`, unreclaimed;
//     anything else there is a lock whose unlock was acknowledged lately
//     (releases are persisted lazily) or the request in flight, and
//     unreclaimed too;
//   - the clients reclaim what they hold (NLM reclaim, SMB DH2C or
//     relock), which must be granted, and try what was in flight, whose
//     answer decides whether they hold it;
//   - once the grace period is over (ended by hand, or every fifth round
//     at its end) the lock table is exactly what the clients believe they
//     hold, and the server logged no error.
func TestLockCrashRounds(t *testing.T) {
	t0 := time.Now()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	data := t.TempDir()
	addUsers(t, data)
	p := startSMB(t, data, manualGrace)
	clients := setupLockClients(t, p)
	defer func() {
		for _, c := range clients {
			if m, ok := c.(*smbLoadClient); ok && m.refused != "" {
				t.Error(m.refused)
			}
		}
	}()

	var lingering []string // released at the last grace end: may come back once more
	var total counts
	for round := range lockRounds {
		var acked counts
		var wg sync.WaitGroup
		for _, c := range clients {
			crng := rand.New(rand.NewPCG(rng.Uint64(), 3))
			wg.Add(1)
			go func() { defer wg.Done(); c.load(t, crng, &acked) }()
		}
		killAfter := time.Duration(20+rng.IntN(281)) * time.Millisecond
		time.Sleep(killAfter)
		noErrors(t, p)
		p.Kill()
		wg.Wait()
		if t.Failed() {
			return
		}

		natural := round%5 == 4
		graceLen := manualGrace
		if natural {
			graceLen = naturalGrace
		}
		p = startSMB(t, data, graceLen)
		inflight, extra := checkRestored(t, p, round, clients, lingering)
		// A round that failed still reclaims, so that the statuses of
		// the reclaims tell what the failure costs the clients.
		for _, c := range clients {
			c.reclaim(t, p)
		}
		if natural {
			waitGraceOver(t, p, naturalGrace+5*time.Second)
		} else if err := p.EndGrace(); err != nil {
			t.Fatal(err)
		}
		checkBelieved(t, p, round, clients)
		noErrors(t, p)
		if t.Failed() {
			t.Logf("server log:\n%s", p.Log())
			return
		}
		lingering = extra
		total.add(acked.locks, acked.unlocks, acked.denied)
		t.Logf("round %2d: killed after %3d ms; %4d locks and %4d unlocks acknowledged, %4d denied; %d in flight, %d lingering; grace %s",
			round, killAfter.Milliseconds(), acked.locks, acked.unlocks, acked.denied, inflight, len(extra),
			map[bool]string{true: "ran out", false: "ended by hand"}[natural])
	}
	t.Logf("%d rounds in %v: %d locks and %d unlocks acknowledged, %d denied",
		lockRounds, time.Since(t0).Round(time.Second), total.locks, total.unlocks, total.denied)
	if err := p.Stop(30 * time.Second); err != nil {
		t.Errorf("clean stop after the last round: %v", err)
	}
	noErrors(t, p)
}

// setupLockClients creates the test files, learns their names in the
// lock table, and connects the clients.
func setupLockClients(t *testing.T, p *testserver.Process) []lockClient {
	c, root := connect(t, p)
	defer c.Close()
	var fhs [lockFiles][]byte
	for f := range lockFiles {
		fh, err := c.Create(root, fmt.Sprintf("lockfile-%d", f), 0o666)
		if err != nil {
			t.Fatal(err)
		}
		fhs[f] = fh
		probe := testserver.NLMLock{Caller: "probe", FH: fh, OH: []byte("probe"), Svid: 1, Offset: 7777, Length: 1}
		st, err := c.NLMLock(probe, testserver.NLMLockArgs{Exclusive: true})
		nlmWant(t, "probe lock", st, err, testserver.NLMGranted)
		for _, e := range locks(t, p) {
			if e.Client == "probe" {
				fileIDs[f] = e.File
			}
		}
		st, err = c.NLMUnlock(probe)
		nlmWant(t, "probe unlock", st, err, testserver.NLMGranted)
		if fileIDs[f] == "" {
			t.Fatal("the probe lock is not in tandem locks")
		}
	}
	if es := locks(t, p); len(es) != 0 {
		t.Fatalf("lock table after the probes: %s", describe(es))
	}

	var out []lockClient
	for i := range nlmClients {
		n := &nlmLoadClient{base: base{held: map[slot]string{}}, caller: fmt.Sprintf("nlm-host-%d", i), svid: uint32(100 + i), fhs: fhs}
		nc, err := testserver.Dial(p.NFSAddr)
		if err != nil {
			t.Fatal(err)
		}
		nc.Timeout = 30 * time.Second
		n.c = nc
		out = append(out, n)
	}
	for i := range smbDurables + smbPlains {
		m := &smbLoadClient{base: base{held: map[slot]string{}}, durable: i < smbDurables}
		m.id = fmt.Sprintf("plain-%d", i-smbDurables)
		if m.durable {
			m.id = fmt.Sprintf("durable-%d", i)
		}
		m.guid = guid("smb-" + m.id)
		for f := range lockFiles {
			m.opens[f].createGUID = guid(fmt.Sprintf("cg-%s-%d", m.id, f))
			m.opens[f].leaseKey = guid(fmt.Sprintf("lk-%s-%d", m.id, f))
		}
		m.connect(t, p, false)
		out = append(out, m)
	}
	return out
}

// checkRestored checks the table right after a restart: every lock a
// client holds is there, unreclaimed (or its client's claim on the file
// stands for it), and the only other range entries are the requests in
// flight and what the last grace period's end released, unreclaimed too.
// A lock whose unlock was answered never comes back: an unlock is on disk
// before it is answered. It returns how many requests were in flight,
// and the other entries, which grace's end releases.
func checkRestored(t *testing.T, p *testserver.Process, round int, clients []lockClient, lingering []string) (int, []string) {
	t.Helper()
	es := locks(t, p)
	ranges := map[string]testserver.LockEntry{}
	claimed := map[string]bool{} // file and client of each placeholder
	for _, e := range es {
		if e.Kind != "range" {
			continue
		}
		if placeholder(e) {
			// It stands for grants of its client on the file that the
			// records missed, and goes when grace ends.
			claimed[e.File+" "+e.Client] = true
			if !e.Unreclaimed {
				t.Errorf("round %d: a claim's placeholder is not unreclaimed: %v", round, e)
			}
			continue
		}
		k := rangeKey(e)
		if _, dup := ranges[k]; dup {
			t.Errorf("round %d: after the restart, %s is in the table twice", round, k)
		}
		ranges[k] = e
	}
	allowed := map[string]bool{}
	released := map[string]string{} // unlocks answered since the last restart, and by whom
	for _, k := range lingering {
		allowed[k] = true
	}
	inflights := 0
	for _, c := range clients {
		held, inflight := c.state()
		for s, mode := range held {
			k := c.entry(s, mode)
			if inflight != nil && inflight.unlock && inflight.s == s {
				allowed[k] = true // the unlock in flight may have been done
				continue
			}
			e, ok := ranges[k]
			switch {
			case !ok && claimed[fileIDs[s.file]+" "+c.client()]:
				// Covered by its client's claim on the file.
			case !ok:
				t.Errorf("round %d: %s's acknowledged lock is lost in the restart: %s", round, c.name(), k)
			case !e.Unreclaimed:
				t.Errorf("round %d: %s's lock is not unreclaimed after the restart: %v", round, c.name(), e)
			}
			delete(ranges, k)
		}
		for _, k := range c.takeReleased() {
			released[k] = c.name()
		}
		if inflight != nil {
			inflights++
			if !inflight.unlock {
				allowed[c.entry(inflight.s, inflight.mode)] = true
			}
		}
	}
	var extra []string
	for k, e := range ranges {
		switch {
		case allowed[k]:
		case released[k] != "":
			t.Errorf("round %d: %s's lock came back in the restart although its unlock was answered: %v", round, released[k], e)
		default:
			t.Errorf("round %d: after the restart the table has a lock nobody holds: %v", round, e)
		}
		if !e.Unreclaimed {
			t.Errorf("round %d: after the restart a lock nobody holds is not unreclaimed: %v", round, e)
		}
		extra = append(extra, k)
	}
	if len(es) > 0 {
		if g := grace(t, p); !g.Active || g.Unreclaimed == 0 {
			t.Errorf("round %d: %d entries restored but grace %+v", round, len(es), g)
		}
	}
	if t.Failed() {
		t.Logf("round %d: table after the restart: %s", round, describe(es))
	}
	return inflights, extra
}

// checkBelieved checks the table once the grace period is over: its
// locks are exactly those the clients believe they hold, nothing is
// unreclaimed or waiting, and no lease or share reservation is left of an
// open that is gone.
func checkBelieved(t *testing.T, p *testserver.Process, round int, clients []lockClient) {
	t.Helper()
	if g := grace(t, p); g.Active {
		t.Errorf("round %d: grace still active after its end: %+v", round, g)
	}
	es := locks(t, p)
	var got, wantTable []string
	smbClients := map[string]bool{}
	for _, c := range clients {
		held, _ := c.state()
		for s, mode := range held {
			wantTable = append(wantTable, c.entry(s, mode))
		}
		if m, ok := c.(*smbLoadClient); ok {
			smbClients[clientOf(m.guid)] = true
		}
	}
	for _, e := range es {
		if e.Unreclaimed || e.Waiting {
			t.Errorf("round %d: after grace: %v", round, e)
		}
		switch {
		case e.Kind == "range":
			got = append(got, rangeKey(e))
		case !smbClients[e.Client]:
			t.Errorf("round %d: after grace, an entry of no live open: %v", round, e)
		}
	}
	slices.Sort(got)
	slices.Sort(wantTable)
	if !slices.Equal(got, wantTable) {
		t.Errorf("round %d: after grace the lock table differs from what the clients hold\n%s", round, diffLines(got, wantTable))
	}
}

// placeholder reports whether e is the placeholder of a client's claim on
// a file: after a restart it stands, as a lock of the whole file, for
// grants the records missed (package lock, grace.go). Its owner handle is
// "\x00claim", which `tandem locks` shows in hex.
func placeholder(e testserver.LockEntry) bool {
	return e.Kind == "range" && strings.HasSuffix(e.Owner, " 00636c61696d") && e.Offset == 0 && e.Length == 0
}

// rangeKey spells a range entry as lockClient.entry does.
func rangeKey(e testserver.LockEntry) string {
	return fmt.Sprintf("%s range %s %d+%d %s %q %q", e.File, e.Mode, e.Offset, e.Length, e.Proto, e.Client, e.Owner)
}

// diffLines lists what only got has (+) and what only want has (-).
func diffLines(got, want []string) string {
	var b strings.Builder
	for _, g := range got {
		if !slices.Contains(want, g) {
			fmt.Fprintf(&b, "+ %s (in the table, held by no client)\n", g)
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			fmt.Fprintf(&b, "- %s (held by a client, not in the table)\n", w)
		}
	}
	return b.String()
}
