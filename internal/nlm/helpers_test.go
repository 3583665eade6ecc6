package nlm_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	contentmem "github.com/tandemfs/tandem/internal/content/memory"
	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/lock"
	"github.com/tandemfs/tandem/internal/lockstore"
	"github.com/tandemfs/tandem/internal/meta"
	metamem "github.com/tandemfs/tandem/internal/meta/memory"
	"github.com/tandemfs/tandem/internal/nlm"
	"github.com/tandemfs/tandem/internal/nsm"
	"github.com/tandemfs/tandem/internal/portmap"
	"github.com/tandemfs/tandem/internal/rpc"
	"github.com/tandemfs/tandem/internal/rpc/xdr"
)

// The tests run the server as `tandem serve` wires it (lock manager, NLM,
// NSM) on 127.0.0.1, and two client machines on 127.0.0.1 and 127.0.0.2,
// each with its own portmapper (on the same port number, as every
// machine's is on 111) and its own NLM/NSM callback service that records
// what the server calls. Requests leave from the machine's address, so
// the server sees them coming from there. The encoders and decoders here
// are written from the protocol definitions, apart from the server's.

const (
	ipA = "127.0.0.1"
	ipB = "127.0.0.2"
	// cbProg is a program a test registers for SM_MON callbacks.
	cbProg = 300001
)

type env struct {
	t        *testing.T
	fs       *fs.FS
	mgr      *lock.Manager
	h        *nlm.Handler
	mon      *nsm.Service
	store    meta.Store
	srv      *rpc.Server
	addr     string // the server's TCP and UDP address
	pmapPort int
	root     fs.Handle
	machines map[string]*machine
	names    map[string][]netip.Addr // what the fake resolver answers
	nlmOpt   nlm.Options
	// grace, when set, persists the lock table in store through a
	// journal and restores it on start with a grace period this long.
	grace   time.Duration
	journal *lockstore.Journal
}

// persistent makes the env persist its lock table and recover it with a
// grace period of d at every restart.
func persistent(d time.Duration) envOption { return func(e *env) { e.grace = d } }

type envOption func(*env)

