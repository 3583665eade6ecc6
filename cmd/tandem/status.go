package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/tandemfs/tandem/internal/admin"
	"github.com/tandemfs/tandem/internal/server"
)

func status(args []string) error {
	fl := flag.NewFlagSet("status", flag.ContinueOnError)
	data := fl.String("data", server.Defaults().Data, "data `directory` of the server to ask")
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var st server.Status
	if err := admin.Call(ctx, *data, "status", nil, &st); err != nil {
		if errors.Is(err, admin.ErrNoServer) {
			return fmt.Errorf("no server is running on %s", *data)
		}
		return err
	}
	fmt.Printf("pid      %d\nup       %s\ndata     %s\nnfs      %s\nshares   %s\n",
		st.PID, time.Since(st.Started).Round(time.Second), st.Data, st.NFSAddr, strings.Join(st.Shares, ", "))
	return nil
}
