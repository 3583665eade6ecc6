// Package smbclient is a small SMB2/3 client for tests: it sends the
// requests a test names, field by field, and returns every response's
// NT status unchanged, so that the test asserts exactly what the server
// answered. It is written from MS-SMB2 independently of Tandem's server
// (internal/smb), so that the two do not share mistakes, and it is no
// file system client: no path handling, no retries, no caching.
//
// # The little of MS-SMB2 it speaks
//
// A Conn is one TCP connection ("direct TCP": each frame is a zero byte,
// a 24-bit length and one SMB2 message). Every message starts with a
// 64-byte header naming the command, a MessageId, the session and the
// tree; the response carries the same MessageId and the NT status. The
// server grants credits, the MessageIds a client may use; Conn tracks
// them, so calls may run concurrently from several goroutines. A request
// the server cannot finish at once (a LOCK that waits, a CREATE waiting
// for a break acknowledgment) first gets an interim STATUS_PENDING
// response; the call returns the final one.
//
//   - Dial connects and sends NEGOTIATE with the dialects of Options
//     (2.0.2, 2.1, 3.0, 3.0.2, 3.1.1; 3.1.1 alone by default) and the
//     ClientGuid of Options: a test that reconnects "as the same client"
//     dials again with the same ClientGuid.
//   - Conn.SessionSetup logs a user on with NTLMv2 inside SPNEGO (package
//     test/ntlm), two SESSION_SETUP round trips. The session key signs
//     messages: HMAC-SHA256 for 2.x, AES-CMAC for 3.x, under a key derived
//     from the session key (3.1.1 mixes in the SHA-512 "preauth integrity"
//     hash of the NEGOTIATE and SESSION_SETUP messages). Requests are
//     signed when Options.Sign asks or the server requires it, and a
//     3.1.1 TREE_CONNECT always (MS-SMB2 3.2.4.1.1; Samba refuses it
//     unsigned); a signed response of the session is always checked.
//     Tandem does not require signing by default, so every dialect works
//     unsigned against it. No encryption.
//   - Conn.TreeConnect connects a share and returns a Tree, through which
//     the file operations go; Conn.Logoff ends the session; Conn.Close
//     drops the TCP connection without a word, which to the server is a
//     network failure.
//   - Tree.Create is CREATE with every field a test may want (access,
//     share access, disposition, options, oplock level) and the create
//     contexts of leases and durable handles: a lease request (RqLs,
//     version 1 or 2 with parent key and epoch), a durable handle request
//     (DHnQ, or DH2Q with CreateGuid, timeout and flags), a durable
//     reconnect (DHnC with the FileId, or DH2C with FileId, CreateGuid
//     and flags), and the replay flag of the header. The response gives
//     the FileId, the oplock level, the lease (key, state, flags, epoch)
//     and whether a durable handle was granted (with its timeout), or
//     the symbolic link a CREATE stopped on (STATUS_STOPPED_ON_SYMLINK).
//   - Tree.Write, Read, Flush, Lock (elements of offset, length and
//     flags, with an optional lock sequence), ChangeNotify (the changes
//     of its final response) and Close.
//   - Tree.Ioctl sends an FSCTL, such as FSCTL_GET_REPARSE_POINT and
//     FSCTL_SET_REPARSE_POINT with a symbolic link's reparse data.
//   - The server breaks oplocks and leases with unsolicited OPLOCK_BREAK
//     notifications (MessageId all ones), which Conn.Breaks delivers;
//     Tree.AckOplockBreak and Tree.AckLeaseBreak acknowledge them.
//
// Errors: a call returns a Go error only when it got no usable response
// (connection lost, timeout, a malformed or badly signed response); a
// refusal by the server is a Status with a nil error.
//
// A typical test:
//
//	c, tree, err := smbclient.Connect(addr, smbclient.Options{}, "alice", "pw", "export")
//	...
//	r, err := tree.Create("f", smbclient.CreateRequest{
//		DesiredAccess: smbclient.AccessReadWrite,
//		ShareAccess:   smbclient.ShareAll,
//		Disposition:   smbclient.DispositionOpenIf,
//	})
//	st, err := tree.Lock(r.FileID, smbclient.LockElement{Offset: 0, Length: 10,
//		Flags: smbclient.LockExclusive | smbclient.LockFailImmediately})
//	if st != smbclient.StatusLockNotGranted { ... }
package smbclient
