// Package vm boots a small Linux VM whose kernel is the NFS and SMB client
// for end-to-end tests: the clients under test are the real Linux kernel
// ones (nfs, lockd, cifs), which the host kernel of a CI machine usually
// does not have and which nobody here wrote.
//
// # The pieces
//
// The guest image is built once and cached (EnsureImage): the Debian
// amd64 kernel, a tiny busybox initramfs, and a debootstrap'd minimal
// Debian root with nfs-common, rpcbind and cifs-utils, written as an ext4
// image.  QEMU opens the image with snapshot=on, so every boot starts from
// the same clean state and any number of VMs may share it.
//
// Start boots one VM under TCG emulation (no KVM needed) and returns once
// the guest agent answers:
//
//	host test process                  guest (10.77.0.2, 1 vCPU, TCG)
//	-----------------                  ------------------------------
//	netns (private, anonymous)
//	  tap0 10.77.0.1/24  <--virtio-net-->  eth0     NFS/CIFS kernel clients,
//	  servers under test (StartInNS)                lockd :4045, statd :4046,
//	                                                rpcbind :111
//	Exec  --unix socket--> QEMU virtio-serial --> vmagent (runs bash -c)
//	ShareDir()    <--------- virtio-9p ---------> /host
//	tools (built) <--------- virtio-9p (ro) ----> /opt/tandem (in PATH)
//
// The network namespace exists only for this VM, so a server under test
// listens on the usual ports (111, 2049, 445) without meeting anything of
// the host's, the guest reaches it at HostIP, and it can call the guest back
// at GuestIP (NLM GRANTED, NSM notifications).  The namespace has no name:
// it is held by one locked OS thread of the test process, from which QEMU
// and the servers are started, and it vanishes with them.  QEMU and every
// process started with StartInNS get SIGKILL if the test process dies, so a
// crashed or timed-out test binary leaves nothing behind.
//
// # Costs
//
// Everything runs under TCG: a boot takes about ten seconds, so a test binary
// boots one VM in TestMain and its tests share it, each with its own mount
// point.  Creating a process in the guest is about forty times slower than
// on the host, so bulk work belongs in one guest process (a shell loop of
// builtins, or a static Go helper listed in Options.Tools) rather than in
// one Exec per operation.
//
// # Debugging
//
// Each VM has a scratch directory under $TMPDIR (tandem-vm-PID-*) with the
// guest's serial console (console.log), QEMU's output and the agent socket.
// Boot failures quote the end of the console.  TANDEM_VM_KEEP=1 keeps the
// directory after Close.  TANDEM_VM_CACHE moves the image cache.
//
// # Host requirements
//
// Root, /dev/net/tun, QEMU, the Go toolchain (the guest tools are built from
// this module) and, the first time, the image build tools and access to a
// Debian mirror.  test/install-deps.sh installs them; CheckHost says what
// is missing.
package vm
