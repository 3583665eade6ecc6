package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tandemfs/tandem/internal/admin"
	"github.com/tandemfs/tandem/internal/server"
)

func status(args []string) error {
	fl := flag.NewFlagSet("status", flag.ContinueOnError)
	data := fl.String("data", defaultData(), "data `directory` of the server to ask")
	asJSON := fl.Bool("json", false, "print the status as JSON")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	var st server.Status
	if err := call(*data, "status", &st); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Printf("pid      %d\nup       %s\ndata     %s\n", st.PID, time.Since(st.Started).Round(time.Second), st.Data)
	for _, l := range st.Listeners {
		fmt.Printf("listen   %-18s %s (%s)\n", l.Service, l.Addr, l.Proto)
	}
	fmt.Printf("shares   %s\nnsm      state %d\n", strings.Join(st.Shares, ", "), st.NSMState)
	if g := st.Grace; g.Active {
		fmt.Printf("grace    %s left, %d entries unreclaimed (%s); `tandem grace end` ends it now\n",
			time.Until(g.Ends).Round(time.Second), g.Unreclaimed, strings.Join(g.Clients, ", "))
	} else {
		fmt.Printf("grace    none\n")
	}
	printSessions(st)
	fmt.Printf("locks   ")
	for _, p := range []string{"nlm", "smb", "local"} {
		if c, ok := st.Locks[p]; ok || p != "local" {
			fmt.Printf(" %s: %d ranges, %d waiting, %d share reservations, %d leases/oplocks;", p, c.Ranges, c.Waiting, c.Shares, c.Caching)
		}
	}
	fmt.Println()
	return nil
}

// printSessions prints the clients of both protocols.
func printSessions(st server.Status) {
	fmt.Printf("nfs      %d hosts connected", len(st.NFS.Clients))
	for _, c := range st.NFS.Clients {
		fmt.Printf("; %s (%d conns)", c.Addr, c.Conns)
	}
	fmt.Printf("\nnlm      %d hosts monitored %s\n", len(st.NFS.LockHosts), strings.Join(st.NFS.LockHosts, ", "))
	fmt.Printf("smb      %d connections, %d sessions, %d open files, %d durable handles waiting\n",
		st.SMB.Connections, len(st.SMB.Sessions), st.SMB.OpenFiles, len(st.SMB.Durable))
	for _, si := range st.SMB.Sessions {
		fmt.Printf("  session %s\n", si)
	}
}

// grace serves `tandem grace end`.
func grace(args []string) error {
	fl := flag.NewFlagSet("grace", flag.ContinueOnError)
	data := fl.String("data", defaultData(), "data `directory` of the server to ask")
	fl.Usage = func() {
		fmt.Fprint(fl.Output(), `Usage: tandem grace end [--data D]

Ends the grace period of a server that restarted after a crash: the locks,
leases and durable handles its clients have not reclaimed yet are released
now, and new locks are no longer held back.

`)
		fl.PrintDefaults()
	}
	if len(args) == 0 || args[0] != "end" {
		fl.Usage()
		return errors.New("grace: the only subcommand is end")
	}
	if err := fl.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	var res server.GraceEnd
	if err := call(*data, "grace-end", &res); err != nil {
		return err
	}
	if !res.WasActive {
		fmt.Println("no grace period in progress")
		return nil
	}
	fmt.Printf("grace period ended: %d unreclaimed entries of %d owners released\n", res.ReleasedEntries, res.ReleasedOwners)
	return nil
}

// call asks the running server of data.
func call(data, method string, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.Call(ctx, data, method, nil, out); err != nil {
		if errors.Is(err, admin.ErrNoServer) {
			return fmt.Errorf("no server is running on %s", data)
		}
		return err
	}
	return nil
}
