package nsm

import "github.com/tandemfs/tandem/internal/rpc/xdr"

// The RPC program: NSM has one version.
const (
	Program = 100024
	Version = 1
)

// Procedure numbers.
const (
	ProcNull      = 0
	ProcStat      = 1
	ProcMon       = 2
	ProcUnmon     = 3
	ProcUnmonAll  = 4
	ProcSimuCrash = 5
	ProcNotify    = 6
)

// The res enum of sm_stat_res.
const (
	StatSucc = 0
	StatFail = 1
)

const (
	maxName  = 1024 // SM_MAXSTRLEN
	privSize = 16
)

// myID is my_id: whom to call when a monitored host reboots. The call goes
// to the address the SM_MON came from; MyName is kept only to match
// SM_UNMON.
type myID struct {
	name []byte
	prog uint32
	vers uint32
	proc uint32
}

func readMyID(r *xdr.Reader, id *myID) {
	id.name = r.Opaque(maxName)
	id.prog = r.Uint32()
	id.vers = r.Uint32()
	id.proc = r.Uint32()
}

// monArgs is mon: mon_id (the host to watch, and my_id) and the private
// cookie given back in the callback.
type monArgs struct {
	monName []byte
	id      myID
	priv    []byte
}

func readMonID(r *xdr.Reader, a *monArgs) {
	a.monName = r.Opaque(maxName)
	readMyID(r, &a.id)
}

func readMon(r *xdr.Reader, a *monArgs) {
	readMonID(r, a)
	a.priv = r.FixedOpaque(privSize)
}

// writeStatus writes the argument of the callback a monitor makes when a
// host reboots (the "status" structure; Linux's lockd calls it
// nlm_reboot): the host's name, its new state and the cookie.
func writeStatus(w *xdr.Writer, monName string, state int32, priv []byte) {
	w.String(monName)
	w.Int32(state)
	w.FixedOpaque(priv)
}
