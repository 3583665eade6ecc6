package smb

import "github.com/tandemfs/tandem/internal/fs"

// Allocation size. A client may give a file an allocation size, the space
// it means to fill (the AlSi context of a CREATE that makes or overwrites
// a file, FileAllocationInformation), and Windows reports it until the
// file is closed or grows past it. The stores reserve no space, so the
// size is only recorded, with the file's other SMB state: it is reported
// as the allocation size while the file is open, rounded up to whole
// clusters and never below the space the data uses, and forgotten with
// the file's last close. A directory has none, nor has a named stream.

// setAlloc records the allocation size n of the open's file.
func (o *open) setAlloc(n uint64) {
	if o.isDir || o.stream != "" {
		return
	}
	n = min(n, fs.MaxFileSize)
	n = (n + fsAllocUnit - 1) / fsAllocUnit * fsAllocUnit
	ops := &o.srv.ops
	ops.mu.Lock()
	o.file.alloc = n
	ops.mu.Unlock()
}

// withAlloc raises a's space used to the allocation size recorded for the
// open's file.
func (o *open) withAlloc(a *fs.Attr) {
	if a.Type == fs.TypeDir || o.stream != "" {
		return
	}
	ops := &o.srv.ops
	ops.mu.Lock()
	a.Used = max(a.Used, o.file.alloc)
	ops.mu.Unlock()
}
