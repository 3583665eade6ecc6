// Package e2e holds the end-to-end tier: real kernel clients nobody here
// wrote (the Linux NFS and CIFS clients, in a VM booted by package
// test/vm) against real server processes started in the VM's network
// namespace.
//
// The tests build only with the e2e tag, so that `go test ./...` stays fast:
//
//	test/install-deps.sh                 # once per machine, as root
//	go test -tags e2e ./test/e2e/...
//
// One VM boots per test binary (TestMain) and every test shares it, each
// with its own mount point.  A test that cannot get what it needs (the VM,
// a server, a mount) fails with the reason; nothing is skipped.
package e2e
