package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandemfs/tandem/internal/lock"
)

// Status is what `tandem status` shows.
type Status struct {
	PID       int         `json:"pid"`
	Started   time.Time   `json:"started"`
	Data      string      `json:"data"`
	NFSAddr   string      `json:"nfs_addr"`
	SMBAddr   string      `json:"smb_addr,omitempty"`
	Listeners []Listener  `json:"listeners"`
	Shares    []string    `json:"shares"`
	NSMState  int32       `json:"nsm_state"`
	Grace     GraceStatus `json:"grace"`
	NFS       NFSStatus   `json:"nfs"`
	SMB       SMBStatus   `json:"smb"`
	// Locks counts the lock manager's entries by protocol ("nlm", "smb").
	Locks map[string]LockCounts `json:"locks"`
}

// Listener is one address the server accepts on.
type Listener struct {
	Service string `json:"service"` // "nfs+mount+nlm+nsm", "smb", "portmap", "metrics"
	Addr    string `json:"addr"`
	Proto   string `json:"proto"` // "tcp", "udp" or "tcp,udp"
}

// NFSStatus is what NFS clients do now.
type NFSStatus struct {
	// Clients are the hosts with TCP connections (NFS, MOUNT, NLM share
	// one port), with how many each has.
	Clients []NFSClient `json:"clients"`
	// LockHosts are the NLM hosts the status monitor watches: those that
	// hold or held locks and are told when the server restarts.
	LockHosts []string `json:"lock_hosts"`
}

// NFSClient is one host connected to the NFS port.
type NFSClient struct {
	Addr  string `json:"addr"`
	Conns int    `json:"conns"`
}

// SMBStatus is what SMB clients do now.
type SMBStatus struct {
	Connections int           `json:"connections"`
	OpenFiles   int           `json:"open_files"`
	Sessions    []SMBSession  `json:"sessions"`
	Durable     []DurableOpen `json:"durable,omitempty"`
}

// SMBSession is one SMB session.
type SMBSession struct {
	ID       string   `json:"id"` // hex, as Windows' Get-SmbSession shows it
	User     string   `json:"user"`
	Guest    bool     `json:"guest"`
	Client   string   `json:"client"`
	Dialect  string   `json:"dialect"`
	Signing  string   `json:"signing"` // required, on or off
	Encrypt  bool     `json:"encrypt"`
	Channels int      `json:"channels"`
	Shares   []string `json:"shares"`
	Opens    int      `json:"open_files"`
}

// DurableOpen is an SMB durable handle waiting for its client.
type DurableOpen struct {
	Client string `json:"client"`
}

// LockCounts counts one protocol's lock manager entries.
type LockCounts struct {
	Ranges  int `json:"ranges"`  // byte-range locks held
	Waiting int `json:"waiting"` // requests waiting for one
	Shares  int `json:"shares"`  // share reservations (opens)
	Caching int `json:"caching"` // leases and oplocks
}

// Status is what `tandem status` shows.
func (s *Server) Status() Status {
	st := Status{PID: os.Getpid(), Started: s.started, Data: s.cfg.Data, Locks: map[string]LockCounts{}}
	s.mu.Lock()
	st.Listeners = slices.Clone(s.listening)
	s.mu.Unlock()
	if s.NFSAddr != nil {
		st.NFSAddr = s.NFSAddr.String()
	}
	if s.SMBAddr != nil {
		st.SMBAddr = s.SMBAddr.String()
	}
	if l := s.locks; l != nil {
		st.NSMState = l.nsm.State()
		st.Grace = l.graceStatus()
		for name := range l.nsm.Hosts() {
			st.NFS.LockHosts = append(st.NFS.LockHosts, name)
		}
		slices.Sort(st.NFS.LockHosts)
		for _, e := range l.mgr.Snapshot() {
			proto := e.Owner.Proto.String()
			c := st.Locks[proto]
			switch {
			case e.Waiting:
				c.Waiting++
			case e.Kind == lock.KindShare:
				c.Shares++
			case e.Kind == lock.KindCaching:
				c.Caching++
			default:
				c.Ranges++
			}
			st.Locks[proto] = c
		}
	}
	for _, sh := range s.FS.Shares() {
		st.Shares = append(st.Shares, sh.Name)
	}
	if s.rpc != nil {
		byHost := map[netip.Addr]int{}
		for _, p := range s.rpc.Peers() {
			byHost[p.Addr()]++
		}
		for a, n := range byHost {
			st.NFS.Clients = append(st.NFS.Clients, NFSClient{Addr: a.String(), Conns: n})
		}
		slices.SortFunc(st.NFS.Clients, func(a, b NFSClient) int { return strings.Compare(a.Addr, b.Addr) })
	}
	if s.smb != nil {
		st.SMB.Connections = s.smb.Connections()
		st.SMB.OpenFiles = s.smb.OpenFiles()
		for _, si := range s.smb.Sessions() {
			st.SMB.Sessions = append(st.SMB.Sessions, SMBSession{
				ID: fmt.Sprintf("%016x", si.ID), User: si.User, Guest: si.Guest, Client: si.Client.String(),
				Dialect: si.Dialect, Signing: si.Signing, Encrypt: si.Encrypt, Channels: si.Channels,
				Shares: si.Trees, Opens: si.Opens,
			})
		}
		for _, d := range s.smb.DurableOpens() {
			if d.Disconnected {
				st.SMB.Durable = append(st.SMB.Durable, DurableOpen{Client: d.Client})
			}
		}
	}
	return st
}

