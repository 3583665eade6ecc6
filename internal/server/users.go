package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/tandemfs/tandem/internal/identity"
)

// UserRequest is the parameter of the admin user methods.
type UserRequest struct {
	Name     string `json:"name"`
	Password string `json:"password,omitempty"`
	UID      uint32 `json:"uid,omitempty"`
	GID      uint32 `json:"gid,omitempty"`
	// AutoID asks for the lowest uid (and matching gid) >= 1000 no other
	// Tandem user has.
	AutoID bool `json:"auto_id,omitempty"`
}

// UserInfo is one row of `tandem user list`; it never carries a hash.
type UserInfo struct {
	Name string `json:"name"`
	UID  uint32 `json:"uid"`
	GID  uint32 `json:"gid"`
}

// UserOp runs one user administration method on ids. The running server
// and the offline command share it, so both behave the same.
func UserOp(ctx context.Context, ids *identity.Store, method string, req UserRequest) ([]UserInfo, error) {
	switch method {
	case "user.add":
		if req.Password == "" {
			return nil, errors.New("empty password")
		}
		if req.AutoID {
			users, err := ids.List(ctx)
			if err != nil {
				return nil, err
			}
			used := map[uint32]bool{}
			for _, u := range users {
				used[u.UID] = true
			}
			req.UID = 1000
			for used[req.UID] {
				req.UID++
			}
			req.GID = req.UID
		}
		if err := ids.AddUser(ctx, req.Name, req.Password, req.UID, req.GID); err != nil {
			if errors.Is(err, identity.ErrExists) {
				return nil, fmt.Errorf("user %q already exists", req.Name)
			}
			return nil, err
		}
		return []UserInfo{{Name: req.Name, UID: req.UID, GID: req.GID}}, nil
	case "user.passwd":
		if req.Password == "" {
			return nil, errors.New("empty password")
		}
		return nil, notFound(req.Name, ids.SetPassword(ctx, req.Name, req.Password))
	case "user.del":
		return nil, notFound(req.Name, ids.DelUser(ctx, req.Name))
	case "user.list":
		users, err := ids.List(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]UserInfo, len(users))
		for i, u := range users {
			out[i] = UserInfo{Name: u.Name, UID: u.UID, GID: u.GID}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown user method %q", method)
}

func notFound(name string, err error) error {
	if errors.Is(err, identity.ErrNotFound) {
		return fmt.Errorf("no user %q", name)
	}
	return err
}

func (s *Server) registerUserAdmin() {
	for _, m := range []string{"user.add", "user.passwd", "user.del", "user.list"} {
		s.admin.Handle(m, func(ctx context.Context, p json.RawMessage) (any, error) {
			var req UserRequest
			if len(p) > 0 && string(p) != "null" {
				if err := json.Unmarshal(p, &req); err != nil {
					return nil, err
				}
			}
			return UserOp(ctx, s.ids, m, req)
		})
	}
}