func withNLM(f func(*nlm.Options)) envOption { return func(e *env) { f(&e.nlmOpt) } }

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, machines: map[string]*machine{}, names: map[string][]netip.Addr{}}
	f, err := fs.New(metamem.New(), contentmem.New(), fs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.fs = f
	if e.root, err = f.AddShare(context.Background(), fs.ShareConfig{Name: "export"}); err != nil {
		t.Fatal(err)
	}
	e.store = metamem.New()
	e.pmapPort = freePort(t)
	for _, ip := range []string{ipA, ipB} {
		e.machines[ip] = startMachine(t, ip, e.pmapPort)
	}
	e.nlmOpt = nlm.Options{
		Logger:       quiet(),
		PortmapPort:  e.pmapPort,
		Name:         "tandem-test",
		GrantTimeout: time.Second,
		GrantRetries: 3,
		GrantBackoff: 50 * time.Millisecond,
	}
	for _, o := range opts {
		o(e)
	}
	e.start()
	return e
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start wires and serves the lock service on e.store, as the server does.
func (e *env) start() {
	t := e.t
	e.mgr = lock.New(lock.Config{Track: e.grace != 0})
	opt := e.nlmOpt
	if e.grace != 0 {
		l, err := lockstore.Load(context.Background(), e.store, quiet())
		if err != nil {
			t.Fatal(err)
		}
		if err := lockstore.Recover(e.mgr, l.Records, l.Claims, time.Now().Add(e.grace), quiet()); err != nil {
			t.Fatal(err)
		}
		if e.journal, err = lockstore.New(e.mgr, e.store, lockstore.Options{Logger: quiet(), Claims: l.Claims, Base: l.Base}); err != nil {
			t.Fatal(err)
		}
		opt.Journal = e.journal
	}
	var h *nlm.Handler
	mon, err := nsm.New(context.Background(), nsm.Options{
		Store:  e.store,
		Logger: quiet(),
		Rebooted: func(name string, state int32, from netip.Addr, nameIsFrom bool) []string {
			return h.Rebooted(name, state, from, nameIsFrom)
		},
		Resolve: func(_ context.Context, name string) ([]netip.Addr, error) {
			if a, ok := e.names[name]; ok {
				return a, nil
			}
			return nil, errors.New("no such host")
		},
		PortmapPort:   e.pmapPort,
		NotifyTimeout: time.Second,
		NotifyFor:     3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	opt.Monitor = mon
	h = nlm.New(e.fs, e.mgr, opt)
	for name, addr := range mon.Hosts() {
		h.Remember(name, addr)
	}
	e.h, e.mon = h, mon
	e.srv = rpc.NewServer(rpc.ServerOptions{Logger: quiet()})
	for _, p := range append(h.Programs(), mon.Program()) {
		e.srv.Register(p)
	}
	l, err := net.Listen("tcp", ipA+":0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	e.addr = l.Addr().String()
	go e.srv.ServeTCP(l)
	go e.srv.ServeUDP(pc)
	srv, j := e.srv, e.journal
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		h.Close()
		mon.Close()
		if j != nil {
			j.Close()
		}
	})
}

// restart stops the lock service and starts a new one on the same
// metadata store, as a server restart does.
func (e *env) restart() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.srv.Shutdown(ctx)
	e.h.Close()
	e.mon.Close()
	if e.journal != nil {
		// A crash loses what the journal had not written; the tests
		// check what a grant's reply promised, which is durable.
		e.journal.Close()
		e.journal = nil
	}
	for _, m := range e.machines {
		m.closeClients()
	}
	e.start()
}

// freePort finds a port free for TCP and UDP on both client addresses.
func freePort(t *testing.T) int {
	for range 50 {
		l, err := net.Listen("tcp", ipA+":0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ok := true
		for _, ip := range []string{ipA, ipB} {
			a := net.JoinHostPort(ip, strconv.Itoa(port))
			l, err := net.Listen("tcp", a)
			if err != nil {
				ok = false
				break
			}
			l.Close()
			pc, err := net.ListenPacket("udp", a)
			if err != nil {
				ok = false
				break
			}
			pc.Close()
		}
		if ok {
			return port
		}
	}
	t.Fatal("no port free on both loopback addresses")
	return 0
}

// file creates a regular file and returns its handle's wire form.
func (e *env) file(name string) []byte {
	e.t.Helper()
	h, _, _, err := e.fs.Create(context.Background(), &fs.Caller{}, e.root, name, fs.CreateHow{Mode: fs.Unchecked})
	if err != nil {
		e.t.Fatal(err)
	}
	return h.Bytes()
}

// machine is a client host: an address, its portmapper and its callback
// service.
type machine struct {
	t            *testing.T
	ip           string
	pmap         *portmap.Service
	cbTCP, cbUDP int

	// grantReply is what the callback service answers to GRANTED.
	mu         sync.Mutex
	grantReply uint32
	calls      []received
	changed    chan struct{}
	clients    map[string]*rpc.Client
}

// received is a call the server made to a machine.
type received struct {
	prog, vers, proc uint32
	args             []byte
	from             netip.Addr // the server address it came from
	network          string
	at               time.Time
}

func startMachine(t *testing.T, ip string, pmapPort int) *machine {
	m := &machine{t: t, ip: ip, changed: make(chan struct{}), clients: map[string]*rpc.Client{}}
	cb := rpc.NewServer(rpc.ServerOptions{Logger: quiet()})
	cb.Register(rpc.Program{Prog: nlm.Program, Low: 1, High: 4, Name: "nlm-cb", Handler: rpc.HandlerFunc(m.serve)})
	cb.Register(rpc.Program{Prog: nsm.Program, Low: 1, High: 1, Name: "nsm-cb", Handler: rpc.HandlerFunc(m.serve)})
	cb.Register(rpc.Program{Prog: cbProg, Low: 1, High: 1, Name: "mon-cb", Handler: rpc.HandlerFunc(m.serve)})
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	m.cbTCP, m.cbUDP = l.Addr().(*net.TCPAddr).Port, pc.LocalAddr().(*net.UDPAddr).Port
	go cb.ServeTCP(l)
	go cb.ServeUDP(pc)

	m.pmap = portmap.New()
	m.register(true)
	ps := rpc.NewServer(rpc.ServerOptions{Logger: quiet()})
	ps.Register(m.pmap.Program())
	pa := net.JoinHostPort(ip, strconv.Itoa(pmapPort))
	pl, err := net.Listen("tcp", pa)
	if err != nil {
		t.Fatal(err)
	}
	ppc, err := net.ListenPacket("udp", pa)
	if err != nil {
		t.Fatal(err)
	}
	go ps.ServeTCP(pl)
	go ps.ServeUDP(ppc)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cb.Shutdown(ctx)
		ps.Shutdown(ctx)
		m.closeClients()
	})
	return m
}

