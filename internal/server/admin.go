package server

import (
	"context"
	"encoding/json"

	"github.com/tandemfs/tandem/internal/identity"
)

func (s *Server) registerAdmin() {
	s.registerUserAdmin()
	s.registerShareAdmin()
	s.registerControl()
	s.admin.Handle("status", func(ctx context.Context, _ json.RawMessage) (any, error) {
		return s.Status(), nil
	})
}

// Identities is the server's user store.
func (s *Server) Identities() *identity.Store { return s.ids }
