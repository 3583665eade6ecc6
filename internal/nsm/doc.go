// Package nsm is the server's own Network Status Monitor (ONC RPC program
// 100024, version 1), the protocol through which NFS lock managers learn
// that a peer rebooted. Tandem runs no separate statd: this package is it.
//
// # State numbers and notifications
//
// Every host has a state number that goes up with each reboot (odd while
// up, by convention). When a host starts, its monitor sends SM_NOTIFY
// with the new number to every peer it holds locks with or that holds
// locks with it. For a server, that tells its clients to reclaim their
// locks; for a client, it tells the servers to drop the locks its dead
// processes held, and to grant the requests waiting behind them.
//
// The server keeps its state number in the metadata store and advances it
// by two at every start (New). It records which client hosts hold locks
// (Monitor, told by the lock manager once per host, not per lock) in the
// same store, and at start tells each of them of the restart (NotifyAll).
//
// An incoming SM_NOTIFY names the host that rebooted. A name is only a
// string in a datagram, so the notification is believed only from an
// address that host's lock requests came from, or that its name is (an
// address literal, or what the name resolves to); a forged notification
// from elsewhere changes nothing. What it releases is decided by the lock
// manager's front end (Options.Rebooted), which knows where each host was
// seen.
//
// # SM_MON
//
// Lock managers normally register peers with their own, local monitor
// (SM_MON, SM_UNMON, SM_UNMON_ALL) and are called back when a peer
// reboots. Clients rarely ask a server's monitor for this, but the
// procedures are served: a registration is persisted, and when the host
// it names reboots the registrant is called back, at the address the
// SM_MON came from and nowhere else, with the host's new state and the
// registrant's 16-byte cookie. Only the address that registered may
// unregister. SM_SIMU_CRASH (pretend the server restarted: new state,
// notifications) is honoured only from the loopback address.
package nsm
