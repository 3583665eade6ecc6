//go:build race

package storetest

// largeDirEntries is smaller under the race detector, which slows the
// record-by-record work of the large-directory check tenfold.
const largeDirEntries = 20_000
