package vm

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// nsThread is an OS thread that lives in a network namespace of its own.
//
// Network namespaces belong to threads, not processes: a thread that calls
// unshare(CLONE_NEWNET) moves alone, and whatever it creates afterwards (a
// socket, a tap device, a child process) belongs to the new namespace.  The
// goroutine stays locked to its thread and never unlocks it, so when the
// goroutine returns the Go runtime retires the thread instead of reusing it
// elsewhere; the namespace goes away with the last process in it.
type nsThread struct {
	work chan func()
	done chan struct{}
}

func newNSThread() (*nsThread, error) {
	t := &nsThread{work: make(chan func()), done: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer close(t.done)
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("unshare(CLONE_NEWNET): %w", err)
			return
		}
		errc <- nil
		for f := range t.work {
			f()
		}
	}()
	if err := <-errc; err != nil {
		return nil, err
	}
	return t, nil
}

// do runs f on the namespace's thread and waits for it.
func (t *nsThread) do(f func() error) error {
	errc := make(chan error, 1)
	select {
	case t.work <- func() { errc <- f() }:
	case <-t.done:
		return errors.New("vm: network namespace thread is gone")
	}
	return <-errc
}

// stop ends the thread; processes started from it receive their
// parent-death signal.
func (t *nsThread) stop() {
	close(t.work)
	<-t.done
}

// makeTap creates a tap device in the calling thread's namespace, gives it
// addr/prefix, brings it and lo up, and returns its file for QEMU.  The
// device exists as long as a descriptor for it is open: it disappears with
// QEMU.  IFF_VNET_HDR lets QEMU use the offloads of virtio-net (big
// segments, no checksums), which saves emulated work per packet.
func makeTap(name string, addr netip.Prefix) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	tap := os.NewFile(uintptr(fd), "/dev/net/tun")
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		tap.Close()
		return nil, err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		tap.Close()
		return nil, fmt.Errorf("TUNSETIFF %s: %w", name, err)
	}
	if err := configureIface(name, addr); err != nil {
		tap.Close()
		return nil, err
	}
	if err := configureIface("lo", netip.Prefix{}); err != nil {
		tap.Close()
		return nil, err
	}
	return tap, nil
}

// configureIface sets an IPv4 address (if addr is valid) and brings the
// interface up, with the classic ioctls: no netlink needed.
func configureIface(name string, addr netip.Prefix) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return err
	}
	if addr.IsValid() {
		a := addr.Addr().As4()
		if err := ifr.SetInet4Addr(a[:]); err != nil {
			return err
		}
		if err := unix.IoctlIfreq(s, unix.SIOCSIFADDR, ifr); err != nil {
			return fmt.Errorf("set address of %s: %w", name, err)
		}
		var m [4]byte
		for i := 0; i < addr.Bits(); i++ {
			m[i/8] |= 0x80 >> (i % 8)
		}
		if err := ifr.SetInet4Addr(m[:]); err != nil {
			return err
		}
		if err := unix.IoctlIfreq(s, unix.SIOCSIFNETMASK, ifr); err != nil {
			return fmt.Errorf("set netmask of %s: %w", name, err)
		}
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("get flags of %s: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring %s up: %w", name, err)
	}
	return nil
}
