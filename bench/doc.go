// Package bench measures Tandem through its real protocols.
//
// Its Go benchmarks drive a `tandem serve` process on the embedded default
// stores (Pebble metadata, file contents on the local disk) over loopback
// TCP with a pipelining NFSv3 client and, when libnfs-utils is installed,
// with nfs-cp. They do nothing under plain `go test`; run them with
//
//	go test -run '^$' -bench . -benchtime 3x ./bench/
//
// The side-by-side comparison with Samba and NFS-Ganesha is a command,
// bench/run.sh, which drives bench/cmd/sidebyside. README.md describes
// every workload and holds the latest results.
package bench
