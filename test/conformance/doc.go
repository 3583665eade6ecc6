// Package conformance holds the fast acceptance tests of Tandem's NFSv3
// front end: an in-process server on a temporary data directory, driven
// over a real TCP socket by a client nobody here wrote
// (github.com/willscott/go-nfs-client, whose reflection-based XDR codec
// shares no code with the server's).
//
// Every one of the 22 NFSv3 procedures (RFC 1813) and the MOUNT procedures
// is called, and the outcome is asserted exactly: the nfsstat3 of each
// error case, the weak cache consistency data a WRITE returns, the
// idempotence of an EXCLUSIVE create, READDIR paging by cookie over a large
// directory, and the write verifier across a restart.
//
// The argument and result types in wire_test.go are transcriptions of the
// XDR in RFC 1813 into the struct-tag form the client's codec expects; the
// library's own helpers cover only a few procedures and turn status codes
// into Go errors, so the tests build every call themselves and read the
// status directly.
package conformance
