// Package admin is the channel between the running server and the
// administration commands of the same binary (`tandem user add`, `tandem
// locks`, ...): a unix socket in the data directory, so that whoever may
// read the data directory may administer the server, and nobody else.
//
// The protocol is one JSON request per connection, {"method": M, "params":
// P}, answered by one JSON response, {"result": R} or {"error": E}. It is
// deliberately tiny: admin traffic is rare and human-paced.
package admin

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// SocketName is the socket's file name inside the data directory.
const SocketName = "admin.sock"

// SocketPath is where the server of data directory dir listens.
func SocketPath(dir string) string { return filepath.Join(dir, SocketName) }

// ErrNoServer means no server answers on the data directory's socket; the
// command may then open the stores itself.
var ErrNoServer = errors.New("admin: no server running on this data directory")

// HandlerFunc serves one method. params is the raw JSON of the request's
// params; the result is marshalled as JSON.
type HandlerFunc func(ctx context.Context, params json.RawMessage) (any, error)

// Server answers admin requests.
type Server struct {
	log      *slog.Logger
	mu       sync.Mutex
	handlers map[string]HandlerFunc
	l        net.Listener
	wg       sync.WaitGroup
}

// NewServer returns a Server with no methods.
func NewServer(log *slog.Logger) *Server {
	return &Server{log: log, handlers: map[string]HandlerFunc{}}
}

// Handle registers method.
func (s *Server) Handle(method string, h HandlerFunc) {
	s.mu.Lock()
	s.handlers[method] = h
	s.mu.Unlock()
}

// Listen binds the socket in dir, replacing a stale one left by a crash.
// The caller holds the data directory (the store's lock), so a socket file
// found there cannot belong to a live server.
func (s *Server) Listen(dir string) error {
	path := SocketPath(dir)
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return err
	}
	s.l = l
	s.wg.Add(1)
	go s.serve(l)
	return nil
}

func (s *Server) serve(l net.Listener) {
	defer s.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
		}()
	}
}

type request struct {
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

type response struct {
	Result any    `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
}

func (s *Server) serveConn(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	var req request
	dec := json.NewDecoder(bufio.NewReader(limitRequest(c)))
	var resp response
	if err := dec.Decode(&req); err != nil {
		resp.Error = "bad request: " + err.Error()
	} else {
		s.mu.Lock()
		h := s.handlers[req.Method]
		s.mu.Unlock()
		if h == nil {
			resp.Error = fmt.Sprintf("unknown method %q", req.Method)
		} else {
			res, err := safeCall(h, req.Params)
			if err != nil {
				resp.Error = err.Error()
			} else {
				resp.Result = res
			}
		}
		s.log.Info("admin request", "method", req.Method, "ok", resp.Error == "")
	}
	_ = json.NewEncoder(c).Encode(&resp)
}

func safeCall(h HandlerFunc, params json.RawMessage) (res any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error: %v", r)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	return h(ctx, params)
}

// Close stops listening and waits for requests in progress.
func (s *Server) Close() error {
	var err error
	if s.l != nil {
		err = s.l.Close()
	}
	s.wg.Wait()
	return err
}

// Call sends one request to the server of data directory dir and decodes
// its result into result (which may be nil). ErrNoServer if none listens.
func Call(ctx context.Context, dir, method string, params, result any) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", SocketPath(dir))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, errConnRefused) {
			return ErrNoServer
		}
		return fmt.Errorf("admin: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	p, err := json.Marshal(params)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(c).Encode(request{Method: method, Params: p}); err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	var resp struct {
		Result json.RawMessage `json:"result"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return fmt.Errorf("admin: reading reply: %w", err)
	}
	if resp.Error != "" {
		return errors.New(resp.Error)
	}
	if result != nil && len(resp.Result) > 0 {
		return json.Unmarshal(resp.Result, result)
	}
	return nil
}
