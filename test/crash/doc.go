// Package crash holds Tandem's durability test (build tag e2e): a real
// `tandem serve` process is killed with SIGKILL while clients stream
// writes, restarted on the same data directory, and every byte the server
// had acknowledged as stable (a FILE_SYNC reply, or a COMMIT reply whose
// verifier matches the WRITE's) must read back, along with every file
// whose CREATE was answered.
//
//	go test -tags e2e ./test/crash/
package crash
