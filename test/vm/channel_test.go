package vm

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemfs/tandem/test/vm/agentproto"
)

// fakeAgent answers exec requests on the far end of a pipe: "echo X"
// replies X after a delay given in the request's Dir (so replies can
// overtake each other), and records cancels.
type fakeAgent struct {
	conn    net.Conn
	mu      sync.Mutex
	cancels []uint64
	wmu     sync.Mutex
}

func (a *fakeAgent) serve() {
	sc := bufio.NewScanner(a.conn)
	for sc.Scan() {
		var req agentproto.Request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			panic(err)
		}
		switch req.Op {
		case agentproto.OpCancel:
			a.mu.Lock()
			a.cancels = append(a.cancels, req.Target)
			a.mu.Unlock()
		case agentproto.OpExec:
			go func() {
				d, _ := time.ParseDuration(req.Dir)
				time.Sleep(d)
				if req.Cmd == "hang" {
					return
				}
				b, _ := json.Marshal(&agentproto.Reply{ID: req.ID, RC: 7,
					Stdout: []byte(strings.TrimPrefix(req.Cmd, "echo ")), ElapsedNS: int64(d)})
				a.wmu.Lock()
				a.conn.Write(append(b, '\n'))
				a.wmu.Unlock()
			}()
		}
	}
}

func TestChannelRoutesRepliesByID(t *testing.T) {
	host, guest := net.Pipe()
	a := &fakeAgent{conn: guest}
	go a.serve()
	c := newChannel(host)
	defer c.close()

	var wg sync.WaitGroup
	for i, delay := range []string{"60ms", "0s", "30ms", "10ms"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := strings.Repeat("x", i+1)
			rep, err := c.call(context.Background(), &agentproto.Request{Op: agentproto.OpExec, Cmd: "echo " + want, Dir: delay})
			if err != nil {
				t.Error(err)
				return
			}
			if string(rep.Stdout) != want || rep.RC != 7 {
				t.Errorf("request %d got %q rc %d", i, rep.Stdout, rep.RC)
			}
		}()
	}
	wg.Wait()
}

func TestChannelCancelTellsTheGuest(t *testing.T) {
	host, guest := net.Pipe()
	a := &fakeAgent{conn: guest}
	go a.serve()
	c := newChannel(host)
	defer c.close()

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req := &agentproto.Request{Op: agentproto.OpExec, Cmd: "hang"}
	if _, err := c.call(ctx, req); err != context.DeadlineExceeded {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		a.mu.Lock()
		got := append([]uint64(nil), a.cancels...)
		a.mu.Unlock()
		if len(got) == 1 && got[0] == req.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cancels seen by the agent: %v, want [%d]", got, req.ID)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestChannelFailsPendingCallsWhenClosed(t *testing.T) {
	host, guest := net.Pipe()
	a := &fakeAgent{conn: guest}
	go a.serve()
	c := newChannel(host)

	errc := make(chan error, 1)
	go func() {
		_, err := c.call(context.Background(), &agentproto.Request{Op: agentproto.OpExec, Cmd: "hang"})
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	guest.Close() // the VM went away
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "agent channel closed") {
			t.Fatalf("got %v, want a closed-channel error", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("pending call not failed after the channel closed")
	}
	if _, err := c.call(context.Background(), &agentproto.Request{Op: agentproto.OpPing}); err == nil {
		t.Fatal("call on a closed channel succeeded")
	}
	c.close()
}

func TestRecipeKey(t *testing.T) {
	k := RecipeKey()
	if len(k) != 16 || strings.Trim(k, "0123456789abcdef") != "" || k != RecipeKey() {
		t.Fatalf("RecipeKey() = %q, want 16 stable hex digits", k)
	}
	for _, f := range []string{"image/build-image.sh", "image/initramfs-init", "image/guest-init"} {
		if _, err := recipe.ReadFile(f); err != nil {
			t.Errorf("recipe lacks %s: %v", f, err)
		}
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	var tb tailBuffer
	for i := 0; i < 3000; i++ {
		tb.Write([]byte("line " + strings.Repeat("y", i%7) + "\n"))
	}
	tb.Write([]byte("last\n"))
	s := tb.String()
	if !strings.HasSuffix(s, "\nlast") || len(s) > tailMax || !strings.HasPrefix(s, "line ") {
		t.Fatalf("tail = %q...%q (%d bytes)", s[:20], s[len(s)-20:], len(s))
	}
}
