//go:build !race

package storetest

const largeDirEntries = 100_000
