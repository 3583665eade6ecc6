package smb

import (
	"cmp"
	"context"
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandemfs/tandem/internal/fs"
	"github.com/tandemfs/tandem/internal/identity"
	"github.com/tandemfs/tandem/internal/lock"
)

// The state the file operations (CREATE and what follows) keep with the
// server and with each connection, session and tree. The framework calls
// the release methods when the object goes away (connection closed,
// session logged off or expired, tree disconnected), after its pending
// requests were cancelled.
//
// An open (open.go) lives in the table of its tree, by FileId, and in the
// server's table, by persistent FileId, through which a server-side copy
// finds its source. Every open of a file shares one fileState, which holds
// what Windows keeps per file rather than per handle: the name by which
// the file will be deleted and whether a delete is pending.

// serverOps is the server-wide state.
type serverOps struct {
	// nextOpen gives out persistent FileIds. It starts at the clock's
	// nanoseconds when the server starts and only grows, so that the ids
	// of one run stay above those of every earlier run (durable opens
	// restored from an earlier run keep theirs): that fails only if a run
	// gave out more than one id per nanosecond of its life or the clock
	// went back, and RestoreDurable lifts it above every id it restores.
	nextOpen atomic.Uint64
	volatile uint64 // mixed into volatile FileIds, fixed per server

	mu    sync.Mutex
	files map[lock.FileKey]*fileState
	opens map[uint64]*open // by persistent FileId, disconnected durable opens too

	streamNoDelete int // opens of named streams without FILE_SHARE_DELETE (streamops.go)

	createGuids map[createKey]*open // opens of DH2Q requests (durable.go)
	purges      atomic.Uint64       // disconnected durable opens closed for a break

	waits   lockWaits  // SMB2 LOCK requests waiting in the lock manager
	caching breakWakes // CREATEs waiting for breaks (lease.go)

	notify notifyHub // CHANGE_NOTIFY watches (notify.go)

	mapMu  sync.Mutex
	mapper *identity.Mapper
}

func (o *serverOps) init(now time.Time) {
	o.files = map[lock.FileKey]*fileState{}
	o.opens = map[uint64]*open{}
	o.createGuids = map[createKey]*open{}
	o.volatile = rand.Uint64()
	o.nextOpen.Store(uint64(max(now.UnixNano(), 0)))
	o.waits.init()
}

// sidMapper is the server's uid/gid <-> SID mapping, read from the
// identity store once.
func (s *Server) sidMapper(ctx context.Context) (identity.Mapper, error) {
	s.ops.mapMu.Lock()
	defer s.ops.mapMu.Unlock()
	if s.ops.mapper != nil {
		return *s.ops.mapper, nil
	}
	m, err := s.ids.Mapper(ctx)
	if err != nil {
		return identity.Mapper{}, err
	}
	s.ops.mapper = &m
	return m, nil
}

// locks is the lock manager.
func (s *Server) locks() *lock.Manager { return s.opt.Locks }

// journal persists the lock manager's table.
func (s *Server) journal() lock.Journal {
	if s.opt.Journal == nil {
		return lock.NoJournal{}
	}
	return s.opt.Journal
}

// route hands notices of the lock manager to whoever waits for them.
func (s *Server) route(ns []lock.Notice) {
	if len(ns) == 0 {
		return
	}
	if s.opt.Notices != nil {
		s.opt.Notices(ns)
		return
	}
	s.Deliver(ns)
}

// connOps is the state of a connection.
type connOps struct {
	once   sync.Once
	client string // the lock manager's name of the client
}

func (*connOps) release(*Conn) {}

// lockClient names the client in the lock manager: its ClientGuid, which
// stays the same across its connections, or for a client that sends none
// its address and this connection.
func (c *Conn) lockClient() string {
	c.ops.once.Do(func() {
		if c.clientGUID != ([16]byte{}) {
			c.ops.client = hex.EncodeToString(c.clientGUID[:])
			return
		}
		c.ops.client = c.remote.String() + "/" + strconv.FormatUint(c.srv.ops.nextOpen.Add(1), 10)
	})
	return c.ops.client
}

type sessionOps struct{}

func (*sessionOps) release(*Session) {}

// treeOps is the state of a tree: its opens.
type treeOps struct {
	mu     sync.Mutex
	opens  map[FileID]*open
	closed bool // disconnected: no more opens
}

// release closes every open of the tree, as closing each would, oldest
// first: a lock an older open holds is released before a younger open's
// request waiting for it is dropped, so that the wait is granted, as on
// Windows. With keep, durable opens are not closed but left disconnected
// for a reconnect (durable.go): the session went, not the tree.
func (t *treeOps) release(tree *Tree, keep bool) {
	t.mu.Lock()
	t.closed = true
	opens := make([]*open, 0, len(t.opens))
	for _, o := range t.opens {
		opens = append(opens, o)
	}
	clear(t.opens)
	t.mu.Unlock()
	slices.SortFunc(opens, func(a, b *open) int { return cmp.Compare(a.id.Persistent, b.id.Persistent) })
	srv := tree.session.conn.srv
	for _, o := range opens {
		if keep && srv.keepDurable(o) {
			continue
		}
		o.close(context.Background())
	}
}

// maxOpensPerTree bounds the opens of one tree, so that no client can
// exhaust the server's memory with handles.
const maxOpensPerTree = 1 << 16

// add enters o in the tree's table: STATUS_NETWORK_NAME_DELETED if the
// tree is gone, STATUS_INSUFFICIENT_RESOURCES if it has too many opens.
func (t *treeOps) add(o *open) Status {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.closed:
		return StatusNetworkNameDeleted
	case len(t.opens) >= maxOpensPerTree:
		return StatusInsufficientResources
	}
	if t.opens == nil {
		t.opens = map[FileID]*open{}
	}
	t.opens[o.id] = o
	return StatusSuccess
}

// remove takes the open id out of the table and returns it.
func (t *treeOps) remove(id FileID) *open {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.opens[id]
	delete(t.opens, id)
	return o
}

func (t *treeOps) get(id FileID) *open {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.opens[id]
}

// fileState is what every open of one file shares.
type fileState struct {
	key   lock.FileKey
	h     fs.Handle
	opens int // guarded by serverOps.mu, as is everything below

	// Where the file is: its directory and name there, and its path from
	// the share's root (for FileNameInformation). A rename over SMB
	// updates them; a rename over NFS does not, and a delete pending then
	// finds the name gone and deletes nothing.
	dir  fs.Handle
	name string
	path string

	deletePending bool
	deleter       fs.Caller // who asked for the delete
	waitsStreams  bool      // the delete waits for opens of named streams (streamops.go)
	alloc         uint64    // allocation size a client set (alloc.go)
}
