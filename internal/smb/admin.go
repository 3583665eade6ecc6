package smb

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// SessionInfo is one established session, for an operator's status.
type SessionInfo struct {
	ID       uint64
	User     string // "" for anonymous
	Guest    bool
	Client   netip.Addr // of the connection that made the session
	Dialect  string     // "3.1.1"
	Signing  string     // "required", "on" (3.x signs when it has a key) or "off"
	Encrypt  bool       // the session, or one of its trees, encrypts
	Channels int        // connections bound to it
	Trees    []string   // share names it is connected to
	Opens    int        // files and directories it has open
}

// DialectName spells a dialect as "3.1.1".
func DialectName(d uint16) string {
	if d == dialectWildcard {
		return "2.???"
	}
	return fmt.Sprintf("%d.%d.%d", d>>8, d>>4&0xf, d&0xf)
}

// Sessions lists every established session.
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	all := make([]*Session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	out := make([]SessionInfo, 0, len(all))
	for _, ss := range all {
		ss.mu.Lock()
		if ss.state != sessionValid {
			ss.mu.Unlock()
			continue
		}
		si := SessionInfo{ID: ss.id, User: ss.user, Guest: ss.guest || ss.anonymous,
			Dialect: DialectName(ss.dialect), Encrypt: ss.encryptData, Channels: len(ss.channels)}
		if ss.conn != nil {
			si.Client = ss.conn.remote
		}
		switch {
		case ss.signingRequired:
			si.Signing = "required"
		case ss.signer != nil && ss.dialect >= Dialect300:
			si.Signing = "on"
		default:
			si.Signing = "off"
		}
		trees := make([]*Tree, 0, len(ss.trees))
		for _, t := range ss.trees {
			trees = append(trees, t)
		}
		ss.mu.Unlock()
		for _, t := range trees {
			si.Encrypt = si.Encrypt || t.encrypt
			if !t.ipc {
				si.Trees = append(si.Trees, t.name)
			}
			t.ops.mu.Lock()
			si.Opens += len(t.ops.opens)
			t.ops.mu.Unlock()
		}
		slices.Sort(si.Trees)
		out = append(out, si)
	}
	slices.SortFunc(out, func(a, b SessionInfo) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}

// OpenFiles counts the opens the server holds, disconnected durable ones
// included.
func (s *Server) OpenFiles() int {
	s.ops.mu.Lock()
	defer s.ops.mu.Unlock()
	return len(s.ops.opens)
}

// Connections counts the client connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// CloseSession cuts every connection of session id, as a network failure
// would: the session's opens close and its locks go (durable handles wait
// for a reconnect, as they were granted to). It reports whether the
// session existed.
func (s *Server) CloseSession(id uint64) bool {
	s.mu.Lock()
	ss := s.sessions[id]
	s.mu.Unlock()
	if ss == nil {
		return false
	}
	ss.mu.Lock()
	conns := []*Conn{ss.conn}
	for c := range ss.channels {
		conns = append(conns, c)
	}
	ss.mu.Unlock()
	for _, c := range conns {
		if c != nil {
			c.nc.Close()
		}
	}
	return true
}

// CloseClient cuts every connection from addr; it returns how many.
func (s *Server) CloseClient(addr netip.Addr) int {
	s.mu.Lock()
	var cs []*Conn
	for c := range s.conns {
		if c.remote == addr.Unmap() {
			cs = append(cs, c)
		}
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.nc.Close()
	}
	return len(cs)
}

// CloseLockClient cuts every connection of the client the lock manager
// knows as name (its ClientGuid in hex, as `tandem locks` shows it); it
// returns how many.
func (s *Server) CloseLockClient(name string) int {
	// Only connections with a session: their negotiation is over, so
	// their ClientGuid is settled.
	s.mu.Lock()
	all := make([]*Session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	cs := map[*Conn]bool{}
	for _, ss := range all {
		ss.mu.Lock()
		conns := []*Conn{ss.conn}
		for c := range ss.channels {
			conns = append(conns, c)
		}
		ss.mu.Unlock()
		for _, c := range conns {
			if c != nil && c.lockClient() == name {
				cs[c] = true
			}
		}
	}
	for c := range cs {
		c.nc.Close()
	}
	return len(cs)
}

// armHandshake starts the connection's handshake timer
// (Options.HandshakeTimeout); teardown stops it.
func (c *Conn) armHandshake() {
	d := c.srv.opt.HandshakeTimeout
	if d <= 0 {
		return
	}
	t := time.AfterFunc(d, c.handshakeExpired)
	c.mu.Lock()
	c.handshake = t
	closed := c.closed
	c.mu.Unlock()
	if closed {
		t.Stop()
	}
}

// handshakeExpired closes the connection if it still has no session.
func (c *Conn) handshakeExpired() {
	c.mu.Lock()
	sessions := make([]*Session, 0, len(c.sessions))
	for _, ss := range c.sessions {
		sessions = append(sessions, ss)
	}
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return
	}
	for _, ss := range sessions {
		if ss.valid() {
			return
		}
	}
	c.nc.Close()
	if f := c.srv.opt.OnHandshakeTimeout; f != nil {
		f()
	}
}
