// Package nlm is the Network Lock Manager (ONC RPC program 100021,
// versions 4, 3 and 1): the side protocol through which NFSv2 and NFSv3
// clients take the byte-range locks of fcntl(2) and lockf(3), which the
// stateless NFS protocol itself cannot express.
//
// # What the protocol says
//
// A lock belongs to a process on a client host: the request names the
// host (caller_name), the process (svid) and an opaque owner handle (oh),
// and the file by its NFS file handle. LOCK takes a shared or exclusive
// range, UNLOCK gives bytes back, TEST asks who is in the way (F_GETLK)
// and CANCEL withdraws a request still waiting. Version 4 carries 64-bit
// offsets and lengths; 1 and 3 carry 32-bit ones and a shorter status
// enum. A length of 0 means "to the end of the file".
//
// A blocking LOCK (F_SETLKW) that cannot be granted at once is answered
// BLOCKED, not held open: the server queues it and, when the lock is free,
// calls the client back with GRANTED on the client's own NLM service,
// found through the portmapper of the host the request came from. The
// client answers the callback (GRANTED if its process still waits), and
// meanwhile polls with the same LOCK every 30 seconds in case the callback
// was lost. A grant the client refuses or cannot be told of after retries
// is given back; if the client still wants it, its next poll finds it.
//
// Every request also has a one-way form (TEST_MSG, LOCK_MSG, ...) whose
// answer comes later in a call the server makes back to the client
// (TEST_RES, LOCK_RES, ...), for clients built on asynchronous RPC; such a
// client is granted with GRANTED_MSG and answers with GRANTED_RES.
// SHARE and UNSHARE are DOS share reservations (access plus deny modes)
// for PC clients; NM_LOCK is LOCK for a client without a status monitor,
// and FREE_ALL is what such a client sends when it starts.
//
// # Crashes: the status monitor
//
// Locks are state on the server about processes on the client. When a
// client host reboots its processes are gone, and their locks must go
// too: the client's status monitor (NSM, package nsm) sends SM_NOTIFY to
// the server with a new state number, and the server drops every lock of
// that host and grants the waiters behind them. The Handler keeps, for
// each caller name, the addresses its requests came from, so that such a
// notification (or a FREE_ALL) is believed only from where that host was
// actually seen. It tells the server's own monitor (the Monitor interface)
// once per host that the host holds locks, so that a restarted server can
// notify it; there is no monitor round trip per lock.
//
// # Where the locks live
//
// The Handler keeps no lock table: locks, waiters and share reservations
// are entries of the unified lock manager (package lock), so NLM locks and
// SMB locks see each other. Owners are lock.NLMOwner(caller_name, svid,
// oh); files are the lock keys of their NFS handles. The manager decides;
// the Handler turns its Status into nlm4_stats through one table
// (status.go) and its Notices into GRANTED callbacks. Notices a call
// causes may be for another protocol's waiters, so they go through
// Options.Notices, which the server routes.
package nlm
