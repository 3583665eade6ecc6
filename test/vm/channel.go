package vm

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/tandemfs/tandem/test/vm/agentproto"
)

// channel is the host end of the command channel: one connection to QEMU's
// unix socket for the agent's virtio-serial port, shared by every caller,
// with replies routed back by request ID.
type channel struct {
	conn net.Conn
	wmu  sync.Mutex

	mu      sync.Mutex
	nextID  uint64
	pending map[uint64]chan *agentproto.Reply
	err     error // why the reader stopped; set once
	done    chan struct{}
}

func newChannel(conn net.Conn) *channel {
	c := &channel{conn: conn, pending: map[uint64]chan *agentproto.Reply{}, done: make(chan struct{})}
	go c.read()
	return c
}

func (c *channel) read() {
	r := bufio.NewReaderSize(c.conn, 1<<16)
	var err error
	for {
		var line []byte
		line, err = r.ReadBytes('\n')
		if err != nil {
			break
		}
		rep := new(agentproto.Reply)
		if json.Unmarshal(line, rep) != nil {
			continue // console noise cannot reach this port; ignore junk anyway
		}
		c.mu.Lock()
		ch := c.pending[rep.ID]
		delete(c.pending, rep.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- rep
		}
	}
	c.mu.Lock()
	c.err = fmt.Errorf("agent channel closed: %w", err)
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
	c.mu.Unlock()
	close(c.done)
}

func (c *channel) send(req *agentproto.Request) error {
	b, err := json.Marshal(req)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_, err = c.conn.Write(b)
	return err
}

// call sends req (its ID is assigned here) and waits for the reply.  When
// ctx ends first, the guest is told to kill the request's processes and
// ctx's error is returned.
func (c *channel) call(ctx context.Context, req *agentproto.Request) (*agentproto.Reply, error) {
	ch := make(chan *agentproto.Reply, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.nextID++
	req.ID = c.nextID
	c.pending[req.ID] = ch
	c.mu.Unlock()

	if err := c.send(req); err != nil {
		c.forget(req.ID)
		return nil, fmt.Errorf("send to agent: %w", err)
	}
	select {
	case rep, ok := <-ch:
		if !ok {
			return nil, c.closedErr()
		}
		return rep, nil
	case <-ctx.Done():
		c.forget(req.ID)
		if req.Op == agentproto.OpExec {
			_ = c.send(&agentproto.Request{Op: agentproto.OpCancel, Target: req.ID})
		}
		return nil, ctx.Err()
	}
}

func (c *channel) forget(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

func (c *channel) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	return errors.New("agent channel closed")
}

func (c *channel) close() {
	c.conn.Close()
	<-c.done
}
