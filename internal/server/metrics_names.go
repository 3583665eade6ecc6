package server

// procNames names each program's procedures for the op label, by the
// names their specifications give (RFC 1813, the X/Open NLM, NSM and
// portmapper specifications).
var procNames = map[string][]string{
	"nfs": {"NULL", "GETATTR", "SETATTR", "LOOKUP", "ACCESS", "READLINK", "READ",
		"WRITE", "CREATE", "MKDIR", "SYMLINK", "MKNOD", "REMOVE", "RMDIR",
		"RENAME", "LINK", "READDIR", "READDIRPLUS", "FSSTAT", "FSINFO",
		"PATHCONF", "COMMIT"},
	"mount": {"NULL", "MNT", "DUMP", "UMNT", "UMNTALL", "EXPORT"},
	"nlm": {"NULL", "TEST", "LOCK", "CANCEL", "UNLOCK", "GRANTED", "TEST_MSG",
		"LOCK_MSG", "CANCEL_MSG", "UNLOCK_MSG", "GRANTED_MSG", "TEST_RES",
		"LOCK_RES", "CANCEL_RES", "UNLOCK_RES", "GRANTED_RES", "16", "17", "18", "19",
		"SHARE", "UNSHARE", "NM_LOCK", "FREE_ALL"},
	"nsm":     {"NULL", "STAT", "MON", "UNMON", "UNMON_ALL", "SIMU_CRASH", "NOTIFY"},
	"portmap": {"NULL", "SET", "UNSET", "GETPORT", "DUMP", "CALLIT", "GETTIME", "UADDR2TADDR", "TADDR2UADDR"},
}

var mountStatusNames = map[uint32]string{
	1: "MNT3ERR_PERM", 2: "MNT3ERR_NOENT", 5: "MNT3ERR_IO", 13: "MNT3ERR_ACCES",
	20: "MNT3ERR_NOTDIR", 22: "MNT3ERR_INVAL", 63: "MNT3ERR_NAMETOOLONG",
	10004: "MNT3ERR_NOTSUPP", 10006: "MNT3ERR_SERVERFAULT",
}

var nlmStatusNames = []string{
	"NLM4_GRANTED", "NLM4_DENIED", "NLM4_DENIED_NOLOCKS", "NLM4_BLOCKED",
	"NLM4_DENIED_GRACE_PERIOD", "NLM4_DEADLCK", "NLM4_ROFS", "NLM4_STALE_FH",
	"NLM4_FBIG", "NLM4_FAILED",
}