// register publishes (or, with on false, withdraws) the machine's NLM
// service in its portmapper; NSM and the monitor callback stay.
func (m *machine) register(on bool) {
	var ms []portmap.Mapping
	for _, prot := range []uint32{portmap.ProtTCP, portmap.ProtUDP} {
		port := uint32(m.cbTCP)
		if prot == portmap.ProtUDP {
			port = uint32(m.cbUDP)
		}
		if on {
			for _, v := range []uint32{1, 3, 4} {
				ms = append(ms, portmap.Mapping{Prog: nlm.Program, Vers: v, Prot: prot, Port: port})
			}
		}
		ms = append(ms, portmap.Mapping{Prog: nsm.Program, Vers: 1, Prot: prot, Port: port},
			portmap.Mapping{Prog: cbProg, Vers: 1, Prot: prot, Port: port})
	}
	m.pmap.Set(ms)
}

func (m *machine) setGrantReply(st nlm.Stat) {
	m.mu.Lock()
	m.grantReply = uint32(st)
	m.mu.Unlock()
}

// serve records a call and answers it: GRANTED with the configured
// status and the caller's cookie, everything else with an empty result.
func (m *machine) serve(_ context.Context, c *rpc.Call, w *xdr.Writer) error {
	args := bytes.Clone(c.Args.Rest())
	m.mu.Lock()
	m.calls = append(m.calls, received{prog: c.Prog, vers: c.Vers, proc: c.Proc, args: args,
		from: rpc.IPOf(c.RemoteAddr), network: c.Network, at: time.Now()})
	close(m.changed)
	m.changed = make(chan struct{})
	reply := m.grantReply
	m.mu.Unlock()
	if c.Prog == nlm.Program && c.Proc == nlm.ProcGranted {
		w.Opaque(c.Args.Opaque(1024))
		w.Uint32(reply)
	}
	return nil
}

// wait returns the first recorded call of prog and proc not yet taken,
// waiting up to timeout; ok is false if none came.
func (m *machine) wait(prog, proc uint32, timeout time.Duration) (received, bool) {
	deadline := time.After(timeout)
	for {
		m.mu.Lock()
		for i, r := range m.calls {
			if r.prog == prog && r.proc == proc {
				m.calls = append(m.calls[:i:i], m.calls[i+1:]...)
				m.mu.Unlock()
				return r, true
			}
		}
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			return received{}, false
		}
	}
}

// mustWait is wait that fails the test when no call comes.
func (m *machine) mustWait(t *testing.T, prog, proc uint32, timeout time.Duration) received {
	t.Helper()
	r, ok := m.wait(prog, proc, timeout)
	if !ok {
		t.Fatalf("%s: no call of program %d procedure %d within %v", m.ip, prog, proc, timeout)
	}
	return r
}

// none fails the test if a call of prog and proc arrives within d.
func (m *machine) none(t *testing.T, prog, proc uint32, d time.Duration) {
	t.Helper()
	if r, ok := m.wait(prog, proc, d); ok {
		t.Fatalf("%s: unexpected call of program %d procedure %d: % x", m.ip, prog, proc, r.args)
	}
}

