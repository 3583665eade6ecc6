package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/tandemfs/tandem/internal/admin"
	"github.com/tandemfs/tandem/internal/server"
)

// locks prints every lock, waiting request and share reservation of the
// running server, after how each share's locks bind the other protocol
// (its locking: unified or unix). With --json it prints the entries alone,
// each with its share and that share's locking.
func locks(args []string) error {
	fl := flag.NewFlagSet("locks", flag.ContinueOnError)
	data := fl.String("data", defaultData(), "data `directory` of the server to ask")
	asJSON := fl.Bool("json", false, "print the entries as a JSON array")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var es []server.LockEntry
	if err := admin.Call(ctx, *data, "locks", nil, &es); err != nil {
		if errors.Is(err, admin.ErrNoServer) {
			return fmt.Errorf("no server is running on %s", *data)
		}
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if es == nil {
			es = []server.LockEntry{}
		}
		return enc.Encode(es)
	}
	var shares []server.ShareLocking
	if err := admin.Call(ctx, *data, "locking", nil, &shares); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "SHARE\tLOCKING")
	for _, sh := range shares {
		fmt.Fprintf(tw, "%s\t%s\n", sh.Share, sh.Locking)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "FILE\tKIND\tMODE\tRANGE\tPROTO\tOWNER\tCLIENT\tAGE\tSTATE")
	for _, e := range es {
		rng := "-"
		if e.Kind == "range" {
			rng = rangeText(e)
		}
		state := "held"
		switch {
		case e.Waiting:
			state = "waiting"
		case e.Unreclaimed:
			state = "unreclaimed"
		}
		if e.Durable {
			state += ",durable"
		}
		if e.Disconnected {
			state += ",disconnected"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			e.File, e.Kind, e.Mode, rng, e.Proto, e.Owner, e.Client, e.Age.Round(time.Second), state)
	}
	return tw.Flush()
}

// rangeText is "offset+length", or "offset-EOF" for a POSIX lock to the
// end of the file.
func rangeText(e server.LockEntry) string {
	off := strconv.FormatUint(e.Offset, 10)
	if e.Length == 0 && e.Proto != "smb" {
		return off + "-EOF"
	}
	return off + "+" + strconv.FormatUint(e.Length, 10)
}