// noteListener records an address for `tandem status`.
func (s *Server) noteListener(service, addr, proto string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, l := range s.listening {
		if l.Service == service && l.Addr == addr {
			s.listening[i].Proto += "," + proto
			return
		}
	}
	s.listening = append(s.listening, Listener{Service: service, Addr: addr, Proto: proto})
}

// CloseRequest is the parameter of sessions.close and locks.break.
type CloseRequest struct {
	// Session is an SMB session id in hex (sessions.close).
	Session string `json:"session,omitempty"`
	// Client is an address (sessions.close: every NFS and SMB connection
	// from it) or, for locks.break, a client as `tandem locks` names it.
	Client string `json:"client,omitempty"`
}

// CloseResult says what a sessions.close or locks.break did.
type CloseResult struct {
	NFSConns    int  `json:"nfs_conns"`
	SMBConns    int  `json:"smb_conns"`
	SMBSession  bool `json:"smb_session"`
	NLMReleased bool `json:"nlm_released"`
}

func (s *Server) registerControl() {
	s.admin.Handle("sessions.close", func(_ context.Context, p json.RawMessage) (any, error) {
		var req CloseRequest
		if err := json.Unmarshal(p, &req); err != nil {
			return nil, err
		}
		var res CloseResult
		switch {
		case req.Session != "":
			id, err := strconv.ParseUint(strings.TrimPrefix(req.Session, "0x"), 16, 64)
			if err != nil {
				return nil, fmt.Errorf("session id %q: not hex", req.Session)
			}
			if s.smb == nil || !s.smb.CloseSession(id) {
				return nil, fmt.Errorf("no SMB session %s", req.Session)
			}
			res.SMBSession = true
		case req.Client != "":
			a, err := netip.ParseAddr(req.Client)
			if err != nil {
				return nil, fmt.Errorf("client %q: not an address", req.Client)
			}
			if s.rpc != nil {
				res.NFSConns = s.rpc.ClosePeer(a)
			}
			if s.smb != nil {
				res.SMBConns = s.smb.CloseClient(a)
			}
			if res.NFSConns+res.SMBConns == 0 {
				return nil, fmt.Errorf("no connection from %s", a)
			}
		default:
			return nil, fmt.Errorf("a session id or a client address is needed")
		}
		s.log.Warn("closed by the operator", "session", req.Session, "client", req.Client,
			"nfs_conns", res.NFSConns, "smb_conns", res.SMBConns)
		return res, nil
	})
	s.admin.Handle("locks.break", func(_ context.Context, p json.RawMessage) (any, error) {
		var req CloseRequest
		if err := json.Unmarshal(p, &req); err != nil {
			return nil, err
		}
		if req.Client == "" || s.locks == nil {
			return nil, fmt.Errorf("a client, as `tandem locks` names it, is needed")
		}
		var res CloseResult
		for _, e := range s.locks.mgr.Snapshot() {
			if e.Owner.Host != req.Client {
				continue
			}
			switch e.Owner.Proto {
			case lock.NLM:
				res.NLMReleased = true
			case lock.SMB:
				res.SMBSession = true
			}
		}
		if !res.NLMReleased && !res.SMBSession {
			return nil, fmt.Errorf("client %q holds nothing", req.Client)
		}
		if res.NLMReleased {
			s.locks.nlm.ReleaseHost(req.Client)
		}
		if res.SMBSession && s.smb != nil {
			// The locks of an SMB client belong to its opens, which go
			// with its connections.
			res.SMBConns = s.smb.CloseLockClient(req.Client)
		}
		s.log.Warn("locks broken by the operator", "client", req.Client, "nlm", res.NLMReleased, "smb_conns", res.SMBConns)
		return res, nil
	})
}

// String is the session as `tandem status` prints it.
func (si SMBSession) String() string {
	who := si.User
	if si.Guest {
		who += "(guest)"
	}
	enc := "-"
	if si.Encrypt {
		enc = "encrypted"
	}
	return fmt.Sprintf("%s %s from %s, SMB %s, signing %s, %s, %d open, shares %s",
		si.ID, who, si.Client, si.Dialect, si.Signing, enc, si.Opens, strings.Join(si.Shares, ","))
}
