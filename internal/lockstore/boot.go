package lockstore

import (
	"bytes"
	"os"
)

// Whether the redo log is whole after a restart depends on what crashed.
// A killed process loses nothing it wrote: the operating system keeps the
// file's pages. A crashed machine may lose any write that was not synced.
// The journal records the machine's boot id beside the redo log when it
// starts; Load finds the same id only when the machine did not restart in
// between, and then the store with the redo log is the exact state of the
// last run (Loaded.Exact) and the claims need not stand for anything.

// bootID identifies this boot of the machine; empty when unknown (not
// Linux), which counts as a restart of the machine.
var bootID = func() []byte {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return nil
	}
	return bytes.TrimSpace(b)
}

// bootPath is the file that records the boot of the run that writes redo.
func bootPath(redo string) string { return redo + ".boot" }

// writeBoot records this boot beside the redo log, synced: a machine
// crash must not leave a file that says another boot.
func writeBoot(redo string) error {
	id := bootID()
	f, err := os.OpenFile(bootPath(redo), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(id); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sameBoot reports whether the redo log was written in this boot.
func sameBoot(redo string) bool {
	id := bootID()
	if len(id) == 0 {
		return false
	}
	b, err := os.ReadFile(bootPath(redo))
	return err == nil && bytes.Equal(b, id)
}
