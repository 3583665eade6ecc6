// Command tandem is the Tandem file server and its administration tool:
// one binary that serves one namespace over NFSv3 (and SMB) and manages it.
package main

import (
	"fmt"
	"os"

	"github.com/tandemfs/tandem/internal/admin"
	"github.com/tandemfs/tandem/internal/server"
)

const usage = `tandem — one namespace over NFSv3 and SMB, with one lock manager.

Usage:
  tandem serve [flags]       run the server (tandem serve --help for flags)
  tandem status [--data D] [--json]   show the running server of a data directory
  tandem user add|passwd|del|list ...   manage SMB users (tandem user --help)
  tandem share add|set|del|show|list ...   manage shares online (tandem share --help)
  tandem locks [--data D] [--json]   list every lock, waiting request and share reservation
  tandem locks break CLIENT  free what a stuck client holds
  tandem sessions [list|close] ...   SMB sessions and NFS clients; cut one off
  tandem grace end [--data D]   end the grace period after a restart now
  tandem version             print the version

With no flags, "tandem serve" keeps everything in ./tandem-data, exports one
share named "export" (NFS path /export), serves NFSv3, MOUNT, NLM and NSM on
TCP/UDP 12049, SMB2/3 on TCP 12445, and the portmapper on 111 (if it can bind
it).

Mount from Linux:
  mount -t nfs -o vers=3,proto=tcp,port=12049,mountport=12049,mountproto=tcp HOST:/export /mnt
Mount from macOS:
  mount -t nfs -o vers=3,tcp,port=12049,mountport=12049 HOST:/export /Volumes/tandem
Over SMB (after "tandem user add NAME --password-stdin"):
  mount -t cifs //HOST/export /mnt -o port=12445,username=NAME
  smbclient //HOST/export -p 12445 -U NAME
`

var version = "dev"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(os.Args[2:])
	case "status":
		err = status(os.Args[2:])
	case "user":
		err = user(os.Args[2:])
	case "share":
		err = share(os.Args[2:])
	case "locks":
		if len(os.Args) > 2 && os.Args[2] == "break" {
			err = locksBreak(os.Args[3:])
		} else {
			err = locks(os.Args[2:])
		}
	case "sessions":
		err = sessions(os.Args[2:])
	case "grace":
		err = grace(os.Args[2:])
	case "version", "--version", "-v":
		fmt.Println("tandem", version)
	case "help", "--help", "-h":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "tandem: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tandem:", err)
		os.Exit(1)
	}
}

// packagedData is where the Debian package's server keeps its data.
const packagedData = "/var/lib/tandem"

// defaultData is the data directory the administration commands use
// without --data: $TANDEM_DATA if set; else ./tandem-data, where `tandem
// serve` keeps it by default; else, when that does not exist, that of the
// packaged server, if it runs.
func defaultData() string {
	if d := os.Getenv("TANDEM_DATA"); d != "" {
		return d
	}
	d := server.Defaults().Data
	if _, err := os.Stat(d); err != nil {
		if _, err := os.Stat(admin.SocketPath(packagedData)); err == nil {
			return packagedData
		}
	}
	return d
}
