// Package agentproto is the wire format of the command channel between the
// test harness (package vm, on the host) and the agent inside the client VM
// (test/guest/vmagent).
//
// The channel is a virtio-serial port named PortName.  In the guest it is a
// character device; on the host QEMU exposes it as a unix socket, which works
// whatever network namespace the caller is in and whatever a test does to
// the guest's network.  Both directions carry one JSON object per line: the
// host sends Requests, the agent answers each with one Reply carrying the
// same ID.  The agent serves requests concurrently, so several commands can
// run in the guest at once (a lock holder and a waiter, a writer and the
// command that checks on it).
package agentproto

// PortName is the name of the virtio-serial port (QEMU's virtserialport
// name=), found by the agent under /sys/class/virtio-ports.
const PortName = "tandem.agent"

// ReadyFile is created by the guest's init once networking, the shares and
// the NFS client stack are up.  The agent answers OpPing only after that.
const ReadyFile = "/run/tandem-ready"

// BootFile holds the guest's boot milestones ("name uptime-seconds" lines).
const BootFile = "/run/tandem-boot"

// Request operations.
const (
	// OpPing waits until the guest is ready; the reply's Stdout holds
	// BootFile.
	OpPing = "ping"
	// OpExec runs Cmd with /bin/bash -c as root.
	OpExec = "exec"
	// OpCancel kills the process group of the running request Target.
	OpCancel = "cancel"
)

// Request is one order from the host.
type Request struct {
	ID uint64 `json:"id"`
	Op string `json:"op"`

	// OpExec.
	Cmd   string   `json:"cmd,omitempty"`
	Stdin []byte   `json:"stdin,omitempty"`
	Env   []string `json:"env,omitempty"` // KEY=VALUE, added to the agent's defaults
	Dir   string   `json:"dir,omitempty"` // default /root
	// TimeoutMS kills the command's process group after that many
	// milliseconds (0: no limit); the reply then has RC 124 and TimedOut.
	TimeoutMS int64 `json:"timeout_ms,omitempty"`

	// OpCancel.
	Target uint64 `json:"target,omitempty"`
}

// Reply answers the Request with the same ID.
type Reply struct {
	ID uint64 `json:"id"`
	// RC is the exit status; 128+N when killed by signal N, 124 on timeout.
	RC        int    `json:"rc"`
	Stdout    []byte `json:"stdout,omitempty"`
	Stderr    []byte `json:"stderr,omitempty"`
	ElapsedNS int64  `json:"elapsed_ns"`
	TimedOut  bool   `json:"timed_out,omitempty"`
	Canceled  bool   `json:"canceled,omitempty"`
	// Error is set when the agent could not run the request at all.
	Error string `json:"error,omitempty"`
}
