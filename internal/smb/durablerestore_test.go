package smb

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tandemfs/tandem/internal/lock"
)

// memDurable is a DurableStore in memory; it keeps records in their
// binary form, as a real store would.
type memDurable struct {
	mu   sync.Mutex
	recs map[uint64][]byte
}

func (m *memDurable) Save(_ context.Context, rec *DurableOpen) error {
	b, err := rec.MarshalBinary()
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.recs == nil {
		m.recs = map[uint64][]byte{}
	}
	m.recs[rec.Persistent] = b
	return nil
}

func (m *memDurable) Delete(_ context.Context, id uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.recs, id)
	return nil
}

func (m *memDurable) all(t testing.TB) []DurableOpen {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []DurableOpen
	for _, b := range m.recs {
		var d DurableOpen
		if err := d.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b DurableOpen) int { return cmp.Compare(a.Persistent, b.Persistent) })
	return out
}

// restart starts another server over the same file system and users, with
// a lock manager of its own, as a restart would, and returns its address.
func (e *env) restart(opt Options) (*Server, string) {
	e.t.Helper()
	opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := New(e.fs, e.ids, opt)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	go srv.Serve(l)
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return srv, l.Addr().String()
}

// TestDurableStoreAndRestore saves a durable open, restarts the server
// and reconnects to the open: with the lock manager's state of the last
// run back as prior state, as the server's journal restores it; and
// without (the grace period is over and released it), when the handle is
// gone.
func TestDurableStoreAndRestore(t *testing.T) {
	t.Run("prior state", func(t *testing.T) { testDurableRestore(t, true) })
	t.Run("no prior state", func(t *testing.T) { testDurableRestore(t, false) })
}

