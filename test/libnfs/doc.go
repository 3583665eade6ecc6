// Package libnfs holds end-to-end tests (build tag e2e) in which libnfs's
// command-line tools (Debian package libnfs-utils: nfs-cp, nfs-cat,
// nfs-ls), an NFSv3 client nobody here wrote, copy files into and out of
// a real `tandem serve` process.
//
//	apt-get install -y libnfs-utils
//	go test -tags e2e ./test/libnfs/
//
// A missing tool fails the tests (with this install hint); it never skips
// them.
package libnfs
