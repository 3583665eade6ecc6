// Package smbtools checks Tandem's SMB server with Samba's own
// command-line clients (Debian package smbclient): smbcacls, which reads
// and sets security descriptors, and smbclient, which copies files. Its
// tests carry the build tag e2e and run a real `tandem serve`.
//
// smbcacls 4.17 always connects to port 445 (or 139): it has no port
// option, and it does not read "smb ports". So each test starts the
// server in a network namespace of its own (unshare, as root), where it
// listens on 127.0.0.1:445 without meeting any other SMB server, and runs
// the clients in that namespace (nsenter). A test that cannot do so (not
// root, a tool missing) fails; it does not skip.
package smbtools