func (m *machine) closeClients() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, c := range m.clients {
		c.Close()
		delete(m.clients, k)
	}
}

// client returns the machine's connection to the server over network,
// leaving from the machine's address.
func (e *env) client(m *machine, network string) *rpc.Client {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.clients[network]; c != nil {
		return c
	}
	var local net.Addr = &net.TCPAddr{IP: net.ParseIP(m.ip)}
	if network == "udp" {
		local = &net.UDPAddr{IP: net.ParseIP(m.ip)}
	}
	c, err := rpc.DialOptions(context.Background(), network, e.addr,
		rpc.ClientOptions{Dialer: &net.Dialer{LocalAddr: local}, Retransmit: 200 * time.Millisecond})
	if err != nil {
		e.t.Fatal(err)
	}
	m.clients[network] = c
	return c
}

var credSys = rpc.Cred{Flavor: rpc.AuthSys, MachineName: "client"}

// call makes one call and returns its results (copied), or the error.
func (e *env) call(m *machine, network string, prog, vers, proc uint32, args func(*xdr.Writer)) (*xdr.Reader, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []byte
	err := e.client(m, network).Call(ctx, prog, vers, proc, credSys, args, func(r *xdr.Reader) error {
		out = bytes.Clone(r.Rest())
		return nil
	})
	if err != nil {
		return nil, err
	}
	return xdr.NewReader(out), nil
}

// mustCall is call that fails the test on an error.
func (e *env) mustCall(m *machine, network string, prog, vers, proc uint32, args func(*xdr.Writer)) *xdr.Reader {
	e.t.Helper()
	r, err := e.call(m, network, prog, vers, proc, args)
	if err != nil {
		e.t.Fatalf("call %d/%d/%d over %s: %v", prog, vers, proc, network, err)
	}
	return r
}

// done fails the test unless r was read exactly to its end.
func done(t *testing.T, r *xdr.Reader) {
	t.Helper()
	if r.Err() != nil {
		t.Fatalf("decoding the reply: %v", r.Err())
	}
	if r.Remaining() != 0 {
		t.Fatalf("%d bytes left over in the reply: % x", r.Remaining(), r.Rest())
	}
}

// The NLM structures, encoded from the protocol definition.

// nlock is nlm4_lock (nlm_lock in versions 1 and 3).
type nlock struct {
	caller string
	fh     []byte
	oh     string
	svid   uint32
	off    uint64
	len    uint64
}

func (l nlock) eq(o nlock) bool {
	return l.caller == o.caller && bytes.Equal(l.fh, o.fh) && l.oh == o.oh && l.svid == o.svid && l.off == o.off && l.len == o.len
}

func putLock(w *xdr.Writer, vers uint32, l nlock) {
	w.String(l.caller)
	w.Opaque(l.fh)
	w.Opaque([]byte(l.oh))
	w.Uint32(l.svid)
	if vers == 4 {
		w.Uint64(l.off)
		w.Uint64(l.len)
	} else {
		w.Uint32(uint32(l.off))
		w.Uint32(uint32(l.len))
	}
}

func testArgs(vers uint32, cookie string, excl bool, l nlock) func(*xdr.Writer) {
	return func(w *xdr.Writer) {
		w.Opaque([]byte(cookie))
		w.Bool(excl)
		putLock(w, vers, l)
	}
}

func lockArgs(vers uint32, cookie string, block, excl bool, l nlock, state int32) func(*xdr.Writer) {
	return func(w *xdr.Writer) {
		w.Opaque([]byte(cookie))
		w.Bool(block)
		w.Bool(excl)
		putLock(w, vers, l)
		w.Bool(false)
		w.Int32(state)
	}
}

func cancelArgs(vers uint32, cookie string, block, excl bool, l nlock) func(*xdr.Writer) {
	return func(w *xdr.Writer) {
		w.Opaque([]byte(cookie))
		w.Bool(block)
		w.Bool(excl)
		putLock(w, vers, l)
	}
}

