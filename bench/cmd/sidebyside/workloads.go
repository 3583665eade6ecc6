package main

// sizes are the workload sizes. The full ones are those the comparison is
// defined with; quick ones only check that the harness works end to end.
type sizes struct {
	SeqBytes   int64 // sequential write and read
	RandReads  int   // 4 KiB random reads
	RandWrites int   // 4 KiB random writes (fewer: go-nfs makes each FILE_SYNC)
	Files      int   // files created, then stat'ed and listed
	MetaRounds int   // rounds of mkdir + rename + rmdir
	LockPairs  int   // lock + unlock pairs when no NSM round trip is involved
	NLMPairs   int   // NLM pairs that may each make the server call statd
}

var fullSizes = sizes{
	SeqBytes:   512 << 20,
	RandReads:  5000,
	RandWrites: 2000,
	Files:      2000,
	MetaRounds: 500,
	LockPairs:  5000,
	NLMPairs:   1000,
}

var quickSizes = sizes{
	SeqBytes:   64 << 20,
	RandReads:  500,
	RandWrites: 200,
	Files:      500,
	MetaRounds: 100,
	LockPairs:  500,
	NLMPairs:   200,
}

// workload is one line of the comparison's catalogue. Value = ops * scale
// / seconds, in unit. CPU time is reported per cpuPer ops (a MiB for the
// sequential workloads, one operation otherwise).
type workload struct {
	ID     string
	Title  string
	Unit   string
	Scale  float64
	CPUPer float64
	CPUOp  string // what cpuPer ops are called in the table
	Bytes  bool   // a throughput, shown also as a fraction of the TCP ceiling
}

var workloads = []workload{
	{ID: "seqwrite", Title: "sequential write", Unit: "MB/s", Scale: 1e-6, CPUPer: 1 << 20, CPUOp: "MiB", Bytes: true},
	{ID: "seqwrite+flush", Title: "sequential write, then FLUSH", Unit: "MB/s", Scale: 1e-6, CPUPer: 1 << 20, CPUOp: "MiB", Bytes: true},
	{ID: "seqread", Title: "sequential read", Unit: "MB/s", Scale: 1e-6, CPUPer: 1 << 20, CPUOp: "MiB", Bytes: true},
	{ID: "randread", Title: "random read, 4 KiB", Unit: "IOPS", Scale: 1, CPUPer: 1, CPUOp: "I/O"},
	{ID: "randwrite", Title: "random write, 4 KiB", Unit: "IOPS", Scale: 1, CPUPer: 1, CPUOp: "I/O"},
	{ID: "create", Title: "create + 4 KiB write + close, one directory", Unit: "files/s", Scale: 1, CPUPer: 1, CPUOp: "file"},
	{ID: "stat", Title: "stat each file", Unit: "stats/s", Scale: 1, CPUPer: 1, CPUOp: "stat"},
	{ID: "list", Title: "list the directory", Unit: "entries/s", Scale: 1, CPUPer: 1, CPUOp: "entry"},
	{ID: "meta", Title: "mkdir, rename, rmdir", Unit: "ops/s", Scale: 1, CPUPer: 1, CPUOp: "op"},
	{ID: "lock", Title: "lock + unlock", Unit: "pairs/s", Scale: 1, CPUPer: 1, CPUOp: "pair"},
	{ID: "lock-anchored", Title: "lock + unlock, another lock held", Unit: "pairs/s", Scale: 1, CPUPer: 1, CPUOp: "pair"},
}

func workloadByID(id string) (workload, bool) {
	for _, w := range workloads {
		if w.ID == id {
			return w, true
		}
	}
	return workload{}, false
}

// peerFor is the server Tandem is compared with through a client of the
// protocol.
var peerFor = map[string]string{"nfs": "ganesha", "smb": "samba"}

// durability says, per client and workload, what the client asked the
// server to make stable before the clock stopped. Both servers of a row got
// the same requests, so a row compares them at the same durability.
var durability = map[string]map[string]string{
	"libnfs": {
		"seqwrite":      "UNSTABLE WRITEs, then COMMIT (timed): committed",
		"seqread":       "server page cache (read right after the write)",
		"randread":      "server page cache",
		"randwrite":     "UNSTABLE WRITEs, then one COMMIT (timed): committed",
		"create":        "CREATE + UNSTABLE WRITE, COMMIT at close: committed",
		"stat":          "-",
		"list":          "-",
		"meta":          "each reply is after the change (NFSv3 namespace ops are synchronous)",
		"lock":          "-",
		"lock-anchored": "-",
	},
	"go-nfs": {
		"seqwrite":      "FILE_SYNC WRITEs, then COMMIT: committed",
		"seqread":       "server page cache",
		"randread":      "server page cache",
		"randwrite":     "FILE_SYNC WRITE each: committed",
		"create":        "CREATE + FILE_SYNC WRITE + COMMIT: committed",
		"stat":          "-",
		"list":          "-",
		"meta":          "each reply is after the change (NFSv3 namespace ops are synchronous)",
		"lock":          "-",
		"lock-anchored": "-",
	},
	"smbclient": {
		"seqwrite": "WRITEs, no FLUSH: not flushed",
		"seqread":  "server page cache",
		"create":   "CREATE + WRITE + CLOSE, no FLUSH: not flushed",
		"list":     "-",
		"meta":     "-",
	},
	"go-smb2": {
		"seqwrite":       "WRITEs, no FLUSH: not flushed",
		"seqwrite+flush": "WRITEs, then FLUSH (timed): flushed",
		"seqread":        "server page cache",
		"randread":       "server page cache",
		"randwrite":      "WRITEs, then one FLUSH (timed): flushed",
		"create":         "CREATE + WRITE + CLOSE, no FLUSH: not flushed",
		"stat":           "-",
		"list":           "-",
		"meta":           "-",
		"lock":           "-",
	},
}

// clientProto is the protocol each client speaks, in table order.
var clients = []struct{ Name, Proto, About string }{
	{"libnfs", "nfs", "bench/libnfsclient (C, libnfs 4.0 sync API; NLM through libnfs's raw RPC calls)"},
	{"go-nfs", "nfs", "github.com/willscott/go-nfs-client, one call in flight; NLM4 hand-built on test/testserver's RPC client"},
	{"smbclient", "smb", "Samba's smbclient CLI (libsmb, pipelines reads and writes)"},
	{"go-smb2", "smb", "github.com/hirochachacha/go-smb2 v1.1.0, one request in flight; SMB2 LOCK from a minimal client of our own"},
}
