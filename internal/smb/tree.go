package smb

import (
	"encoding/binary"
	"strings"
	"sync"

	"github.com/tandemfs/tandem/internal/fs"
)

// Tree is a session's connection to a share, or to IPC$, the share of
// named pipes that remote procedure calls such as share enumeration use.
type Tree struct {
	id      uint32
	session *Session
	name    string
	ipc     bool
	root    fs.Handle
	cfg     fs.ShareConfig
	opts    ShareOptions
	encrypt bool
	access  uint32

	pmu   sync.Mutex // guards pipes
	pipes map[FileID]*pipe

	ops treeOps // the file operations' state of this tree
}

// ID is the TreeId.
func (t *Tree) ID() uint32 { return t.id }

// Session is the session the tree belongs to.
func (t *Tree) Session() *Session { return t.session }

// ShareName is the share's name as configured.
func (t *Tree) ShareName() string { return t.name }

// IPC reports the IPC$ tree.
func (t *Tree) IPC() bool { return t.ipc }

// Root is the handle of the share's root directory (zero for IPC$).
func (t *Tree) Root() fs.Handle { return t.root }

// Config is the share's export configuration.
func (t *Tree) Config() *fs.ShareConfig { return &t.cfg }

// Options are the share's SMB settings.
func (t *Tree) Options() ShareOptions { return t.opts }

// MaximalAccess is the access mask granted on the share.
func (t *Tree) MaximalAccess() uint32 { return t.access }

// Share types, flags and access masks of TREE_CONNECT.
const (
	shareTypeDisk = 0x01
	shareTypePipe = 0x02

	shareFlagNoCaching   = 0x00000030
	shareFlagEncryptData = 0x00008000

	accessAll        = 0x001f01ff // FILE_ALL_ACCESS
	accessReadSearch = 0x001200a9 // FILE_GENERIC_READ | FILE_GENERIC_EXECUTE
)

func init() {
	register(CmdTreeConnect, serveTreeConnect)
	register(CmdTreeDisconnect, serveTreeDisconnect)
	register(CmdEcho, serveEcho)
}

// serveTreeConnect connects a share named \\server\share.
func serveTreeConnect(w *Response, r *Request) {
	b := r.Body
	if len(b) < 8 || binary.LittleEndian.Uint16(b) != 9 {
		w.Error(StatusInvalidParameter)
		return
	}
	raw, ok := r.Buffer(uint32(binary.LittleEndian.Uint16(b[4:])), uint32(binary.LittleEndian.Uint16(b[6:])))
	if !ok {
		w.Error(StatusInvalidParameter)
		return
	}
	path, err := fromUTF16le(raw)
	if err != nil {
		w.Error(StatusInvalidParameter)
		return
	}
	name := path
	if i := strings.LastIndexByte(path, '\\'); i >= 0 {
		name = path[i+1:]
	}
	if !strings.HasPrefix(path, `\\`) || strings.Count(path, `\`) != 3 || name == "" {
		w.Error(StatusBadNetworkName)
		return
	}
	if r.Conn.dialect == Dialect311 && !r.Session.Guest() && r.encrypted == nil && r.Header.Flags&FlagSigned == 0 {
		// MS-SMB2 3.3.5.7: a 3.1.1 client signs it (or encrypts it), so
		// that a man in the middle cannot have stripped the negotiation's
		// protection; one that did not is not talked to any further.
		r.Conn.Close()
		return
	}
	t, st := r.Session.connect(name)
	if st != StatusSuccess {
		w.Error(st)
		return
	}
	w.treeID = t.id
	out := w.Grow(16)
	binary.LittleEndian.PutUint16(out, 16)
	var flags uint32
	if t.ipc {
		out[2] = shareTypePipe
		flags = shareFlagNoCaching
	} else {
		out[2] = shareTypeDisk
	}
	if t.encrypt {
		flags |= shareFlagEncryptData
	}
	binary.LittleEndian.PutUint32(out[4:], flags)
	binary.LittleEndian.PutUint32(out[12:], t.access)
}

// connect makes a tree for the named share, or says why not.
func (s *Session) connect(name string) (*Tree, Status) {
	c := s.conn
	srv := c.srv
	t := &Tree{session: s}
	if strings.EqualFold(name, "IPC$") {
		t.name, t.ipc, t.access = "IPC$", true, accessAll
	} else {
		var found bool
		for _, cfg := range srv.fs.Shares() {
			if strings.EqualFold(cfg.Name, name) {
				t.cfg, found = cfg, true
				break
			}
		}
		if !found {
			return nil, StatusBadNetworkName
		}
		t.name = t.cfg.Name
		root, _, ok := srv.fs.Share(t.name)
		if !ok {
			return nil, StatusBadNetworkName
		}
		t.root = root
		t.opts = srv.shareOptions(t.name)
		if s.Guest() && !t.opts.Guest {
			return nil, StatusAccessDenied
		}
		if err := srv.fs.CheckClient(root, &s.caller); err != nil {
			return nil, StatusAccessDenied
		}
		t.access = accessAll
		if t.cfg.ReadOnly {
			t.access = accessReadSearch
		}
		if t.opts.Encrypt || srv.opt.Encrypt {
			if s.encrypter == nil {
				return nil, StatusAccessDenied // below 3.0, or a guest
			}
			t.encrypt = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != sessionValid {
		return nil, StatusUserSessionDeleted
	}
	if len(s.trees) >= maxTreesPerSession {
		return nil, StatusInsufficientResources
	}
	for {
		s.nextTree++
		if s.nextTree != 0 && s.nextTree != ^uint32(0) && s.trees[s.nextTree] == nil {
			break
		}
	}
	t.id = s.nextTree
	s.trees[t.id] = t
	return t, StatusSuccess
}

func serveTreeDisconnect(w *Response, r *Request) {
	if len(r.Body) < 4 || binary.LittleEndian.Uint16(r.Body) != 4 {
		w.Error(StatusInvalidParameter)
		return
	}
	t := r.Tree
	s := r.Session
	s.mu.Lock()
	delete(s.trees, t.id)
	s.mu.Unlock()
	t.disconnect(false) // a tree disconnect closes durable opens too
	b := w.Grow(4)
	binary.LittleEndian.PutUint16(b, 4)
}

// disconnect releases what the tree holds; with keepDurable its durable
// opens stay for a reconnect.
func (t *Tree) disconnect(keepDurable bool) {
	t.pmu.Lock()
	clear(t.pipes)
	t.pmu.Unlock()
	t.ops.release(t, keepDurable)
}

// serveEcho answers ECHO, the client's keep-alive.
func serveEcho(w *Response, r *Request) {
	if len(r.Body) < 4 || binary.LittleEndian.Uint16(r.Body) != 4 {
		w.Error(StatusInvalidParameter)
		return
	}
	b := w.Grow(4)
	binary.LittleEndian.PutUint16(b, 4)
}