func unlockArgs(vers uint32, cookie string, l nlock) func(*xdr.Writer) {
	return func(w *xdr.Writer) {
		w.Opaque([]byte(cookie))
		putLock(w, vers, l)
	}
}

func shareArgs(cookie, caller string, fh []byte, oh string, mode, access uint32) func(*xdr.Writer) {
	return func(w *xdr.Writer) {
		w.Opaque([]byte(cookie))
		w.String(caller)
		w.Opaque(fh)
		w.Opaque([]byte(oh))
		w.Uint32(mode)
		w.Uint32(access)
		w.Bool(false)
	}
}

func notifyArgs(name string, state int32) func(*xdr.Writer) {
	return func(w *xdr.Writer) {
		w.String(name)
		w.Int32(state)
	}
}

// res decodes nlm4_res.
func res(t *testing.T, r *xdr.Reader) (cookie string, stat uint32) {
	t.Helper()
	cookie, stat = string(r.Opaque(1024)), r.Uint32()
	done(t, r)
	return cookie, stat
}

// holderRes is a decoded nlm4_testres.
type holderRes struct {
	cookie string
	stat   uint32
	excl   bool
	svid   uint32
	oh     string
	off    uint64
	len    uint64
}

func testRes(t *testing.T, vers uint32, r *xdr.Reader) holderRes {
	t.Helper()
	h := holderRes{cookie: string(r.Opaque(1024)), stat: r.Uint32()}
	if h.stat == uint32(nlm.StatDenied) {
		h.excl, h.svid, h.oh = r.Bool(), r.Uint32(), string(r.Opaque(1024))
		if vers == 4 {
			h.off, h.len = r.Uint64(), r.Uint64()
		} else {
			h.off, h.len = uint64(r.Uint32()), uint64(r.Uint32())
		}
	}
	done(t, r)
	return h
}

// shareRes decodes nlm4_shareres.
func shareRes(t *testing.T, r *xdr.Reader) (string, uint32) {
	t.Helper()
	cookie, stat, seq := string(r.Opaque(1024)), r.Uint32(), r.Uint32()
	if seq != 0 {
		t.Errorf("sequence %d, want 0", seq)
	}
	done(t, r)
	return cookie, stat
}

// decodeGranted decodes the nlm4_testargs of a GRANTED callback.
func decodeGranted(t *testing.T, vers uint32, b []byte) (cookie string, excl bool, l nlock) {
	t.Helper()
	r := xdr.NewReader(b)
	cookie, excl = string(r.Opaque(1024)), r.Bool()
	l.caller, l.fh, l.oh, l.svid = string(r.Opaque(1024)), bytes.Clone(r.Opaque(1024)), string(r.Opaque(1024)), r.Uint32()
	if vers == 4 {
		l.off, l.len = r.Uint64(), r.Uint64()
	} else {
		l.off, l.len = uint64(r.Uint32()), uint64(r.Uint32())
	}
	done(t, r)
	return cookie, excl, l
}

// held is one line of the lock table as the tests compare it.
type held struct {
	host    string
	svid    uint32
	off     uint64
	len     uint64
	mode    lock.Mode
	waiting bool
}

// table is the lock table's ranges (and waiters), in Snapshot order.
func (e *env) table() []held {
	var out []held
	for _, x := range e.mgr.Snapshot() {
		if x.Kind != lock.KindRange {
			continue
		}
		out = append(out, held{x.Owner.Host, x.Owner.Svid, x.Range.Offset, x.Range.Length, x.Mode, x.Waiting})
	}
	return out
}

func (e *env) wantTable(want ...held) {
	e.t.Helper()
	got := e.table()
	if len(got) != len(want) {
		e.t.Fatalf("lock table:\n got %+v\nwant %+v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			e.t.Fatalf("lock table:\n got %+v\nwant %+v", got, want)
		}
	}
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var networks = []string{"tcp", "udp"}

func garbageErr(err error) bool { return errors.Is(err, rpc.ErrGarbageArgs) }
