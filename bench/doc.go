// Package bench measures Tandem through its real protocols: a `tandem
// serve` process on the embedded default stores (Pebble metadata, file
// contents on the local disk) driven over loopback TCP by a pipelining
// NFSv3 client, and, when libnfs-utils is installed, by nfs-cp.
//
// The benchmarks do nothing under plain `go test`; run them with
//
//	go test -run '^$' -bench . -benchtime 3x ./bench/
//
// README.md describes each workload and records measured numbers.
package bench
