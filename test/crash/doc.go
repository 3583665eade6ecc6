// Package crash holds Tandem's durability test (build tag e2e): a real
// `tandem serve` process is killed with SIGKILL while clients stream
// writes, restarted on the same data directory, and every byte the server
// had acknowledged as stable (a FILE_SYNC reply, or a COMMIT reply whose
// verifier matches the WRITE's) must read back, along with every file
// whose CREATE was answered. Each restart must open the stores without
// logging an error and must change the write verifier.
//
// SIGKILL loses what the process holds in its own memory, not what it has
// already handed to the kernel: this test catches acknowledged data that
// was buffered in user space or never written, not a missing fsync, which
// only a power cut (a VM whose disk is cut off) can show.
//
//	go test -tags e2e ./test/crash/
package crash
