package testserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// The administration commands of a running server, run as an operator
// would: `tandem COMMAND ... --data DIR`, output read as JSON where the
// command offers it.

// Command runs `tandem args... --data p.Data` and returns what it printed
// on standard output; a failure carries its standard error.
func (p *Process) Command(args ...string) ([]byte, error) {
	return command(p.bin, p.Data, "", args...)
}

func command(bin, data, stdin string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, append(args, "--data", data)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("tandem %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// AddUser adds an SMB user with a password and a uid (gid the same) to the
// data directory with `tandem user add`, through the server running on it
// if there is one.
func AddUser(bin, data, name, password string, uid int) error {
	_, err := command(bin, data, password+"\n", "user", "add", name, "--password-stdin",
		"--uid", strconv.Itoa(uid), "--gid", strconv.Itoa(uid))
	return err
}

// LockEntry is one entry of `tandem locks --json`.
type LockEntry struct {
	File         string        `json:"file"` // share id:file id
	Kind         string        `json:"kind"` // range, share or caching
	Mode         string        `json:"mode"`
	Offset       uint64        `json:"offset"`
	Length       uint64        `json:"length"`
	Proto        string        `json:"proto"`  // nlm or smb
	Owner        string        `json:"owner"`  // NLM: "svid N oh H"; SMB: "open N" or "lease K"
	Client       string        `json:"client"` // NLM caller name; SMB ClientGuid in hex
	Age          time.Duration `json:"age_ns"`
	Waiting      bool          `json:"waiting"`
	Unreclaimed  bool          `json:"unreclaimed"`
	Durable      bool          `json:"durable"`
	Disconnected bool          `json:"disconnected"`
}

// String is the entry without its age, for comparisons and messages.
func (e LockEntry) String() string {
	var flags []string
	for _, f := range []struct {
		on   bool
		name string
	}{{e.Waiting, "waiting"}, {e.Unreclaimed, "unreclaimed"}, {e.Durable, "durable"}, {e.Disconnected, "disconnected"}} {
		if f.on {
			flags = append(flags, f.name)
		}
	}
	return fmt.Sprintf("%s %s %s %d+%d %s %q %q [%s]", e.File, e.Kind, e.Mode, e.Offset, e.Length,
		e.Proto, e.Client, e.Owner, strings.Join(flags, ","))
}

// Locks runs `tandem locks --json`.
func (p *Process) Locks() ([]LockEntry, error) {
	out, err := p.Command("locks", "--json")
	if err != nil {
		return nil, err
	}
	var es []LockEntry
	if err := json.Unmarshal(out, &es); err != nil {
		return nil, fmt.Errorf("tandem locks --json: %v: %s", err, out)
	}
	return es, nil
}

// Grace is the grace period as `tandem status --json` reports it.
type Grace struct {
	Active      bool      `json:"active"`
	Ends        time.Time `json:"ends"`
	Unreclaimed int       `json:"unreclaimed"`
}

// Status is the part of `tandem status --json` tests look at.
type Status struct {
	PID   int    `json:"pid"`
	Grace *Grace `json:"grace"` // nil if the server does not report one
}

// Status runs `tandem status --json`.
func (p *Process) Status() (Status, error) {
	out, err := p.Command("status", "--json")
	if err != nil {
		return Status{}, err
	}
	var st Status
	if err := json.Unmarshal(out, &st); err != nil {
		return Status{}, fmt.Errorf("tandem status --json: %v: %s", err, out)
	}
	return st, nil
}

// EndGrace runs `tandem grace end`.
func (p *Process) EndGrace() error {
	_, err := p.Command("grace", "end")
	return err
}
