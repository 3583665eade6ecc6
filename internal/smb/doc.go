// Package smb is Tandem's SMB2/3 server (dialects 2.0.2, 2.1, 3.0, 3.0.2
// and 3.1.1) over the protocol-neutral file system.
//
// # The protocol in brief
//
// A client opens a TCP connection (direct TCP: each frame is a zero byte,
// a 24-bit length and the payload) and sends NEGOTIATE to agree on a
// dialect. SESSION_SETUP then authenticates a user, here with NTLMv2 inside
// SPNEGO against the users of package identity, in two round trips; the
// session it creates has a key from which signing and encryption keys are
// derived. TREE_CONNECT attaches the session to a share (or to IPC$, the
// share of named pipes used for remote procedure calls such as listing the
// shares). File operations then name the session and tree in every
// request header.
//
// Every message starts with a 64-byte header (header.go). Several
// requests may travel in one frame as a compound, chained by NextCommand
// at 8-byte aligned offsets; a "related" request inherits the session,
// tree and file of the one before it, so that CREATE, QUERY_INFO and CLOSE
// of a file can go in one round trip. Responses come back compounded the
// same way.
//
// Flow control is by credits (credits.go): each request consumes message
// ids the server granted, one per 64 KiB for large reads and writes
// (CreditCharge), and each response grants more. A request outside the
// granted window ends the connection.
//
// A request that cannot finish at once (a blocking byte-range lock, a
// directory change notification) goes asynchronous: the server answers
// with an interim STATUS_PENDING carrying an AsyncId, and the final
// response follows later. CANCEL names such a request by AsyncId (or by
// MessageId before the interim response) and has no response of its own.
//
// Integrity: 2.x signs with HMAC-SHA256 under the session key; 3.0 and
// 3.0.2 with AES-CMAC and 3.1.1 with AES-CMAC or AES-GMAC, under keys
// derived with SP 800-108 (crypto.go). In 3.1.1 the key derivation also
// takes a SHA-512 hash of every NEGOTIATE and SESSION_SETUP message
// exchanged ("preauth integrity"), so a tampered negotiation yields
// different keys and fails; 3.0 clients instead validate the negotiation
// afterwards with FSCTL_VALIDATE_NEGOTIATE_INFO. Encryption (3.x) wraps a
// whole frame in a transform header and seals it with AES-CCM or AES-GCM;
// it is required per share (ShareOptions.Encrypt) or for the whole server
// (Options.Encrypt), and honoured whenever a client sends encrypted.
//
// # Layout
//
// One file per layer: header.go (headers), conn.go (frames, compounds,
// admission, response assembly), credits.go, negotiate.go, spnego.go and
// ntlm.go (authentication), auth.go (one authentication exchange),
// session.go (SESSION_SETUP, LOGOFF), channel.go (multichannel binding),
// crypto.go, cmac.go and ccm.go (keys, signing, ciphers), tree.go
// (TREE_CONNECT, TREE_DISCONNECT, ECHO), async.go (pending requests and
// CANCEL), pipe.go and srvsvc.go (IPC$ named pipes and the share
// enumeration RPC), status.go (NT status codes and the one table mapping
// the fs error vocabulary to them). The file operations: fileops.go and
// open.go (the state of opens), path.go and wildcard.go (names), access.go,
// create.go and createctx.go (CREATE and its contexts), close.go (CLOSE,
// FLUSH), readwrite.go, querydir.go, fileinfo.go, queryinfo.go and
// setinfo.go (attributes), security.go (security descriptors), ioctl.go,
// lock.go, notify.go and notifychanges.go (CHANGE_NOTIFY, fed by the
// file system's change events), lease.go (oplocks and leases), and the
// durable handles: durable.go, durablereconnect.go, durablerecord.go,
// durablerestore.go and appinstance.go. Beside them: streams.go and
// streamops.go (named streams), sparse.go (sparse files), shortname.go
// (8.3 names), channelseq.go (ChannelSequence) and order.go (a CLOSE
// behind the requests before it).
//
// # File operations
//
// An open (a FileId) belongs to its tree; every open of one file shares
// the file's state, where a pending delete is kept, and its share
// reservation lives in the unified lock manager, the table NFS consults
// too: a CREATE whose access or share access conflicts with another open
// is STATUS_SHARING_VIOLATION. A file marked for deletion (delete on
// close, or FileDispositionInformation) goes with its last close. A file
// whose name another protocol removes while it is open (NFS REMOVE,
// allowed by FILE_SHARE_DELETE) loses the name at once, as POSIX has it,
// and stays for its opens until the last one closes (fs.Hold).
//
// Names are found without regard to case and created as spelled
// (fs.LookupFold); names Windows could not have are refused, named
// streams are kept as extended attributes (streams.go), and symbolic
// links are reparse points the client resolves, as on Windows: a CREATE
// that meets one stops with STATUS_STOPPED_ON_SYMLINK and the target, and
// FSCTL_SET_REPARSE_POINT makes one that NFS sees (symlink.go). Who may
// open what is said under "Access control" below. Extended attributes are
// kept with the file (ea.go).
// What Windows keeps as DOS attributes is kept beside the POSIX
// attributes, except READONLY, which is the owner's write bit, so both
// protocols see one truth (fileinfo.go).
//
// Byte-range locks are mandatory for SMB I/O; a LOCK that may wait goes
// asynchronous until the lock manager grants it, and the grants other
// protocols cause reach it through Options.Notices and Server.Deliver.
// Oplocks and leases are caching grants of the lock manager (lease.go): a
// conflicting CREATE goes asynchronous until the breaks it causes are
// acknowledged or time out. CHANGE_NOTIFY reports the changes the file
// system reports (fs.Watch), whichever protocol made them.
//
// An open that asks for durability (DHnQ, DH2Q) and caches handles (a
// batch oplock, a lease with H) is durable (durable.go): when its session
// ends without closing it (connection lost, LOGOFF, a reconnect naming
// the session as the previous one) it stays, disconnected, with its share
// reservation, caching grant and byte-range locks in the lock manager,
// until the client reconnects to it (DHnC, DH2C: durablereconnect.go) or
// its timeout passes; a break it cannot acknowledge closes it instead. A
// DH2Q CREATE replayed with SMB2_FLAGS_REPLAY_OPERATION gets the open it
// made. Options.Durable keeps a record of every durable open
// (durablerecord.go) so that RestoreDurable rebuilds them after a restart
// (durablerestore.go); Server.DurableOpens lists them.
//
// # Access control
//
// A file has a security descriptor of its own once a client sets one (at
// CREATE, with SET_INFO, or by inheritance from its directory), kept in
// the extended attribute system.ntsd (sdstore.go, sdinherit.go); a file
// without one shows one made from its owner, group and mode
// (security.go). The two kinds are judged differently:
//
//   - A file with a stored DACL is judged by that DACL alone, by MS-DTYP's
//     AccessCheck (sdaccess.go), for every SMB open, a stat (an open for
//     READ_ATTRIBUTES or SYNCHRONIZE only) included, and for MAXIMUM_ALLOWED
//     and the MxAc context alike; the directory adds DELETE through
//     DELETE_CHILD and READ_ATTRIBUTES through LIST_DIRECTORY (MS-FSA
//     2.1.5.1.2.1). A new entry in a directory with a stored DACL needs
//     ADD_FILE or ADD_SUBDIRECTORY from it, whether CREATE makes it (a
//     named stream's file included), a rename moves it there or a hard
//     link names it there; and a path is walked through such a directory
//     whatever its mode (Windows users bypass traverse checking).
//   - A file without one is judged by its POSIX permissions expressed as
//     an access mask (access.go), DELETE coming from the directory as
//     unlink(2) has it; anyone who reaches it may read its attributes and
//     descriptor.
//
// The creator of a file gets the access it asked for. What an open was
// granted is all its handle may do: QUERY_INFO, SET_INFO, READ, WRITE and
// the rest check the open's access, not the file's permissions again.
// Where a DACL decided (the open's access, an entry added to a
// directory), the calls to package fs that carry it out are marked
// fs.Caller.Judged, so that the file system's own check of the mode,
// which cannot express a DACL, does not refuse what the DACL granted; the
// mark rides on the open's copy of its caller (open.caller) and on no
// other call. Renames and hard links are not marked: the directories'
// mode bits still apply to them, besides the target directory's DACL.
//
// NFS sees and checks the mode a DACL leaves (security.go lists the
// mapping: each class gets what the DACL grants that class, Everyone
// reaching all three). A chmod or chown over NFS rewrites the
// descriptor: the stored one remembers the uid, gid and mode it was
// stored with and no longer applies once they change, so the file shows,
// and SMB checks it by, the descriptor made from its new mode, as Samba's
// acl_xattr does when the POSIX permissions change underneath.
//
// # Adding a command handler
//
// Commands are added in files of their own, without changing the
// framework. Until a command has a handler it is
// answered STATUS_NOT_SUPPORTED. A file
// registers its handlers in an init function:
//
//	func init() { register(CmdRead, serveRead) }
//
//	func serveRead(w *Response, r *Request) { ... }
//
// When a handler runs, the framework has already:
//
//   - checked the frame and the credits, decrypted it if it came encrypted
//     and verified its signature;
//   - found r.Session (a valid, authenticated session) and r.Tree (a
//     connected tree of that session): every file command needs both, and
//     a missing one was answered STATUS_USER_SESSION_DELETED or
//     STATUS_NETWORK_NAME_DELETED; the file system identity is
//     r.Caller(), the share's root r.Tree.Root();
//   - resolved related compounds: r.Header carries the inherited SessionId
//     and TreeId;
//   - routed requests on an IPC$ tree to the named pipes (pipe.go): file
//     handlers only ever see disk shares; and answered
//     FSCTL_VALIDATE_NEGOTIATE_INFO, so an IOCTL handler never sees it.
//
// The handler then:
//
//   - reads its body from r.Body (the bytes after the header; check
//     StructureSize and every length) and variable buffers with
//     r.Buffer(offset, length), whose offsets count from the start of the
//     header as the protocol's do;
//   - resolves each FileId it reads with r.FileID(id), which maps the
//     all-ones FileId of a related request to the file of the previous
//     request (and reports the error of a failed related CREATE); CREATE
//     reports the FileId it made the same way, by calling r.FileID(newID),
//     so that related requests after it find it;
//   - checks r.ChargeCovers(n) for commands moving n bytes (READ, WRITE,
//     IOCTL, QUERY_DIRECTORY, QUERY_INFO, SET_INFO) and answers
//     STATUS_INVALID_PARAMETER when the CreditCharge does not pay for
//     them; sizes are bounded by r.Conn.MaxRead(), MaxWrite() and
//     MaxTransact();
//   - writes its response body into w: w.Grow(n) returns n zeroed bytes to
//     fill, w.Write appends; offsets it writes count from the header
//     (the body starts at HeaderSize). A READ can read file data straight
//     into a Grow'd slice and Truncate what was not filled;
//   - fails with w.Error(status) (the standard error body follows), or
//     w.ErrorData(status, data) for errors that carry data (the symbolic
//     link error of CREATE); an fs error becomes a status with
//     StatusOf(err), the one mapping table. A warning that carries a body
//     (STATUS_BUFFER_OVERFLOW) sets w.Status and writes the body.
//
// Everything else, the response header, credits granted, compound
// padding, signing and encryption, is done by the framework.
//
// A handler that must wait (LOCK without FAIL_IMMEDIATELY, CHANGE_NOTIFY,
// an I/O waiting for an oplock break) calls p := r.GoAsync() and returns
// without touching w: the client gets the interim response at once. It
// copies what it needs of r.Body first (the frame buffer is not kept), and
// later calls p.Complete(func(w *Response) { ... }) from any goroutine to
// send the final response, built as a synchronous one would be.
// p.Context() is cancelled by CANCEL, by logoff of the session and when
// the connection closes; the handler then completes with
// STATUS_CANCELLED (a completion after the session ended is dropped).
//
// State kept with a connection, session or tree (open files, leases,
// durable handles) belongs in the connOps, sessionOps and treeOps types
// of fileops.go, which the file operations own; their release methods run
// when the object goes away (connection closed, logoff, tree
// disconnect), after its pending requests were cancelled.
//
// Handlers run concurrently: requests of one compound run in order on one
// goroutine, separate frames on separate goroutines (NEGOTIATE,
// SESSION_SETUP, CANCEL and CHANGE_NOTIFY excepted, which are served in
// arrival order: a handler that goes async must not block). A CLOSE
// waits for the frames read before it on the same open (order.go).
// A panic in a handler is logged and answered STATUS_INTERNAL_ERROR.
//
// # Choices worth knowing
//
//   - Only NTLMv2 is accepted: NTLMv1 and LM responses are refused as
//     STATUS_LOGON_FAILURE, as is a wrong password or (unless
//     Options.MapToGuest) an unknown user. An empty user with empty
//     responses is an anonymous (null) session; anonymous and guest
//     sessions have no key, so they cannot sign or encrypt, and they
//     reach IPC$ and shares whose ShareOptions allow guests only.
//   - Multichannel is offered to 3.x clients that ask for it: a SESSION_SETUP
//     with the binding flag, signed with the session's key, binds another
//     connection of the same dialect, signing algorithm and cipher to a
//     session after authenticating the same user again; the channel then
//     signs with a key of its own (channel.go). A session ends with its
//     last connection. A failed re-authentication ends the session; a
//     reconnecting client naming its PreviousSessionId has that session of
//     the same user logged off, its durable opens left for a reconnect.
//   - Capabilities: LEASING and LARGE_MTU (reads and writes up to 8 MiB)
//     from 2.1, ENCRYPTION for 3.0 and 3.0.2 clients that offer it. For
//     3.1.1 the server prefers AES-128-GCM, AES-128-CCM, AES-256-GCM,
//     AES-256-CCM and signs with AES-GMAC, AES-CMAC or HMAC-SHA256, the
//     first the client also offers.
//   - The final SESSION_SETUP response of 3.x is always signed with the new
//     session's key; interim (STATUS_PENDING) responses are signed like any
//     other when the session signs.
package smb
