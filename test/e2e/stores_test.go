//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"sync"

	"github.com/tandemfs/tandem/test/vm"
)

// forwarded are the host loopback ports already reachable from the VM's
// namespace; the stores, the VM and its namespace all live as long as the
// test binary.
var forwarded struct {
	mu    sync.Mutex
	ports map[string]bool
}

var loopbackPort = regexp.MustCompile(`127\.0\.0\.1:(\d+)`)

// forwardStores makes every 127.0.0.1:PORT named in the stores
// configuration (the --config file of args) answer on the namespace's
// loopback too, by relaying each connection to the host's. The listener is
// made on the namespace's thread; the relays dial from ordinary goroutines,
// which run in the host's namespace.
func forwardStores(v *vm.VM, args []string) error {
	if len(args) != 2 || args[0] != "--config" {
		return fmt.Errorf("stores: unexpected server flags %q", args)
	}
	conf, err := os.ReadFile(args[1])
	if err != nil {
		return err
	}
	forwarded.mu.Lock()
	defer forwarded.mu.Unlock()
	if forwarded.ports == nil {
		forwarded.ports = map[string]bool{}
	}
	for _, m := range loopbackPort.FindAllStringSubmatch(string(conf), -1) {
		addr := "127.0.0.1:" + m[1]
		if forwarded.ports[addr] {
			continue
		}
		var l net.Listener
		if err := v.InNS(func() (err error) {
			l, err = net.Listen("tcp", addr)
			return err
		}); err != nil {
			return fmt.Errorf("stores: forwarding %s into the VM's namespace: %w", addr, err)
		}
		forwarded.ports[addr] = true
		go relay(l, addr)
	}
	return nil
}

func relay(l net.Listener, addr string) {
	for {
		in, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer in.Close()
			out, err := net.Dial("tcp", addr)
			if err != nil {
				return
			}
			defer out.Close()
			done := make(chan struct{})
			go func() {
				io.Copy(out, in)
				out.(*net.TCPConn).CloseWrite()
				close(done)
			}()
			io.Copy(in, out)
			in.(*net.TCPConn).CloseWrite()
			<-done
		}()
	}
}
