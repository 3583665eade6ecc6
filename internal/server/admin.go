package server

import (
	"context"
	"encoding/json"
	"os"
	"time"

	"github.com/tandemfs/tandem/internal/identity"
)

// Status is what `tandem status` shows.
type Status struct {
	PID      int         `json:"pid"`
	Started  time.Time   `json:"started"`
	Data     string      `json:"data"`
	NFSAddr  string      `json:"nfs_addr"`
	SMBAddr  string      `json:"smb_addr,omitempty"`
	Shares   []string    `json:"shares"`
	NSMState int32       `json:"nsm_state"`
	Grace    GraceStatus `json:"grace"`
}

func (s *Server) registerAdmin() {
	s.registerUserAdmin()
	s.registerShareAdmin()
	s.admin.Handle("status", func(ctx context.Context, _ json.RawMessage) (any, error) {
		return s.Status(), nil
	})
}

// Identities is the server's user store.
func (s *Server) Identities() *identity.Store { return s.ids }

// Status is what `tandem status` shows.
func (s *Server) Status() Status {
	st := Status{PID: os.Getpid(), Started: s.started, Data: s.cfg.Data}
	if s.NFSAddr != nil {
		st.NFSAddr = s.NFSAddr.String()
	}
	if s.SMBAddr != nil {
		st.SMBAddr = s.SMBAddr.String()
	}
	if l := s.locks; l != nil {
		st.NSMState = l.nsm.State()
		st.Grace = l.graceStatus()
	}
	for _, sh := range s.FS.Shares() {
		st.Shares = append(st.Shares, sh.Name)
	}
	return st
}
