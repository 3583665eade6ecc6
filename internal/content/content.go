// Package content is the file content store interface: the bytes of regular
// files, addressed by file id and offset. Sizes are kept by the metadata
// store; content only holds data, and reads of holes or past what was
// written return zeros up to the length asked for by the caller, who bounds
// reads by the file's size.
//
// Backends: memory (tests) and localfs (one host file per Tandem file, the
// default).
package content

// Store holds file contents.
type Store interface {
	// ReadAt fills p from offset off; bytes never written read as zero. It
	// returns len(p) unless an I/O error occurs.
	ReadAt(id uint64, p []byte, off int64) (int, error)
	// WriteAt writes p at off, growing the file as needed.
	WriteAt(id uint64, p []byte, off int64) (int, error)
	// Truncate sets the stored length to size (dropping or zero-extending).
	Truncate(id uint64, size int64) error
	// Sync makes the file's written data durable.
	Sync(id uint64) error
	// Remove deletes the file's data; removing a missing file is not an error.
	Remove(id uint64) error
	// StatFS reports the capacity and free space behind the store, in bytes.
	StatFS() (total, free uint64, err error)
	Close() error
}