func testDurableRestore(t *testing.T, prior bool) {
	store := &memDurable{}
	e := newEnv(t, Options{Durable: store})
	c1 := e.connect30("alice", alicePass, "")
	cr := c1.createCtx(createReq{name: "e", access: rw | accessDelete, share: shareAll, disp: dispCreate,
		contexts: ctxChain("DH2Q", dh2qCtx(0, 4), "RqLs", leaseV2Ctx(0x44, 7))}, oplockLease)
	if cr.Status != StatusSuccess || cr.contexts["DH2Q"] == nil {
		t.Fatalf("durable create: %v", cr.Status)
	}
	id := cr.ID
	epoch := binary.LittleEndian.Uint16(cr.contexts["RqLs"][48:])
	c1.write(id, 0, []byte("hello"))
	// A rename saves the record again: a reconnect with a lease names the
	// file.
	if st := c1.setInfo(id, infoFile, classFileRename, renameInfo("f", false), 0); st != StatusSuccess {
		t.Fatal(st)
	}
	if st := c1.lock(id, excl(0, 10)); st != StatusSuccess {
		t.Fatal(st)
	}
	recs := store.all(t)
	if len(recs) != 1 {
		t.Fatalf("%d records saved", len(recs))
	}
	r := recs[0]
	fh, _ := e.lookupAttr(t, "f")
	if r.Persistent != id.Persistent || r.Volatile != id.Volatile || r.Client != hex.EncodeToString([]byte("client-guid-0001")) ||
		r.CreateGuid != [16]byte{4} || !r.V2 || r.Timeout != time.Minute || r.User != "alice" || r.UID != 1000 ||
		r.Share != "export" || r.Path != "f" || r.Name != "f" || r.File != fh || r.Dir != e.root() ||
		!r.Lease || r.LeaseKey != [16]byte{0x44} || !r.LeaseV2 || r.Caching != 7 || r.Epoch != epoch || r.Access&fileWriteData == 0 {
		t.Fatalf("record %+v", r)
	}
	// A connection lost keeps the record; a CLOSE deletes it.
	e.drop(c1, id)
	if len(store.all(t)) != 1 {
		t.Fatal("record gone with the connection")
	}

	// The server restarts: the open is rebuilt, disconnected, and the
	// client reconnects to it with its FileId and lease.
	m := lock.New(lock.Config{})
	if prior {
		if err := m.Recover(e.srv.locks().Records(), nil, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	srv, addr := e.restart(Options{Durable: store, Locks: m})
	srv.RestoreDurable(store.all(t), time.Now().Add(time.Hour))
	key := lockKey(t, e, "f")
	nlm := lock.Request{File: key, Owner: lock.NLMOwner("nfs-client", 1, nil), Range: lock.Range{Offset: 5, Length: 1}, Mode: lock.Shared}
	if d := m.Test(nlm); prior != (d.Status == lock.Denied) {
		t.Errorf("an NFS lock over the restored open's lock: %v", d.Status)
	}
	d := srv.DurableOpens()
	if len(d) != 1 || d[0].Persistent != id.Persistent || !d[0].Disconnected || time.Until(d[0].Expires) > time.Minute || d[0].Client != r.Client {
		t.Fatalf("restored: %+v", d)
	}
	c2 := connect30At(t, addr, "alice", alicePass, "")
	if cr := c2.createCtx(createReq{name: "f", contexts: ctxChain("DH2C", dh2cCtx(id, 5), "RqLs", leaseV2Ctx(0x44, 0))}, 0); cr.Status != StatusObjectNameNotFound {
		t.Errorf("reconnect with another CreateGuid: %v", cr.Status)
	}
	cr = c2.createCtx(createReq{name: "f", contexts: ctxChain("DH2C", dh2cCtx(id, 4), "RqLs", leaseV2Ctx(0x44, 0))}, 0)
	if !prior {
		if cr.Status != StatusObjectNameNotFound {
			t.Fatalf("reconnect after restart without prior state: %v, want STATUS_OBJECT_NAME_NOT_FOUND", cr.Status)
		}
		if d := srv.DurableOpens(); len(d) != 0 {
			t.Fatalf("the open outlived a failed reconnect: %+v", d)
		}
		return
	}
	if cr.Status != StatusSuccess || cr.ID != id || cr.Size != 5 {
		t.Fatalf("reconnect after restart: %v %v size %d", cr.Status, cr.ID, cr.Size)
	}
	l := cr.contexts["RqLs"]
	if len(l) != 52 || binary.LittleEndian.Uint32(l[16:]) != 7 || binary.LittleEndian.Uint16(l[48:]) != epoch {
		t.Errorf("lease after restart %x, want RWH epoch %d", l, epoch)
	}
	if g, ok := m.Caching(key, lock.LeaseOwner(r.Client, r.LeaseKey)); !ok || g.State != 7 {
		t.Errorf("lease in the lock manager: %+v %v", g, ok)
	}
	if b, st := c2.read(id, 0, 5); st != StatusSuccess || string(b) != "hello" {
		t.Errorf("read after restart: %q %v", b, st)
	}
	// With prior state, the lock came back with the open: it unlocks it,
	// and nothing is left to reclaim.
	if st := c2.lock(id, unlock(0, 10)); prior != (st == StatusSuccess) {
		t.Errorf("unlock after restart: %v", st)
	}
	if g := m.Grace(); g.Active || g.Unreclaimed != 0 {
		t.Errorf("grace after the reconnect: %+v", g)
	}
	// FileIds given out now are above the restored one.
	n := c2.mustCreate(createReq{name: "g", access: rw, share: shareAll, disp: dispCreate})
	if n.Persistent <= id.Persistent {
		t.Errorf("new FileId %x not above the restored %x", n.Persistent, id.Persistent)
	}
	if st := c2.close(id); st != StatusSuccess {
		t.Fatal(st)
	}
	if recs := store.all(t); len(recs) != 0 {
		t.Errorf("records after CLOSE: %+v", recs)
	}
}

func TestRestoreDurableExpires(t *testing.T) {
	store := &memDurable{}
	e := newEnv(t, Options{})
	rec := DurableOpen{Persistent: 99, Volatile: 99, Client: "c", Timeout: time.Minute, User: "alice", UID: 1000,
		Share: "export", File: e.root(), Dir: e.root()}
	store.Save(context.Background(), &rec)
	// What it held comes back as prior state; a grace period longer than
	// the open lives would keep it, were it not released with the open.
	m := lock.New(lock.Config{})
	share := lock.Record{Kind: lock.KindShare, File: lock.KeyOf(rec.File), Owner: lock.SMBOwner("c", 99), Access: lock.AccessRead, ShareAccess: lock.ShareRead}
	if err := m.Recover([]lock.Record{share}, nil, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	srv, _ := e.restart(Options{Durable: store, Locks: m})
	srv.RestoreDurable(store.all(t), time.Now().Add(50*time.Millisecond))
	for end := time.Now().Add(5 * time.Second); len(store.all(t)) != 0 && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
	}
	if len(store.all(t)) != 0 || len(srv.DurableOpens()) != 0 {
		t.Errorf("a restored open outlived its deadline: %+v", srv.DurableOpens())
	}
	if g := m.Grace(); g.Unreclaimed != 0 {
		t.Errorf("prior state of the expired open kept: %+v", g)
	}
	// A record of a FileId in use is refused.
	srv.RestoreDurable([]DurableOpen{rec, rec}, time.Now().Add(time.Hour))
	if d := srv.DurableOpens(); len(d) != 1 {
		t.Errorf("restored %+v", d)
	}
}
