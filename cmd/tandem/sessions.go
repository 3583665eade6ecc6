package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/tandemfs/tandem/internal/admin"
	"github.com/tandemfs/tandem/internal/server"
)

const sessionsUsage = `Usage:
  tandem sessions [list] [--json] [--data D]
  tandem sessions close SESSION-ID [--data D]
  tandem sessions close --client ADDRESS [--data D]

"list" shows the SMB sessions (user, client address, dialect, signing and
encryption, shares, open files) and the NFS client hosts. "close" cuts the
connections of one SMB session, or every NFS and SMB connection from an
address, as a network failure would: the client's opens close and its SMB
locks go (a durable handle waits for its reconnect, as it was granted to).
NLM locks belong to the host, not the connection: "tandem locks break" frees
them.
`

func sessions(args []string) error {
	sub := "list"
	if len(args) > 0 && (args[0] == "list" || args[0] == "close") {
		sub, args = args[0], args[1:]
	}
	fl := flag.NewFlagSet("sessions "+sub, flag.ContinueOnError)
	fl.Usage = func() { fmt.Fprint(fl.Output(), sessionsUsage) }
	data := fl.String("data", defaultData(), "data `directory` of the server to ask")
	asJSON := fl.Bool("json", false, "print as JSON")
	client := fl.String("client", "", "close every connection from this `address`")
	if err := parseInterspersed(fl, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if sub == "list" {
		if fl.NArg() != 0 {
			return errors.New("sessions list: no argument expected")
		}
		var st server.Status
		if err := call(*data, "status", &st); err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{"nfs": st.NFS, "smb": st.SMB})
		}
		printSessions(st)
		return nil
	}
	var req server.CloseRequest
	switch {
	case *client != "" && fl.NArg() == 0:
		req.Client = *client
	case *client == "" && fl.NArg() == 1:
		req.Session = fl.Arg(0)
	default:
		return errors.New("sessions close: one SESSION-ID or --client ADDRESS")
	}
	var res server.CloseResult
	if err := callWith(*data, "sessions.close", req, &res); err != nil {
		return err
	}
	if res.SMBSession {
		fmt.Printf("closed SMB session %s\n", req.Session)
	} else {
		fmt.Printf("closed %d NFS and %d SMB connections from %s\n", res.NFSConns, res.SMBConns, req.Client)
	}
	return nil
}

// locksBreak serves `tandem locks break CLIENT`.
func locksBreak(args []string) error {
	fl := flag.NewFlagSet("locks break", flag.ContinueOnError)
	data := fl.String("data", defaultData(), "data `directory` of the server to ask")
	fl.Usage = func() {
		fmt.Fprint(fl.Output(), `Usage: tandem locks break CLIENT [--data D]

Frees everything CLIENT holds, CLIENT being what the CLIENT column of
"tandem locks" shows. An NLM host loses every lock and waiting request, as
if it had rebooted (its lock manager is not told: use it for a client that
is gone for good). An SMB client's connections are cut, which closes its
opens and with them their locks, leases and share modes; durable handles
wait for its reconnect. Waiting requests of other clients are granted.
`)
	}
	if err := parseInterspersed(fl, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fl.NArg() != 1 {
		fl.Usage()
		return errors.New("locks break: exactly one CLIENT")
	}
	var res server.CloseResult
	if err := callWith(*data, "locks.break", server.CloseRequest{Client: fl.Arg(0)}, &res); err != nil {
		return err
	}
	if res.NLMReleased {
		fmt.Printf("released every NLM lock of %s\n", fl.Arg(0))
	}
	if res.SMBSession {
		fmt.Printf("cut %d SMB connections of %s\n", res.SMBConns, fl.Arg(0))
	}
	return nil
}

// parseInterspersed parses flags before and after the positional
// arguments, which stay in fl.Args().
func parseInterspersed(fl *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fl.Parse(args); err != nil {
			return err
		}
		args = fl.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return fl.Parse(append([]string{"--"}, pos...))
}

// callWith asks the running server of data, with parameters.
func callWith(data, method string, params, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.Call(ctx, data, method, params, out); err != nil {
		if errors.Is(err, admin.ErrNoServer) {
			return fmt.Errorf("no server is running on %s", data)
		}
		return err
	}
	return nil
}
