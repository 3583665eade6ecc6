// Package testserver runs Tandem for tests that need a real server process
// and talks to it with a deliberately small NFSv3 client.
//
// The process side builds cmd/tandem once (Build), starts `tandem serve` on
// a data directory with ephemeral ports (Start), and can stop it cleanly or
// kill it with SIGKILL, keeping its log for assertions (a crash test checks
// that a restart logged no error).
//
// The client side (Dial) speaks ONC RPC over TCP with record marking and
// several calls in flight per connection, and knows just the procedures
// that durability tests and benchmarks drive: MOUNT MNT, NFS NULL, GETATTR,
// LOOKUP, CREATE, REMOVE, READ, WRITE and COMMIT. It is written from RFC 5531 and
// RFC 1813 independently of the server's own codec, so that the two do not
// share mistakes, and it fails every call in flight as soon as the
// connection breaks: a test that kills the server learns at once which
// writes were never acknowledged. Full protocol coverage lives in
// test/conformance, which uses a third-party client.
package testserver
